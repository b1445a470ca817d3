package replica_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestImportAsPrincipal: from a replica it controls, an attacker grants
// itself Write on a victim's private node, edits it, deletes another of
// the victim's nodes and plants a node owned by the victim. Imported as
// the attacker's root, every one of those records is refused and the
// victim's store keeps its state; the attacker's own new node is accepted.
// Imported trusted, the same records apply.
func TestImportAsPrincipal(t *testing.T) {
	victimStore, attackerStore := newStore(t), newStore(t)
	victim, attacker := backendtest.NewRootNode(t, victimStore, anchor.Access{}), anchor.NewID()
	mv := tiered.New(victimStore, victim, nil)
	profile, err := mv.Create(anchor.KindNode, "Profile", map[string]any{"name": "v"})
	require.NoError(t, err)
	diary, err := mv.Create(anchor.KindNode, "Diary", nil)
	require.NoError(t, err)
	require.NoError(t, mv.Commit(ctx))
	_, err = replica.Sync(ctx, victimStore, attackerStore, nil)
	require.NoError(t, err)

	god := tiered.New(attackerStore, anchor.SystemRoot, nil)
	require.NoError(t, god.Grant(ctx, profile, attacker, anchor.Write))
	require.NoError(t, god.Set(ctx, profile, "name", "pwned"))
	require.NoError(t, god.Delete(ctx, diary))
	require.NoError(t, god.Commit(ctx))
	planted, err := tiered.New(attackerStore, victim, nil).Create(anchor.KindNode, "Planted", nil)
	require.NoError(t, err)
	ma := tiered.New(attackerStore, attacker, nil)
	own, err := ma.Create(anchor.KindNode, "Mine", nil)
	require.NoError(t, err)
	require.NoError(t, ma.Commit(ctx))
	mp := tiered.New(attackerStore, victim, nil)
	require.NoError(t, mp.CreateAt(planted, anchor.KindNode, "Planted", nil))
	require.NoError(t, mp.Commit(ctx))

	before := fullDump(t, victimStore)
	res, err := replica.Sync(ctx, attackerStore, victimStore, &replica.ImportOptions{As: attacker})
	require.NoError(t, err)
	refused := map[anchor.ID]bool{}
	for _, r := range res.Import.Stats.Refusals {
		refused[r.ID] = true
		require.False(t, r.Retry)
	}
	require.Equal(t, map[anchor.ID]bool{profile: true, diary: true, planted: true}, refused)
	p := backendtest.Stored(t, victimStore, profile)
	var name string
	require.NoError(t, p.Field("name", &name))
	require.Equal(t, "v", name)
	require.False(t, p.Allows(attacker, anchor.Read))
	require.True(t, backendtest.Stored(t, victimStore, diary).Live())
	require.True(t, backendtest.Stored(t, victimStore, own).Live(), "the attacker's own node is accepted")
	require.NotEqual(t, before, fullDump(t, victimStore))

	trusted := newStore(t)
	_, err = replica.Sync(ctx, victimStore, trusted, nil)
	require.NoError(t, err)
	_, err = replica.Sync(ctx, attackerStore, trusted, nil)
	require.NoError(t, err)
	require.False(t, backendtest.Stored(t, trusted, diary).Live(), "trusted: the delete applies")
}
