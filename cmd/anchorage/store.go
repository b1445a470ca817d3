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
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// errNoBackend: the named backend is unknown or not compiled into this build.
var errNoBackend = errors.New("anchorage: backend not available")

// storeOptions are the backend-independent settings the commands need.
type storeOptions struct {
	ReadOnly      bool // open without writing anything; the file must exist
	NoSync        bool // skip fsync on commit (bolt: no fsync; sqlite: synchronous=NORMAL)
	NoGroupCommit bool // one transaction per Apply, for comparison
}

// backendNames lists the backends compiled into this build, default first.
func backendNames() []string { return []string{"bolt", "sqlite"} }

// plannedBackends are known backends that this build does not include yet.
func plannedBackends() []string { return []string{"postgres"} }

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

// detectBackend names the backend whose files start like path's: sqlite
// for a SQLite database, else bolt (whose Open explains what is wrong with
// a file that is neither).
func detectBackend(path string) string {
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

// checkBackend reports whether name is a backend of this build.
func checkBackend(name string) error {
	if slices.Contains(backendNames(), name) {
		return nil
	}
	if slices.Contains(plannedBackends(), name) {
		return fmt.Errorf("%w: %q is not available in this build (available: %s)", errNoBackend, name, strings.Join(backendNames(), ", "))
	}
	return fmt.Errorf("%w: unknown backend %q (available: %s)", errNoBackend, name, strings.Join(backendNames(), ", "))
}

// openReadOnly opens the --db store of cmd read-only and returns it with
// the name of its backend.
func openReadOnly(cmd *cobra.Command) (backend.Store, string, error) {
	path, _ := cmd.Flags().GetString("db")
	name, _ := cmd.Flags().GetString("backend")
	if name == autoBackend {
		name = detectBackend(path)
	}
	s, err := openStore(name, path, storeOptions{ReadOnly: true})
	return s, name, fail(err)
}

// addStoreFlags adds --db (required) and --backend to a read-only command.
func addStoreFlags(cmd *cobra.Command) {
	cmd.Flags().String("db", "", "path of the store file")
	cmd.Flags().String("backend", autoBackend, "storage backend: "+strings.Join(backendNames(), ", ")+`, or "auto" to tell from the file`)
	_ = cmd.MarkFlagRequired("db")
}
