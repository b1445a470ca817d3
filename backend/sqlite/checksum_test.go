package sqlite_test

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// checksumStore is a closed store with two nodes joined by an edge, each
// with fields, and one kv row.
type checksumStore struct {
	path       string
	root, a, b anchor.ID
	edge       anchor.ID
}

func newChecksumStore(t *testing.T) checksumStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sqlite")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	a, err := m.Create(anchor.KindNode, "A", map[string]any{"name": "ada", "age": 36})
	require.NoError(t, err)
	b, err := m.Create(anchor.KindNode, "B", map[string]any{"name": "bob"})
	require.NoError(t, err)
	e, err := m.Connect(ctx, a, b, "Knows", map[string]any{"since": 2024})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, backendtest.Apply(ctx, s, &delta.Merge{Meta: map[string][]byte{"cursor": []byte("c1")}}))
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
	return checksumStore{path: path, root: root, a: a, b: b, edge: e}
}

// TestChecksumCoversEveryColumn: changing any column of any row (as a
// flipped byte on disk would), without the write path's checksum, is
// reported: reads of the row fail with anchor.ErrCorrupt naming the
// anchor, and Verify lists it. On the schema without checksums every one
// of these reads returned the changed value (the owner, a field's value or
// name) as if nothing had happened, and Verify was clean. (The adjacency
// rows this test also damaged are gone with schema 5: TestChecksumEdgeEntries
// damages the edge index entries that took their place.)
func TestChecksumCoversEveryColumn(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
	}{
		{"owner", "UPDATE anchors SET owner = {b} WHERE id = {a}"},
		{"type", "UPDATE anchors SET type = 'Other' WHERE id = {a}"},
		{"updated", "UPDATE anchors SET updated = updated + 1 WHERE id = {a}"},
		{"access", "UPDATE anchors SET access = X'FE0300000000' WHERE id = {a}"},
		{"field value", "UPDATE fields SET value = X'CC' WHERE id = {a} AND name = 'age'"},
		{"field name", "UPDATE fields SET name = 'agf' WHERE id = {a} AND name = 'age'"},
		{"field stamp", "UPDATE fields SET stamp = stamp - 1 WHERE id = {a} AND name = 'age'"},
		{"field vanished", "DELETE FROM fields WHERE id = {a} AND name = 'age'"},
		{"field moved away", "UPDATE fields SET id = {root} WHERE id = {a} AND name = 'age'"},
		{"field moved in", "UPDATE fields SET id = {a}, name = 'extra' WHERE id = {b}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecksumStore(t)
			rawExec(t, c.path, c.sql(tc.sql))
			s, err := sqlite.Open(c.path, nil)
			require.NoError(t, err)
			defer s.Close()
			err = s.View(ctx, func(v backend.View) error {
				_, err := v.Anchor(c.a)
				return err
			})
			require.ErrorIs(t, err, anchor.ErrCorrupt)
			var ae *anchor.Error
			require.True(t, errors.As(err, &ae), "want an *anchor.Error, got %T: %v", err, err)
			require.Equal(t, c.a, ae.ID, "the error names the damaged anchor: %v", err)
			r, err := backend.Verify(ctx, s)
			require.NoError(t, err)
			require.False(t, r.Clean(), "Verify must see the damage")
			requireProblem(t, r, backend.ProblemCorrupt)
		})
	}
}

// TestChecksumOtherRows: the change log, kv rows and meta rows are
// checked too; field rows whose anchor row is gone are reported by Verify.
func TestChecksumOtherRows(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"log", "UPDATE log SET seq = seq + 100 WHERE seq = 1"},
		{"kv", "UPDATE kv SET value = X'6332' WHERE key = 'cursor'"},
		{"meta", "UPDATE meta SET value = value + 1 WHERE key = 'hlc'"},
		{"anchor row gone", "DELETE FROM anchors WHERE id = {a}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecksumStore(t)
			rawExec(t, c.path, c.sql(tc.sql))
			s, err := sqlite.Open(c.path, nil)
			if tc.name == "meta" {
				require.ErrorIs(t, err, anchor.ErrCorrupt, "a damaged meta row is refused at Open")
				return
			}
			require.NoError(t, err)
			defer s.Close()
			r, err := backend.Verify(ctx, s)
			require.NoError(t, err)
			requireProblem(t, r, backend.ProblemCorrupt)
			if tc.name == "kv" {
				err := s.View(ctx, func(v backend.View) error { _, err := v.MetaValue("cursor"); return err })
				require.ErrorIs(t, err, anchor.ErrCorrupt)
			}
		})
	}
}

// sql replaces {root}, {a} and {b} in stmt with the IDs as SQL blobs.
func (c checksumStore) sql(stmt string) string {
	blob := func(id anchor.ID) string { return fmt.Sprintf("X'%x'", id[:]) }
	return strings.NewReplacer("{root}", blob(c.root), "{a}", blob(c.a), "{b}", blob(c.b)).Replace(stmt)
}

func requireProblem(t *testing.T, r *backend.Report, kind string) {
	t.Helper()
	for _, p := range r.Problems {
		if p.Kind == kind {
			return
		}
	}
	t.Fatalf("Verify reports no %s problem: %v", kind, r.Problems)
}

// TestChecksumEdgeEntries: the edge index entries are the store's only
// adjacency (schema 5), and their values carry delta's checksum of key and
// value. Changing an entry's peer (in the value) or its edge type (in the
// key), as a flipped byte on disk would, without that checksum, is
// reported: listing the node's edges fails with anchor.ErrCorrupt naming
// the entry, whose key starts with the node (delta reports index entries
// by key, not as an *anchor.Error), the other end of the edge still lists
// it, and Verify reports a corrupt record. These are the damages
// TestChecksumCoversEveryColumn made to the adjacency rows of schema 4.
func TestChecksumEdgeEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(c checksumStore, k, v []byte) ([]byte, []byte)
	}{
		{"peer", func(c checksumStore, k, v []byte) ([]byte, []byte) {
			require.Equal(t, c.b[:], v[4:20], "the entry's value starts (after its checksum) with the peer")
			return k, append(append(append([]byte{}, v[:4]...), c.root[:]...), v[20:]...)
		}},
		{"type", func(c checksumStore, k, v []byte) ([]byte, []byte) {
			require.True(t, bytes.Contains(k, []byte("Knows\x00")), "the entry's key holds the edge type: %x", k)
			return bytes.Replace(k, []byte("Knows\x00"), []byte("Hates\x00"), 1), v
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecksumStore(t)
			prefix := append([]byte{'e'}, c.a[:]...)
			db, err := sql.Open("sqlite", c.path)
			require.NoError(t, err)
			var k, v []byte
			require.NoError(t, db.QueryRow("SELECT k, v FROM idx WHERE substr(k, 1, 17) = ?", prefix).Scan(&k, &v))
			nk, nv := tc.damage(c, k, v)
			res, err := db.Exec("UPDATE idx SET k = ?, v = ? WHERE k = ?", nk, nv, k)
			require.NoError(t, err)
			n, err := res.RowsAffected()
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			require.NoError(t, db.Close())

			s, err := sqlite.Open(c.path, nil)
			require.NoError(t, err)
			defer s.Close()
			err = s.View(ctx, func(v backend.View) error {
				return v.Adjacent(c.a, func(anchor.Adj) error { return nil })
			})
			require.ErrorIs(t, err, anchor.ErrCorrupt)
			require.Contains(t, err.Error(), hex.EncodeToString(prefix), "the error names the damaged node's entry")
			var other []anchor.Adj
			require.NoError(t, s.View(ctx, func(v backend.View) error {
				return v.Adjacent(c.b, func(a anchor.Adj) error { other = append(other, a); return nil })
			}))
			require.Equal(t, []anchor.Adj{{Node: c.b, Edge: c.edge, Peer: c.a, Dir: anchor.In, Type: "Knows"}}, other)
			r, err := backend.Verify(ctx, s)
			require.NoError(t, err)
			require.False(t, r.Clean(), "Verify must see the damage")
			requireProblem(t, r, backend.ProblemCorrupt)
		})
	}
}
