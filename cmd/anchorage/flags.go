package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// Flag conventions, the same on every command (TestFlagConventions checks
// them):
//
//   - names are lower-case words joined by "-"; a negation is "no-..."
//     (--no-sync); a bool flag defaults to false, so it turns something on;
//   - -q/--quiet on every command: no progress bar and no notes on stderr
//     (errors still go there);
//   - --json on every command that prints a result (not dot, which prints
//     DOT): the result as JSON on stdout, and no progress bar;
//   - a command that opens one store names it --db, with --backend
//     (default auto), --schema (postgres) and --timeout; sync's two stores
//     are --from and --to, with --from-backend and --to-backend;
//   - what a command reads is positional: an anchor ID (get ID, edges ID,
//     dot ID) or an input file (import FILE); what it writes is a flag
//     (--out, --csv, --plot), and an existing file is replaced only with
//     --force;
//   - a list is a pflag slice flag (comma-separated or repeated), and a flag
//     naming backends or modes completes its values in the shell.

// addQuiet adds -q/--quiet.
func addQuiet(cmd *cobra.Command, quiet *bool) {
	cmd.Flags().BoolVarP(quiet, "quiet", "q", false, "no progress bar and no notes on stderr")
}

// addJSON adds --json; what names the result.
func addJSON(cmd *cobra.Command, asJSON *bool, what string) {
	cmd.Flags().BoolVar(asJSON, "json", false, "print "+what+" as JSON (no progress bar)")
}

// backendUsage is the help of a --backend flag.
func backendUsage(of string) string {
	return "storage backend of " + of + ": " + strings.Join(allBackends(), ", ") +
		`, or auto (a connection string, an existing file's contents, a new file's extension: .sqlite, .sqlite3, .db3; else bolt)`
}

// addBackendFlag adds a backend flag with value completion.
func addBackendFlag(cmd *cobra.Command, name, of string) {
	cmd.Flags().String(name, autoBackend, backendUsage(of))
	completeValues(cmd, name, append([]string{autoBackend}, allBackends()...)...)
}

// completeValues registers the shell completion of a flag's values.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// addStoreFlags adds --db (required), --backend, --schema and --timeout to
// a command that opens one store; db says what --db is for.
func addStoreFlags(cmd *cobra.Command, db string) {
	f := cmd.Flags()
	f.String("db", "", db+" (a file path; postgres: a connection string)")
	addBackendFlag(cmd, "backend", "--db")
	addSchemaTimeout(cmd, "anchorage")
	_ = cmd.MarkFlagRequired("db")
}

// addSchemaTimeout adds --schema (default schema) and --timeout.
func addSchemaTimeout(cmd *cobra.Command, schema string) {
	f := cmd.Flags()
	f.String("schema", schema, "postgres: the schema holding the store")
	f.Duration("timeout", 0, "how long to wait for a store file another process holds (0: the backend's default, bolt 1s, sqlite 10s)")
}

// deprecatedAlias keeps an old flag name working, hidden, as a synonym of
// flag: cobra prints a deprecation note when it is used.
func deprecatedAlias(cmd *cobra.Command, old, flag string) {
	f := cmd.Flags()
	nf := *f.Lookup(flag)
	nf.Name, nf.Shorthand = old, ""
	f.AddFlag(&nf)
	_ = f.MarkDeprecated(old, "use --"+flag)
}

// addNoSync adds --no-sync (and the old --nosync).
func addNoSync(cmd *cobra.Command, noSync *bool, usage string) {
	cmd.Flags().BoolVar(noSync, "no-sync", false, usage)
	deprecatedAlias(cmd, "nosync", "no-sync")
}
