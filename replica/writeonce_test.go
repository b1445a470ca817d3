package replica_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestWriteOnceArchetypes: with "Prompt" declared write-once, a walker's
// edit of a stored prompt fails with ErrWriteOnce (other types stay
// editable), and an edited copy from a replica that did not declare it is
// counted as skipped on import and leaves the original as it was.
func TestWriteOnceArchetypes(t *testing.T) {
	a, b := newStore(t), newStore(t)
	require.NoError(t, replica.DeclareWriteOnce(ctx, a, "Prompt"))
	require.NoError(t, replica.DeclareWriteOnce(ctx, a, "Prompt", "Seed"))
	types, err := replica.WriteOnce(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []string{"Prompt", "Seed"}, types)
	require.ErrorIs(t, replica.DeclareWriteOnce(ctx, a, "bad\nname"), anchor.ErrInvalid)

	m := tiered.New(a, anchor.SystemRoot, nil)
	p, err := m.Create(anchor.KindObject, "Prompt", map[string]any{"text": "original"})
	require.NoError(t, err)
	note, err := m.Create(anchor.KindObject, "Note", map[string]any{"text": "draft"})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	m = tiered.New(a, anchor.SystemRoot, nil)
	require.NoError(t, m.Set(ctx, p, "text", "edited"))
	err = m.Commit(ctx)
	require.ErrorIs(t, err, delta.ErrWriteOnce)
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	m = tiered.New(a, anchor.SystemRoot, nil)
	require.NoError(t, m.Set(ctx, note, "text", "final"))
	require.NoError(t, m.Commit(ctx))

	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	mb := tiered.New(b, anchor.SystemRoot, nil) // b did not declare it
	require.NoError(t, mb.Set(ctx, p, "text", "edited on b"))
	require.NoError(t, mb.Commit(ctx))
	res, err := replica.Sync(ctx, b, a, nil)
	require.NoError(t, err)
	require.Equal(t, 1, res.Import.Stats.ByKind[anchor.KindObject].Skipped)
	require.Zero(t, res.Import.Stats.ByKind[anchor.KindObject].Updated)
	var text string
	require.NoError(t, tiered.New(a, anchor.SystemRoot, nil).Field(ctx, p, "text", &text))
	require.Equal(t, "original", text)
}
