package bolt_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// tmpfs mounts a tmpfs of size bytes (with extra mount options) on a new
// directory, or skips the test where mounting is not allowed.
func tmpfs(t *testing.T, size string, opts ...string) string {
	dir := t.TempDir()
	o := "size=" + size
	for _, x := range opts {
		o += "," + x
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", o, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): run as root to test a real full disk", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// fill writes a filler file into dir until the file system is full, then
// frees leave bytes of it.
func fill(t *testing.T, dir string, leave int64) string {
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Truncate(max(0, n-leave)))
	require.NoError(t, f.Close())
	return filler
}

// TestCreateOnFullDisk pins a fixed bug: creating a store on a nearly full
// disk left a 4–8 KiB file that every later Open refused as truncated, and
// the failure was not ErrFull. Now the failed create leaves no file,
// reports ErrFull, and a retry after freeing space works.
func TestCreateOnFullDisk(t *testing.T) {
	for _, leave := range []int64{0, 4096, 8192, 12288} {
		dir := tmpfs(t, "128k")
		filler := fill(t, dir, leave)
		path := filepath.Join(dir, "store.db")
		_, err := bolt.Open(path, nil)
		require.ErrorIs(t, err, anchor.ErrFull, "create with %d bytes free", leave)
		_, statErr := os.Stat(path)
		require.ErrorIs(t, statErr, os.ErrNotExist, "a failed create (%d bytes free) must leave nothing behind", leave)

		require.NoError(t, os.Remove(filler))
		s, err := bolt.Open(path, nil)
		require.NoError(t, err, "retry after freeing space")
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		require.NoError(t, s.Close())
		s, err = bolt.Open(path, nil)
		require.NoError(t, err)
		require.Equal(t, "Root", backendtest.Stored(t, s, root).Type)
		require.NoError(t, s.Close())
	}
}

// TestReadOnlyFileSystem: opening a store for writing on a read-only file
// system gives anchor.ErrReadOnly (not a raw EROFS), both for a new store
// and for an existing one; a read-only open of the existing store works.
func TestReadOnlyFileSystem(t *testing.T) {
	dir := tmpfs(t, "1m")
	path := filepath.Join(dir, "store.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	for _, p := range []string{path, filepath.Join(dir, "new.db")} {
		_, err := bolt.Open(p, nil)
		require.ErrorIs(t, err, anchor.ErrReadOnly, p)
		require.True(t, errors.Is(err, syscall.EROFS), "the cause stays visible: %v", err)
	}
	ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, "Root", backendtest.Stored(t, ro, root).Type)
	require.NoError(t, ro.Close())
	_ = context.Background()
}
