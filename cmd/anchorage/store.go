package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// errNoBackend: the named backend is unknown or not compiled into this build.
var errNoBackend = errors.New("anchorage: backend not available")

// storeOptions are the backend-independent settings the commands need.
type storeOptions struct {
	ReadOnly      bool // open without writing anything; the file must exist
	NoSync        bool // skip fsync on commit (throwaway stores only)
	NoGroupCommit bool // one transaction per Apply, for comparison
}

// backendNames lists the backends compiled into this build, default first.
func backendNames() []string { return []string{"bolt"} }

// plannedBackends are known backends that this build does not include yet.
func plannedBackends() []string { return []string{"postgres", "sqlite"} }

// openStore opens the store of the named backend at path. It is the one
// place the command chooses a backend.
func openStore(name, path string, o storeOptions) (backend.Store, error) {
	if err := checkBackend(name); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, usageError("no store path given (use --db PATH)")
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
	}
	return nil, fmt.Errorf("%w: backend %q has no opener", errNoBackend, name)
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

// openReadOnly opens the --db store of cmd read-only.
func openReadOnly(cmd *cobra.Command) (backend.Store, error) {
	path, _ := cmd.Flags().GetString("db")
	name, _ := cmd.Flags().GetString("backend")
	s, err := openStore(name, path, storeOptions{ReadOnly: true})
	return s, fail(err)
}

// addStoreFlags adds --db and --backend to a command.
func addStoreFlags(cmd *cobra.Command, required bool) {
	cmd.Flags().String("db", "", "path of the store file")
	cmd.Flags().String("backend", "bolt", "storage backend: "+strings.Join(backendNames(), ", "))
	if required {
		_ = cmd.MarkFlagRequired("db")
	}
}
