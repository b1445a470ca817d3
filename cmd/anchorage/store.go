package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// errNoBackend: the named backend is unknown or not compiled into this build.
var errNoBackend = errors.New("anchorage: backend not available")

// storeOptions are the backend-independent settings the commands need.
type storeOptions struct {
	ReadOnly      bool   // open without writing anything; the file must exist
	NoSync        bool   // skip fsync on commit (bolt: no fsync; sqlite: synchronous=NORMAL)
	NoGroupCommit bool   // one transaction per Apply, for comparison
	Schema        string // postgres: the schema holding the store ("" = "anchorage")
}

// backendNames lists the embedded (file) backends of this build, default
// first: the ones demo and bench can create in a temporary directory.
func backendNames() []string { return []string{"bolt", "sqlite"} }

// serverBackends lists the backends that live on a database server; their
// --db is a connection string, not a path.
func serverBackends() []string { return []string{"postgres"} }

// plannedBackends are known backends that this build does not include yet.
func plannedBackends() []string { return nil }

// allBackends lists every backend of this build.
func allBackends() []string { return append(backendNames(), serverBackends()...) }

// autoBackend is the --backend value of the read-only commands that picks
// the backend from the file's first bytes.
const autoBackend = "auto"

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// openStore opens the store of the named backend at path. It is the one
// place the command chooses a backend.
func openStore(name, path string, o storeOptions) (backend.Store, error) {
	if path == "" {
		return nil, usageError("no store path given (use --db PATH)")
	}
	if err := checkBackend(name); err != nil {
		return nil, err
	}
	if name == "postgres" {
		if !isDSN(path) {
			return nil, usageError("backend postgres needs a connection string in --db (postgres://... or host=... dbname=...), not %q", path)
		}
		return postgres.Open(path, &postgres.Options{Schema: o.Schema, ReadOnly: o.ReadOnly, NoGroupCommit: o.NoGroupCommit})
	}
	if o.ReadOnly {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("anchorage: no store at %s: %w", path, fs.ErrNotExist)
		case err != nil:
			return nil, fmt.Errorf("anchorage: %w", err)
		case fi.IsDir():
			return nil, fmt.Errorf("anchorage: open %s: %w (it is a directory)", path, anchor.ErrNotStore)
		}
	}
	switch name {
	case "bolt":
		return bolt.Open(path, &bolt.Options{ReadOnly: o.ReadOnly, NoSync: o.NoSync, NoGroupCommit: o.NoGroupCommit})
	case "sqlite":
		// SQLite in WAL mode cannot skip every fsync; NORMAL skips the one
		// at each commit (a power cut may roll back the latest commits,
		// never part of one).
		sync := sqlite.SyncFull
		if o.NoSync {
			sync = sqlite.SyncNormal
		}
		return sqlite.Open(path, &sqlite.Options{ReadOnly: o.ReadOnly, NoGroupCommit: o.NoGroupCommit, Synchronous: sync})
	}
	return nil, fmt.Errorf("%w: backend %q has no opener", errNoBackend, name)
}

// detectBackend names the backend of path: postgres for a connection
// string (postgres:// URL or key=value form), sqlite for a file starting
// like a SQLite database, else bolt (whose Open explains what is wrong with
// a file that is neither).
func detectBackend(path string) string {
	if isDSN(path) {
		return "postgres"
	}
	f, err := os.Open(path)
	if err != nil {
		return "bolt"
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err == nil && string(head) == sqliteMagic {
		return "sqlite"
	}
	return "bolt"
}

// isDSN reports whether s looks like a PostgreSQL connection string.
func isDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") ||
		strings.Contains(s, "host=") || strings.Contains(s, "dbname=")
}

// checkBackend reports whether name is a backend of this build.
func checkBackend(name string) error {
	if slices.Contains(allBackends(), name) {
		return nil
	}
	if slices.Contains(plannedBackends(), name) {
		return fmt.Errorf("%w: %q is not available in this build (available: %s)", errNoBackend, name, strings.Join(allBackends(), ", "))
	}
	return fmt.Errorf("%w: unknown backend %q (available: %s)", errNoBackend, name, strings.Join(allBackends(), ", "))
}

// openReadOnly opens the --db store of cmd read-only and returns it with
// the name of its backend.
func openReadOnly(cmd *cobra.Command) (backend.Store, string, error) {
	path, _ := cmd.Flags().GetString("db")
	name, _ := cmd.Flags().GetString("backend")
	schema, _ := cmd.Flags().GetString("schema")
	if name == autoBackend {
		name = detectBackend(path)
	}
	s, err := openStore(name, path, storeOptions{ReadOnly: true, Schema: schema})
	return s, name, fail(err)
}

// addStoreFlags adds --db (required) and --backend to a read-only command.
func addStoreFlags(cmd *cobra.Command) {
	cmd.Flags().String("db", "", "path of the store file (postgres: a connection string)")
	cmd.Flags().String("backend", autoBackend, "storage backend: "+strings.Join(allBackends(), ", ")+`, or "auto" to tell from --db`)
	cmd.Flags().String("schema", "anchorage", "postgres: the schema holding the store")
	_ = cmd.MarkFlagRequired("db")
}
