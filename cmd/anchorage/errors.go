package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

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
	replica.ErrNotExport, anchor.ErrNoIndex, anchor.ErrInvalid,
}

// exitCode maps an error returned by Execute to an exit code. Errors cobra
// returns itself (unknown command or flag) are usage errors.
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

const prefix = "anchorage: "

// errorMessage is what the command prints for err: one line starting with
// "anchorage: " (the prefix each wrapped layer added is dropped, so it
// appears once), then cobra's "Did you mean this?" suggestions, if any,
// one per line.
func errorMessage(err error) string {
	msg, suggest, _ := strings.Cut(err.Error(), "\n\nDid you mean this?\n")
	msg = prefix + articles(strings.ReplaceAll(oneLine(msg), prefix, ""))
	if s := strings.Fields(suggest); len(s) > 0 {
		msg += "\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return msg
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// articleFix corrects the article before the kinds that start with a
// vowel, in messages that say "a %s" with a kind (from the library).
var articleFix = strings.NewReplacer(" a edge", " an edge", " a object", " an object")

// articles returns s with "a edge" and "a object" corrected.
func articles(s string) string { return articleFix.Replace(s) }

// plural returns "1 edge", "2 edges": n and the noun, plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if strings.HasSuffix(noun, "y") && !strings.HasSuffix(noun, "ey") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// exactArgs accepts exactly the named positional arguments and otherwise
// says which command wanted what, with its usage line.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		what := "no arguments"
		if len(names) > 0 {
			what = plural(len(names), "argument") + " (" + strings.Join(names, " ") + ")"
		}
		return usageError("%s takes %s, got %d; usage: %s (see %s --help)",
			cmd.CommandPath(), what, len(args), cmd.UseLine(), cmd.CommandPath())
	}
}
