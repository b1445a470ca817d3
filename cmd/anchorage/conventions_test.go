package main

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// commands returns every command of the tool (not cobra's help and
// completion).
func commands() []*cobra.Command {
	root := newRootCmd(io.Discard, io.Discard)
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			out = append(out, c)
		}
	}
	return out
}

// TestFlagConventions walks every command's flags and checks the
// conventions written at the top of flags.go.
func TestFlagConventions(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	backendFlags := map[string]bool{"backend": true, "from-backend": true, "to-backend": true, "backends": true}
	cmds := commands()
	require.Len(t, cmds, 14, "a new command: check it follows the conventions, then count it here")
	for _, c := range cmds {
		t.Run(c.Name(), func(t *testing.T) {
			f := c.Flags()
			f.VisitAll(func(fl *pflag.Flag) {
				if fl.Deprecated != "" {
					require.True(t, fl.Hidden, "--%s: a deprecated name is hidden", fl.Name)
					return
				}
				require.Regexp(t, name, fl.Name, "flag names are lower-case words joined by -")
				if strings.HasPrefix(fl.Name, "no") && !strings.HasPrefix(fl.Name, "no-") {
					t.Errorf("--%s: a negation is spelt no-...", fl.Name)
				}
				if fl.Value.Type() == "bool" {
					require.Equal(t, "false", fl.DefValue, "--%s: a bool flag defaults to false", fl.Name)
				}
				if backendFlags[fl.Name] || fl.Name == "modes" {
					_, ok := c.GetFlagCompletionFunc(fl.Name)
					require.True(t, ok, "--%s completes its values", fl.Name)
				}
				if backendFlags[fl.Name] && fl.Name != "backends" {
					require.Equal(t, autoBackend, fl.DefValue, "--%s defaults to auto", fl.Name)
				}
				if strings.Contains(fl.Usage, "comma-separated") || fl.Value.Type() == "string" && strings.Contains(fl.DefValue, ",") {
					require.True(t, strings.HasSuffix(fl.Value.Type(), "Slice"), "--%s is a list: a pflag slice flag, got %s", fl.Name, fl.Value.Type())
				}
			})
			q := f.Lookup("quiet")
			require.NotNil(t, q, "every command has --quiet")
			require.Equal(t, "q", q.Shorthand)
			if c.Name() != "dot" {
				require.NotNil(t, f.Lookup("json"), "every command printing a result has --json")
			}
			if db := f.Lookup("db"); db != nil {
				for _, need := range []string{"backend", "schema", "timeout"} {
					require.NotNil(t, f.Lookup(need), "a command with --db has --%s", need)
				}
			}
			if f.Lookup("from") != nil {
				for _, need := range []string{"to", "from-backend", "to-backend", "schema", "timeout"} {
					require.NotNil(t, f.Lookup(need), "sync has --%s", need)
				}
			}
			// What is read is positional; what is written is a flag.
			switch c.Name() {
			case "get", "edges", "dot":
				require.True(t, strings.HasPrefix(c.Use, c.Name()+" ID "), c.Use)
			case "import":
				require.True(t, strings.HasPrefix(c.Use, "import FILE "), c.Use)
			}
			for _, out := range []string{"out", "csv", "plot"} {
				if f.Lookup(out) != nil {
					require.NotNil(t, f.Lookup("force"), "a command writing --%s has --force", out)
				}
			}
		})
	}
}

// TestDeprecatedFlagsStillWork: the old spellings are hidden synonyms.
func TestDeprecatedFlagsStillWork(t *testing.T) {
	r := cli(t, "demo", "--walkers", "1", "--edges", "1", "--nosync", "-q")
	requireOK(t, r)
	require.Contains(t, r.stderr, "--nosync is deprecated: use --no-sync")
	r = cli(t, "demo", "--help")
	requireOK(t, r)
	require.Contains(t, r.stdout, "--no-sync")
	require.NotContains(t, r.stdout, "--nosync")
}
