package backend

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
)

// mapTx is a Tx holding anchors in a map and counting reads.
type mapTx struct {
	Tx
	m     map[anchor.ID]*anchor.Anchor
	kv    map[string][]byte
	reads int
}

func (t *mapTx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	t.reads++
	a, ok := t.m[id]
	if !ok {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	return a.Clone(), nil
}

func (t *mapTx) PutAnchor(a *anchor.Anchor) error { t.m[a.ID] = a.Clone(); return nil }

func (t *mapTx) Meta(key string) ([]byte, error) { t.reads++; return t.kv[key], nil }

func (t *mapTx) PutMeta(key string, v []byte) error { t.kv[key] = v; return nil }

// TestGroupTxReadCache pins the group read cache: an anchor is read once
// per group, each reader gets its own copy, and a write of the group is
// seen by every later read.
func TestGroupTxReadCache(t *testing.T) {
	id := anchor.NewID()
	under := &mapTx{m: map[anchor.ID]*anchor.Anchor{id: {ID: id, Kind: anchor.KindNode, Type: "Root"}}}
	g := newGroupTx(under)

	a, err := g.Anchor(id)
	require.NoError(t, err)
	require.NoError(t, a.SetField("scratch", 1)) // a reader may modify its copy
	b, err := g.Anchor(id)
	require.NoError(t, err)
	require.Equal(t, 1, under.reads, "read once per group")
	require.Empty(t, b.Fields, "a reader's change does not leak into the cache")

	require.NoError(t, b.SetField("name", "written"))
	require.NoError(t, g.PutAnchor(b))
	c, err := g.Anchor(id)
	require.NoError(t, err)
	var name string
	require.NoError(t, c.Field("name", &name), "a later write of the group sees the earlier one")
	require.Equal(t, "written", name)
	require.Equal(t, 2, under.reads)

	_, err = g.Anchor(anchor.NewID())
	require.ErrorIs(t, err, anchor.ErrNotFound)
}

// TestGroupTxMetaCache: a small value (the index declaration every write
// of a group reads) is read once per group, and a write of it is seen by
// the next read.
func TestGroupTxMetaCache(t *testing.T) {
	under := &mapTx{kv: map[string][]byte{"k": []byte("v1")}}
	g := newGroupTx(under)
	for range 3 {
		v, err := g.Meta("k")
		require.NoError(t, err)
		require.Equal(t, "v1", string(v))
	}
	require.Equal(t, 1, under.reads, "read once per group")
	require.NoError(t, g.PutMeta("k", []byte("v2")))
	v, err := g.Meta("k")
	require.NoError(t, err)
	require.Equal(t, "v2", string(v), "a later write of the group sees the earlier one")
	require.Equal(t, 2, under.reads)
}
