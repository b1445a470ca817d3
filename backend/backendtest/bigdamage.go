package backendtest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Ways a ValueDamager damages a field value kept out of line.
const (
	DamageFlip   = "flip"   // change one byte of the stored value
	DamageDrop   = "drop"   // remove the stored value
	DamageOrphan = "orphan" // add a stored value for a field no record refers to
)

// ValueDamager damages, as how says, the out-of-line value of field of
// anchor id in the closed store kept in dir, behind the store's back.
type ValueDamager func(t testing.TB, dir string, id anchor.ID, field, how string)

// RunBigFieldDamage checks that damaged out-of-line data is never a
// crash and never a lie: a flipped or missing value gives anchor.ErrCorrupt
// to a read, to a write that must compare it, and Verify reports it; a
// value no record refers to is reported as an orphan. A write that leaves
// the value alone still succeeds. open must give stores whose limits allow
// a field of 2*anchor.OutOfLine bytes.
func RunBigFieldDamage(t *testing.T, open Opener, damage ValueDamager) {
	for _, how := range []string{DamageFlip, DamageDrop, DamageOrphan} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			root := NewRootNode(t, s, anchor.Access{})
			big, err := anchor.EncodeValue(bytes.Repeat([]byte{5}, 2*anchor.OutOfLine))
			require.NoError(t, err)
			n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob",
				Fields: map[string]anchor.Field{"blob": {Value: big}, "n": {Value: []byte{0}}}}
			require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))
			require.NoError(t, s.Close())

			field := "blob"
			if how == DamageOrphan {
				field = "ghost"
			}
			damage(t, dir, n.ID, field, how)
			s = open(t, dir)
			defer func() { require.NoError(t, s.Close()) }()
			set := func(name string, v []byte) error {
				return Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{name: v}}}})
			}
			r, err := backend.Verify(ctx, s)
			require.NoError(t, err)
			require.NoError(t, set("n", []byte{1}), "a write that leaves the value alone")

			if how == DamageOrphan {
				require.Equal(t, big, Stored(t, s, n.ID).Fields["blob"].Value)
				require.Len(t, r.Problems, 1, "%v", r.Problems)
				require.Equal(t, backend.ProblemValueOrphan, r.Problems[0].Kind)
				require.Equal(t, n.ID, r.Problems[0].ID)
				return
			}
			err = s.View(ctx, func(v backend.View) error { _, err := v.Anchor(n.ID); return err })
			requireAnchorErr(t, err, anchor.ErrCorrupt, n.ID)
			other := bytes.Clone(big)
			other[len(other)-1] ^= 1 // the same size: the write must read the stored value to compare
			require.ErrorIs(t, set("blob", other), anchor.ErrCorrupt)
			require.False(t, r.Clean())
			found := false
			for _, p := range r.Problems {
				found = found || (p.Kind == backend.ProblemCorrupt && p.ID == n.ID)
			}
			require.True(t, found, "Verify names the anchor: %v", r.Problems)
		})
	}
}
