package replica_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// fullDump is every stored record of s, byte for byte, and every adjacency
// row. The one normalisation: a zero origin (on a field or an access entry,
// or an access entry without a mark) is how a store writes "this replica",
// so it is resolved to s's replica ID; everything else (stamps, Updated,
// Deleted, values) is the stored bytes.
func fullDump(t *testing.T, s backend.Store) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		self := v.Meta().ReplicaID
		if err := v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			require.NoError(t, err)
			for name, f := range a.Fields {
				if f.Origin.IsZero() {
					f.Origin = self
					a.Fields[name] = f
				}
			}
			keys := append([]anchor.ID{anchor.SystemRoot}, mapKeys(a.Access.Roots)...)
			marks := make(map[anchor.ID]anchor.Mark)
			for _, k := range keys {
				m := delta.MarkOf(a, k)
				if m.Origin.IsZero() {
					m.Origin = self
				}
				marks[k] = m
			}
			a.AccessStamps = marks
			rec, err := anchor.Marshal(a)
			require.NoError(t, err)
			fmt.Fprintf(&b, "%s %s\n", id, hex.EncodeToString(rec))
			return nil
		}); err != nil {
			return err
		}
		return v.Adjacency(func(r anchor.Adj) error {
			fmt.Fprintf(&b, "adj %s %s %s %s %s\n", r.Node, r.Edge, r.Peer, r.Dir, r.Type)
			return nil
		})
	}))
	return b.String()
}

func mapKeys[V any](m map[anchor.ID]V) []anchor.ID {
	out := make([]anchor.ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// requireSameDumps fails with the first differing records (decoded) when
// the full dumps of stores differ.
func requireSameDumps(t *testing.T, stores ...backend.Store) {
	t.Helper()
	want := strings.Split(fullDump(t, stores[0]), "\n")
	for i, s := range stores[1:] {
		got := strings.Split(fullDump(t, s), "\n")
		var diffs []string
		for j := 0; j < max(len(want), len(got)) && len(diffs) < 6; j++ {
			w, g := at(want, j), at(got, j)
			if w != g {
				diffs = append(diffs, "store 0: "+describe(w), fmt.Sprintf("store %d: ", i+1)+describe(g))
			}
		}
		require.Empty(t, diffs, "full dumps differ (%d vs %d lines)", len(want), len(got))
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// describe decodes one full-dump line for a failure message.
func describe(line string) string {
	id, rec, ok := strings.Cut(line, " ")
	raw, err := hex.DecodeString(rec)
	if !ok || err != nil || strings.HasPrefix(line, "adj") {
		return line
	}
	aid, err := anchor.ParseID(id)
	if err != nil {
		return line
	}
	a, err := anchor.Unmarshal(aid, raw)
	if err != nil {
		return line
	}
	return fmt.Sprintf("%s %s created=%s updated=%s deleted=%s restored=%s lives=%s/%s fields=%v access=%v marks=%v",
		a.Kind, a.ID, a.Created, a.Updated, a.Deleted, a.Restored, a.SourceEpoch, a.TargetEpoch, a.Fields, a.Access, a.AccessStamps)
}
