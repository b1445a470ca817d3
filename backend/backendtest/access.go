package backendtest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/tiered"
)

// accessOp is one thing root B tries to do to root A's anchors.
type accessOp struct {
	name string
	need anchor.Level
	// do performs the operation through m (B's memory) on the fixture and
	// commits it; it returns the first error.
	do func(m *tiered.Memory, f *accessFixture) error
}

// accessFixture: A owns target and peer, and the edge peer -> target.
type accessFixture struct {
	a, b, target, peer, edge anchor.ID
}

var accessOps = []accessOp{
	{"read", anchor.Read, func(m *tiered.Memory, f *accessFixture) error {
		_, err := m.Get(ctx, f.target)
		return err
	}},
	{"set-field", anchor.Write, func(m *tiered.Memory, f *accessFixture) error {
		if err := m.Set(ctx, f.target, "v", "from B"); err != nil {
			return err
		}
		return m.Commit(ctx)
	}},
	{"grant", anchor.Own, func(m *tiered.Memory, f *accessFixture) error {
		if err := m.Grant(ctx, f.target, anchor.NewID(), anchor.Write); err != nil {
			return err
		}
		return m.Commit(ctx)
	}},
	{"connect", anchor.Connect, func(m *tiered.Memory, f *accessFixture) error {
		if _, err := m.Connect(ctx, f.b, f.target, "Link", nil); err != nil {
			return err
		}
		return m.Commit(ctx)
	}},
	{"disconnect", anchor.Connect, func(m *tiered.Memory, f *accessFixture) error {
		if err := m.Disconnect(ctx, f.edge); err != nil {
			return err
		}
		return m.Commit(ctx)
	}},
	{"delete", anchor.Write, func(m *tiered.Memory, f *accessFixture) error {
		if err := m.Delete(ctx, f.target); err != nil {
			return err
		}
		return m.Commit(ctx)
	}},
}

// testAccessTable runs every operation at every level, granted per root and
// through Access.All: an operation succeeds exactly when the level reaches
// what it needs, and a denied one fails with ErrAccessDenied naming one of
// A's anchors and writes nothing.
func testAccessTable(t *testing.T, h *Harness) {
	s := h.Open()
	levels := []anchor.Level{anchor.NoAccess, anchor.Read, anchor.Connect, anchor.Write}
	for _, via := range []string{"per-root", "all"} {
		for _, lvl := range levels {
			for _, op := range accessOps {
				t.Run(fmt.Sprintf("%s/%s/%s", op.name, via, lvl), func(t *testing.T) {
					f := &accessFixture{a: NewRootNode(t, s, anchor.Access{}), b: NewRootNode(t, s, anchor.Access{})}
					grant := anchor.Access{Roots: map[anchor.ID]anchor.Level{f.b: lvl}}
					if via == "all" {
						grant = anchor.Access{All: lvl}
					}
					am := tiered.New(s, f.a, nil)
					var err error
					f.target, err = am.Create(anchor.KindNode, "Target", map[string]any{"v": "orig"})
					require.NoError(t, err)
					f.peer, err = am.Create(anchor.KindNode, "Peer", nil)
					require.NoError(t, err)
					f.edge, err = am.Connect(ctx, f.peer, f.target, "Link", nil)
					require.NoError(t, err)
					require.NoError(t, am.SetAccess(ctx, f.target, grant))
					require.NoError(t, am.SetAccess(ctx, f.peer, grant))
					// The edge itself is readable by B at the same level, so a
					// disconnect is decided by the endpoints' grants.
					require.NoError(t, am.SetAccess(ctx, f.edge, grant))
					require.NoError(t, am.Commit(ctx))
					before := Stored(t, s, f.target)
					beforeSeq := Meta(t, s).Seq

					err = op.do(tiered.New(s, f.b, nil), f)
					if lvl >= op.need {
						require.NoError(t, err)
						return
					}
					require.ErrorIs(t, err, anchor.ErrAccessDenied)
					var ae *anchor.Error
					require.True(t, errors.As(err, &ae), "%T: %v", err, err)
					require.Contains(t, []anchor.ID{f.target, f.peer, f.edge}, ae.ID, "the error names A's anchor: %v", err)
					require.Equal(t, f.b, ae.Root)
					require.Greater(t, ae.Need, lvl)
					require.Equal(t, before, Stored(t, s, f.target), "a denied operation changes nothing")
					require.Equal(t, beforeSeq, Meta(t, s).Seq, "a denied operation logs nothing")
					require.Equal(t, 1, EdgeCount(t, s, f.target))
				})
			}
		}
	}
}
