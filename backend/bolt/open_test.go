package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

func TestMain(m *testing.M) {
	if path, ok := childproc.Role(); ok && path != damageRole {
		// Child role for TestSecondProcessGetsLocked: try to open a held file.
		_, err := bolt.Open(path, &bolt.Options{Timeout: 200 * time.Millisecond})
		fmt.Println(err)
		if errors.Is(err, anchor.ErrLocked) {
			os.Exit(0)
		}
		os.Exit(3)
	}
	goleak.VerifyTestMain(m)
}

// TestSecondProcessGetsLocked: bbolt allows one process per file; a second
// process must get a clear ErrLocked after its timeout, not hang.
func TestSecondProcessGetsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	cmd := childproc.Command(t, "", path) // the child opens path in TestMain
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	require.Contains(t, string(out), "locked by another process")
	require.Contains(t, string(out), path)
}

func fileBytes(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	s, err := bolt.Open(good, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	goodBytes := fileBytes(t, good)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }))
	require.NoError(t, db.Close())

	newer := write("newer.db", goodBytes)
	db, err = bbolt.Open(newer, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], bolt.SchemaVersion+1)
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), v[:])
	}))
	require.NoError(t, db.Close())

	cases := []struct {
		name string
		path string
		want error
	}{
		{"garbage", write("garbage.db", bytes.Repeat([]byte("not a database "), 2000)), anchor.ErrNotStore},
		{"truncated", write("truncated.db", goodBytes[:len(goodBytes)/3]), anchor.ErrCorrupt},
		{"header only", write("header.db", goodBytes[:100]), anchor.ErrCorrupt},
		{"foreign bbolt file", foreign, anchor.ErrNotStore},
		{"newer schema", newer, anchor.ErrVersion},
	}
	for _, tc := range cases {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/readonly=%v", tc.name, ro), func(t *testing.T) {
				before := fileBytes(t, tc.path)
				_, err := bolt.Open(tc.path, &bolt.Options{ReadOnly: ro, Timeout: 100 * time.Millisecond})
				require.ErrorIs(t, err, tc.want)
				require.Contains(t, err.Error(), tc.path)
				require.Equal(t, before, fileBytes(t, tc.path), "a refused open must not modify the file")
			})
		}
	}
	t.Run("readonly empty file", func(t *testing.T) {
		empty := write("empty.db", nil)
		_, err := bolt.Open(empty, &bolt.Options{ReadOnly: true})
		require.ErrorIs(t, err, anchor.ErrNotStore)
		require.Empty(t, fileBytes(t, empty))
	})
	t.Run("readonly missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.db")
		_, err := bolt.Open(missing, &bolt.Options{ReadOnly: true})
		require.ErrorIs(t, err, os.ErrNotExist)
		_, statErr := os.Stat(missing)
		require.ErrorIs(t, statErr, os.ErrNotExist, "read-only open must not create the file")
	})
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	before := fileBytes(t, path)

	ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, "Root", backendtest.Stored(t, ro, root).Type)
	err = backendtest.Apply(context.Background(), ro, &delta.Batch{Changes: []delta.Change{{ID: root, Set: map[string][]byte{"x": {1}}}}})
	require.ErrorIs(t, err, anchor.ErrReadOnly)
	backendtest.RequireClean(t, ro)
	require.NoError(t, ro.Close())
	require.Equal(t, before, fileBytes(t, path))
}

// TestCorruptRecordNamed: a damaged anchor record is reported by Verify and
// by reads with a typed error naming the anchor.
func TestCorruptRecordNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("anchors"))
		v := append([]byte(nil), b.Get(root[:])...)
		v[len(v)-1] ^= 0xff
		return b.Put(root[:], v)
	}))
	require.NoError(t, db.Close())

	s, err = bolt.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	err = backendtest.Apply(context.Background(), s, &delta.Batch{Changes: []delta.Change{{ID: root, Set: map[string][]byte{"x": {1}}}}})
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	var ae *anchor.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, root, ae.ID)
	r, err := backendtestVerify(s)
	require.NoError(t, err)
	require.False(t, r.Clean())
	require.Equal(t, "corrupt-record", r.Problems[0].Kind)
	require.Equal(t, root, r.Problems[0].ID)
}
