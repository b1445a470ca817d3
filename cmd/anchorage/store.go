package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage"
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
	ReadOnly      bool          // open without writing anything; the file must exist
	NoSync        bool          // skip fsync on commit (bolt: no fsync; sqlite: synchronous=NORMAL)
	NoGroupCommit bool          // one transaction per Apply, for comparison
	Schema        string        // postgres: the schema holding the store ("" = "anchorage")
	Timeout       time.Duration // how long to wait for another process's lock (0: the backend's default)
}

// backendNames lists the embedded (file) backends of this build, default
// first: the ones demo and bench can create in a temporary directory.
func backendNames() []string { return []string{anchorage.Bolt, anchorage.SQLite} }

// serverBackends lists the backends that live on a database server; their
// --db is a connection string, not a path.
func serverBackends() []string { return []string{anchorage.Postgres} }

// allBackends lists every backend of this build.
func allBackends() []string { return append(backendNames(), serverBackends()...) }

// autoBackend is the --backend value that tells the backend from --db the
// way anchorage.Open does: a connection string, an existing file's first
// bytes, a new file's extension (.sqlite, .sqlite3, .db3), else bolt.
const autoBackend = "auto"

// resolveBackend returns the backend and the location its Open takes for
// the --db value dsn and the --backend value name: auto is decided by
// anchorage.Locate, and a sqlite:// or bolt:// prefix is dropped.
func resolveBackend(name, dsn string) (string, string) {
	located, target := anchorage.Locate(dsn)
	if name == autoBackend {
		return located, target
	}
	if located == name {
		return name, target
	}
	return name, dsn
}

// openStore opens the store of the named backend ("auto" allowed) at dsn.
// It is the one place the command chooses a backend.
func openStore(name, dsn string, o storeOptions) (backend.Store, error) {
	if dsn == "" {
		return nil, usageError("no store path given (use --db PATH)")
	}
	name, path := resolveBackend(name, dsn)
	if err := checkBackend(name); err != nil {
		return nil, err
	}
	if name == anchorage.Postgres {
		if n, _ := anchorage.Locate(dsn); n != anchorage.Postgres {
			return nil, usageError("backend postgres needs a connection string in --db (postgres://... or host=... dbname=...), not %q", dsn)
		}
		return postgres.Open(path, &postgres.Options{Schema: o.Schema, ReadOnly: o.ReadOnly, NoGroupCommit: o.NoGroupCommit})
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return nil, usageError("open %s: %v (it is a directory)", path, anchor.ErrNotStore)
	case o.ReadOnly && errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("anchorage: no store at %s: %w", path, fs.ErrNotExist)
	case o.ReadOnly && err != nil:
		return nil, fmt.Errorf("anchorage: %w", err)
	}
	var s backend.Store
	switch name {
	case anchorage.Bolt:
		s, err = bolt.Open(path, &bolt.Options{ReadOnly: o.ReadOnly, NoSync: o.NoSync, NoGroupCommit: o.NoGroupCommit, Timeout: o.Timeout})
		if errors.Is(err, anchor.ErrLocked) {
			err = fmt.Errorf("%w; a bolt store is open in one process at a time: stop the program holding it, wait longer with --timeout, "+
				"or keep the store in SQLite (many processes may open it) or look at an export of it", err)
		}
	case anchorage.SQLite:
		// SQLite in WAL mode cannot skip every fsync; NORMAL skips the one
		// at each commit (a power cut may roll back the latest commits,
		// never part of one).
		sync := sqlite.SyncFull
		if o.NoSync {
			sync = sqlite.SyncNormal
		}
		s, err = sqlite.Open(path, &sqlite.Options{ReadOnly: o.ReadOnly, NoGroupCommit: o.NoGroupCommit, Synchronous: sync, OpenTimeout: o.Timeout})
	default:
		return nil, fmt.Errorf("%w: backend %q has no opener", errNoBackend, name)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// checkBackend reports whether name is a backend of this build.
func checkBackend(name string) error {
	if slices.Contains(allBackends(), name) {
		return nil
	}
	return fmt.Errorf("%w: unknown backend %q (available: %s, or auto)", errNoBackend, name, strings.Join(allBackends(), ", "))
}

// storeFlags reads the store flags of cmd: the --db (or other) location
// flag, its backend flag, --schema and --timeout.
func storeFlags(cmd *cobra.Command, dbFlag, backendFlag string) (dsn, name string, o storeOptions) {
	f := cmd.Flags()
	dsn, _ = f.GetString(dbFlag)
	name, _ = f.GetString(backendFlag)
	o.Schema, _ = f.GetString("schema")
	o.Timeout, _ = f.GetDuration("timeout")
	return dsn, name, o
}

// openReadOnly opens the --db store of cmd read-only and returns it with
// the name of its backend.
func openReadOnly(cmd *cobra.Command) (backend.Store, string, error) {
	dsn, name, o := storeFlags(cmd, "db", "backend")
	o.ReadOnly = true
	name, _ = resolveBackend(name, dsn)
	s, err := openStore(name, dsn, o)
	return s, name, fail(err)
}

// openWritable opens (creating if needed) the store of the dbFlag and
// backendFlag flags of cmd for writing.
func openWritable(cmd *cobra.Command, dbFlag, backendFlag string) (backend.Store, error) {
	dsn, name, o := storeFlags(cmd, dbFlag, backendFlag)
	if dsn == "" {
		return nil, usageError("%s: no store given (use --%s)", cmd.Name(), dbFlag)
	}
	s, err := openStore(name, dsn, o)
	return s, fail(err)
}
