package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

var ctx = context.Background()

// newStore opens a fresh store in a temporary directory and checks it with
// Verify when the test ends.
func newStore(t *testing.T, opts *sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "anchorage.sqlite"), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.View(ctx, func(backend.View) error { return nil }); !errors.Is(err, anchor.ErrClosed) {
			backendtest.RequireClean(t, s)
		}
		require.NoError(t, s.Close())
	})
	return s
}

// seed creates a store at path with a root node, a few nodes, edges and
// fields, closes it, and returns the root.
func seed(t *testing.T, path string) anchor.ID {
	t.Helper()
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	for i := range 50 {
		n, err := m.Create(anchor.KindNode, "Item", map[string]any{"i": i, "name": "item"})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "Has", map[string]any{"w": i})
		require.NoError(t, err)
	}
	require.NoError(t, m.Commit(ctx))
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
	return root
}

// rawExec runs statements on the file with a plain SQLite connection.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// requireRefused opens path read-write and read-only, expects both to fail
// with an error wrapping want, and the file to be byte-for-byte unchanged.
func requireRefused(t *testing.T, path string, want error) {
	t.Helper()
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, ro := range []bool{false, true} {
		s, err := sqlite.Open(path, &sqlite.Options{ReadOnly: ro})
		if err == nil {
			s.Close()
			t.Fatalf("Open(ReadOnly=%v) accepted the file", ro)
		}
		require.ErrorIs(t, err, want, "ReadOnly=%v", ro)
		t.Logf("ReadOnly=%v: %v", ro, err)
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused file must be left unchanged")
	}
}

func TestRefuseNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sqlite")
	seed(t, path)
	rawExec(t, path, "PRAGMA user_version = 99")
	requireRefused(t, path, anchor.ErrVersion)
}

func TestRefuseGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage")
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	require.NoError(t, os.WriteFile(path, junk, 0o600))
	requireRefused(t, path, anchor.ErrNotStore)

	text := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("just some notes\n"), 0o600))
	requireRefused(t, text, anchor.ErrNotStore)
}

func TestRefuseTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sqlite")
	seed(t, path)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoFileExists(t, path+"-wal", "Close checkpoints the log into the file")
	t.Logf("store of %d bytes", len(whole))
	// Cut inside the header, inside the first page, at the first page, and
	// just after it: Open must refuse each.
	for _, n := range []int{50, 2000, 4096, 4096 + 100} {
		p := filepath.Join(dir, "truncated")
		require.NoError(t, os.WriteFile(p, whole[:n], 0o600))
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			before := append([]byte(nil), whole[:n]...)
			for _, ro := range []bool{false, true} {
				s, err := sqlite.Open(p, &sqlite.Options{ReadOnly: ro})
				if err == nil {
					// Open read only what it needed; the damage must show
					// at the first read of the rest.
					_, verr := backend.Verify(ctx, s)
					s.Close()
					t.Fatalf("truncated to %d bytes: Open(ReadOnly=%v) accepted it (Verify: %v)", n, ro, verr)
				}
				t.Logf("%d bytes, ReadOnly=%v: %v", n, ro, err)
				if !errors.Is(err, anchor.ErrCorrupt) && !errors.Is(err, anchor.ErrNotStore) {
					t.Fatalf("want ErrCorrupt or ErrNotStore, got %v", err)
				}
				after, err := os.ReadFile(p)
				require.NoError(t, err)
				require.Equal(t, before, after, "a refused file must be left unchanged")
			}
		})
		os.Remove(p + "-wal")
		os.Remove(p + "-shm")
	}
	// Cut off the last page: Open reads only the schema and meta, so it
	// may accept the file, but the first read of the lost data reports
	// corruption, typed, and Verify never calls the store clean.
	p := filepath.Join(dir, "tail")
	require.NoError(t, os.WriteFile(p, whole[:len(whole)-4096], 0o600))
	s, err := sqlite.Open(p, &sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Logf("tail cut: refused: %v", err)
		require.ErrorIs(t, err, anchor.ErrCorrupt)
		return
	}
	defer s.Close()
	r, err := backend.Verify(ctx, s)
	if err != nil {
		t.Logf("tail cut: Verify: %v", err)
		require.ErrorIs(t, err, anchor.ErrCorrupt)
		return
	}
	require.False(t, r.Clean(), "a store missing its last page verified clean")
	for _, p := range r.Problems {
		t.Log(p)
	}
}

func TestRefuseForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sqlite")
	rawExec(t, path, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO users (name) VALUES ('ada')")
	requireRefused(t, path, anchor.ErrNotStore)

	other := filepath.Join(t.TempDir(), "other.sqlite")
	rawExec(t, other, "PRAGMA application_id = 1234")
	requireRefused(t, other, anchor.ErrNotStore)

	// Anchorage's tables are not enough: the application id says whose file it is.
	mimic := filepath.Join(t.TempDir(), "mimic.sqlite")
	rawExec(t, mimic, "CREATE TABLE meta (key TEXT PRIMARY KEY, value)", "INSERT INTO meta VALUES ('magic', 'anchorage-sqlite')", "PRAGMA user_version = 1")
	requireRefused(t, mimic, anchor.ErrNotStore)
}

func TestEmptyFileBecomesStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.sqlite")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.ErrorIs(t, err, anchor.ErrNotStore, "read-only never initialises a file")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	backendtest.NewRootNode(t, s, anchor.Access{})
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
}

func TestOptionsValidated(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []sqlite.Options{{MaxGroup: -1}, {ReadConns: -1}, {BusyTimeout: -1}, {Synchronous: 7}} {
		_, err := sqlite.Open(filepath.Join(dir, "x.sqlite"), &o)
		require.ErrorIs(t, err, sqlite.ErrOptions, "%+v", o)
	}
	require.NoFileExists(t, filepath.Join(dir, "x.sqlite"))
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sqlite")
	_, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoFileExists(t, path, "read-only never creates the file")

	root := seed(t, path)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	r := backendtest.RequireClean(t, s)
	require.Equal(t, 101, r.Anchors)
	require.Equal(t, 50, backendtest.EdgeCount(t, s, root))
	var name string
	m := tiered.New(s, root, nil)
	edges, err := m.Edges(ctx, root)
	require.NoError(t, err)
	require.NoError(t, m.Field(ctx, edges[0].Peer, "name", &name))
	require.Equal(t, "item", name)

	require.NoError(t, m.Set(ctx, root, "x", 1))
	require.ErrorIs(t, m.Commit(ctx), anchor.ErrReadOnly)
	err = backendtest.Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Delete: true}}})
	require.ErrorIs(t, err, anchor.ErrReadOnly)
	require.NoError(t, s.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a read-only store never changes the file")

	// A read-only store next to a writer sees its commits.
	w, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	defer w.Close()
	ro, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	wm := tiered.New(w, root, nil)
	n, err := wm.Create(anchor.KindNode, "Late", nil)
	require.NoError(t, err)
	_, err = wm.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, wm.Commit(ctx))
	require.Equal(t, 51, backendtest.EdgeCount(t, ro, root))
	require.Equal(t, backendtest.Meta(t, w), backendtest.Meta(t, ro))
}

// TestAwkwardPath: the file name reaches SQLite as a URI; characters that
// mean something in a URI must not change which file is opened.
func TestAwkwardPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	path := filepath.Join(dir, "store ?&#%.sqlite")
	root := seed(t, path)
	require.FileExists(t, path)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(path)}
	if sqlite.FlockSupported {
		want = append(want, filepath.Base(path)+sqlite.LockSuffix) // the writers' lock file
	}
	require.ElementsMatch(t, want, names, "no other file was created")
	s, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 50, backendtest.EdgeCount(t, s, root))
}

// TestConcurrentCreate: several openers racing to create the same new file
// (as processes started together would) end up with one store: one schema,
// one store ID, no error.
func TestConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.sqlite")
	const n = 6
	stores := make([]*sqlite.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(path, nil) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	id := backendtest.Meta(t, stores[0]).StoreID
	for i, s := range stores {
		require.Equal(t, id, backendtest.Meta(t, s).StoreID, "store %d", i)
	}
	root := backendtest.NewRootNode(t, stores[1], anchor.Access{})
	require.NotNil(t, backendtest.Stored(t, stores[n-1], root))
	backendtest.RequireClean(t, stores[0])
}

// TestOptionsNamedAsBolt pins issue 13's item 6 for the library: sqlite
// takes bolt's names too, NoSync and MaxSize in bytes (MaxSize caps the
// file like MaxPages: ErrFull, nothing written), and refuses contradictory
// settings with ErrOptions.
func TestOptionsNamedAsBolt(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(filepath.Join(dir, "capped.sqlite"), &sqlite.Options{MaxSize: 256 << 10, NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	big := make([]byte, 4<<10)
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob"}
		require.NoError(t, a.SetField("data", big))
		full = backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: a.ID, Create: a}}})
	}
	require.ErrorIs(t, full, anchor.ErrFull, "256 KiB is full long before 1000 blobs of 4 KiB")
	backendtest.RequireClean(t, s)

	for _, o := range []sqlite.Options{
		{MaxSize: 1 << 20, MaxPages: 256},
		{NoSync: true, Synchronous: sqlite.SyncNormal},
		{MaxSize: -1},
	} {
		_, err := sqlite.Open(filepath.Join(dir, "bad.sqlite"), &o)
		require.ErrorIs(t, err, sqlite.ErrOptions, "%+v", o)
	}
}
