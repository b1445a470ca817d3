package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

// TestCraftedDamage reads three crafted damages in a child process, as
// TestRandomDamage does. Two pin crashes of issue 9 (they fail on the
// code before it): a branch page pointing far past the file (bbolt's
// free-page scan in Open faulted in a goroutine of its own and killed the
// process) and a zeroed leaf page in a read-only open (a panic in a later
// View). The third, the meta bucket's inline page claiming more elements
// than it holds, was already refused by bbolt's free-page scan; it guards
// the page walk that now replaces that scan's checks. Each must be a typed
// error, with no crash and no wrong answer.
func TestCraftedDamage(t *testing.T) {
	if _, ok := childproc.Role(); ok {
		damageChild(t)
		return
	}
	dir := t.TempDir()
	path, nodes, all := damageStore(t, dir, 7)
	want := map[string]string{}
	for _, r := range readEverything(path, true, nodes, all) {
		want[r.key] = r.digest
	}
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	const ps = 4096
	var anchorsRoot, rootPage uint64
	var leaf uint64
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		anchorsRoot = uint64(tx.Bucket([]byte("anchors")).Root())
		// The root bucket's page: the meta page's root field.
		rootPage = binary.LittleEndian.Uint64(orig[pageOfMeta(orig, tx.ID())+16+16:])
		leaf = binary.LittleEndian.Uint64(orig[anchorsRoot*ps+16+8:]) // the root branch's first child
		if binary.LittleEndian.Uint16(orig[leaf*ps+8:]) != 0x02 {
			return errors.New("the anchors tree is not two levels deep")
		}
		return nil
	}))
	require.NoError(t, db.Close())

	cases := []struct {
		name     string
		readOnly bool
		damage   func(f []byte)
	}{
		{"branch pointer past the file", false, func(f []byte) {
			p := f[anchorsRoot*ps:]
			require.Equal(t, uint16(0x01), binary.LittleEndian.Uint16(p[8:]), "the anchors root must be a branch page")
			binary.LittleEndian.PutUint64(p[16+16+8:], 1<<36)
		}},
		{"meta bucket inline page count", false, func(f []byte) { inlineCount(t, f[rootPage*ps:(rootPage+1)*ps], "meta") }},
		{"zeroed leaf, read-only", true, func(f []byte) { clear(f[leaf*ps : (leaf+1)*ps]) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := append([]byte(nil), orig...)
			tc.damage(file)
			c := &damageCase{Nodes: nodes, All: all, ReadOnly: tc.readOnly, Want: want, Damage: tc.name}
			if v, d := runDamaged(t, filepath.Join(t.TempDir(), "crafted.db"), file, c); v != "ok" {
				t.Fatalf("%s: %s", v, d)
			}
		})
	}
}

// pageOfMeta is the byte offset of the meta page holding transaction txid.
func pageOfMeta(f []byte, txid int) int {
	for _, off := range []int{0, 4096} {
		if binary.LittleEndian.Uint64(f[off+16+48:]) == uint64(txid) {
			return off
		}
	}
	return 0
}

// inlineCount finds bucket name's leaf element on root page p and sets the
// element count of its inline page to 0xFFFF.
func inlineCount(t *testing.T, p []byte, name string) {
	n := int(binary.LittleEndian.Uint16(p[10:]))
	for i := range n {
		e := p[16+i*16:]
		pos, ks := int(binary.LittleEndian.Uint32(e[4:])), int(binary.LittleEndian.Uint32(e[8:]))
		if string(e[pos:pos+ks]) == name {
			v := e[pos+ks:]
			require.Zero(t, binary.LittleEndian.Uint64(v), "bucket %q must be inline", name)
			binary.LittleEndian.PutUint16(v[16+10:], 0xFFFF)
			return
		}
	}
	t.Fatalf("no bucket %q on the root page", name)
}

// TestVerifyChecksLogIndex pins a fixed bug: a log-index entry (ID ->
// sequence) naming a sequence that does not hold the ID was reported
// clean, and the next write of that anchor left two change-log entries
// for it. Verify now reports it, and the write is refused.
func TestVerifyChecksLogIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logidx.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("logidx")).Put(root[:], []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}))
	require.NoError(t, db.Close())

	s, err = bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	rep, err := backend.Verify(context.Background(), s)
	require.NoError(t, err)
	require.False(t, rep.Clean(), "a log-index entry naming a missing sequence must be reported")
	err = backendtest.Apply(context.Background(), s, &delta.Batch{Changes: []delta.Change{{ID: root, Set: map[string][]byte{"x": {1}}}}})
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	require.NoError(t, s.Close())
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		require.Equal(t, 1, tx.Bucket([]byte("log")).Stats().KeyN, "the refused write must not add a change-log entry")
		return nil
	}))
}
