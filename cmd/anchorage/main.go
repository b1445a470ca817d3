package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	fmt.Fprintln(stderr, errorMessage(err))
	return exitCode(err)
}

// version describes this build from the information the Go toolchain
// embeds: the module version (a tag for go install ...@version, "(devel)"
// for a build in a checkout) and the VCS revision when known.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (commit " + rev + modified + ")"
	}
	return v + " " + bi.GoVersion
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "anchorage",
		Short: "Inspect, check, copy, benchmark and demonstrate Anchorage graph stores",
		Long: `anchorage is the command-line tool of the Anchorage graph-anchor persistence engine.

Exit codes: 0 success; 1 a check failed (verify found problems, the demo
lost edges) or an operation failed (I/O error, store locked by another
process); 2 bad usage or bad input (unknown flag, missing file, a file that
is not a store, a store of a newer version, a malformed or unknown ID).

Read-only commands (verify, stats, get, edges, dot, export) open the store
read-only and never modify it.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// With no command: the help, on stderr, and exit status 2.
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help()
			return usageError("no command given")
		},
	}
	// pflag writes its deprecation notes where cobra does not show them.
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if f.Deprecated != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "anchorage: --%s is deprecated: %s\n", f.Name, f.Deprecated)
			}
		})
	}
	root.SetVersionTemplate("anchorage {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%s: %v (see %s --help)", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(
		newDemoCmd(),
		newBenchCmd(),
		newVerifyCmd(),
		newStatsCmd(),
		newGetCmd(),
		newEdgesCmd(),
		newLsCmd(),
		newFindCmd(),
		newDotCmd(),
		newExportCmd(),
		newImportCmd(),
		newSyncCmd(),
		newPurgeCmd(),
		newCompactCmd(),
	)
	return root
}
