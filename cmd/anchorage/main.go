package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/replica"
)

// Exit codes; see the package documentation.
const (
	exitOK     = 0
	exitFailed = 1 // a check failed, or an operational error (I/O, lock)
	exitUsage  = 2 // bad usage or bad input
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	// Ctrl-C stops a running demo or bench cleanly (temporary stores are
	// removed); a second one kills the process as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default: the next signal kills
	}()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, oneLine(errorMessage(err)))
	return exitCode(err)
}

// exitError carries the exit code a command chose for its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// checkFailed reports a failed check (verify found problems, the demo lost
// edges): exit code 1. The details were already printed.
func checkFailed(format string, args ...any) error {
	return &exitError{code: exitFailed, err: fmt.Errorf(format, args...)}
}

// usageError reports bad usage or bad input: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// badInput lists the errors that mean "the input is wrong", not "the
// operation failed": a missing or foreign file, a store of a newer version,
// a malformed or unknown ID.
var badInput = []error{
	fs.ErrNotExist, anchor.ErrNotStore, anchor.ErrVersion, anchor.ErrInvalidID,
	anchor.ErrNotFound, anchor.ErrDeleted, anchor.ErrCorrupt, errNoBackend,
	replica.ErrNotExport,
}

// exitCode maps an error returned by Execute to an exit code. Errors cobra
// returns itself (unknown command or flag, wrong number of arguments) are
// usage errors.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	for _, s := range badInput {
		if errors.Is(err, s) {
			return exitUsage
		}
	}
	var re *runError
	if errors.As(err, &re) {
		return exitFailed
	}
	return exitUsage
}

// runError marks an operational failure (exit code 1) that is not bad input.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// fail wraps an error a command hit while running: bad input keeps exit
// code 2, anything else (I/O, a locked store) gets 1.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	for _, s := range badInput {
		if errors.Is(err, s) {
			return &exitError{code: exitUsage, err: err}
		}
	}
	return &runError{err: err}
}

func errorMessage(err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, "anchorage: ") {
		msg = "anchorage: " + msg
	}
	return msg
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "anchorage",
		Short: "Inspect, check, benchmark and demonstrate Anchorage graph stores",
		Long: `anchorage is the command-line tool of the Anchorage graph-anchor persistence engine.

Exit codes: 0 success; 1 a check failed (verify found problems, the demo
lost edges) or an operation failed (I/O error, store locked by another
process); 2 bad usage or bad input (unknown flag, missing file, a file that
is not a store, a store of a newer version, a malformed or unknown ID).

Read-only commands (verify, stats, get, edges, dot) open the store
read-only and never modify it.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%s: %v (see %s --help)", c.Name(), err, c.CommandPath())
	})
	root.AddCommand(
		newDemoCmd(),
		newBenchCmd(),
		newVerifyCmd(),
		newStatsCmd(),
		newGetCmd(),
		newEdgesCmd(),
		newDotCmd(),
		newExportCmd(),
		newImportCmd(),
		newSyncCmd(),
	)
	return root
}
