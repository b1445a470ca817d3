package sqlite_test

import (
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
// name, an adjacency row) as if nothing had happened, and Verify was clean.
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
		{"adjacency peer", "UPDATE adj SET peer = {root} WHERE node = {a}"},
		{"adjacency type", "UPDATE adj SET type = 'Hates' WHERE node = {a}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecksumStore(t)
			rawExec(t, c.path, c.sql(tc.sql))
			s, err := sqlite.Open(c.path, nil)
			require.NoError(t, err)
			defer s.Close()
			err = s.View(ctx, func(v backend.View) error {
				if _, err := v.Anchor(c.a); err != nil {
					return err
				}
				return v.Adjacent(c.a, func(anchor.Adj) error { return nil })
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
