package sqlite_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
)

// buildDamageStore writes a store of about 1 MiB at path: a root, 250
// nodes with fields of up to 3.5 KB, 250 edges, then field updates, grants,
// deletes and a kv row. Everything but the store's own identity (store
// and replica IDs) follows from seed: anchor IDs, values and the clock.
func buildDamageStore(t testing.TB, path string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	s, err := sqlite.Open(path, &sqlite.Options{Now: now, NoGroupCommit: true, Synchronous: sqlite.SyncNormal})
	require.NoError(t, err)
	counter := uint64(0)
	newID := func() anchor.ID {
		counter++
		var id anchor.ID
		binary.BigEndian.PutUint64(id[:8], (1_700_000_000_000+counter)<<16|rng.Uint64()&0xffff)
		binary.BigEndian.PutUint64(id[8:], rng.Uint64())
		id[6] = 0x70 | id[6]&0x0f
		id[8] = 0x80 | id[8]&0x3f
		return id
	}
	enc := func(v any) []byte {
		b, err := anchor.EncodeValue(v)
		require.NoError(t, err)
		return b
	}
	text := func(n int) string {
		const letters = "abcdefghijklmnopqrstuvwxyz     "
		var b strings.Builder
		for range n {
			b.WriteByte(letters[rng.IntN(len(letters))])
		}
		return b.String()
	}
	apply := func(w delta.Write) { require.NoError(t, backendtest.Apply(ctx, s, w)) }

	root := newID()
	apply(&delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
	var nodes []anchor.ID
	for range 10 {
		b := &delta.Batch{Root: root}
		for range 25 {
			n := &anchor.Anchor{ID: newID(), Kind: anchor.KindNode, Owner: root, Type: "Item",
				Access: anchor.Access{All: anchor.Level(rng.IntN(3))},
				Fields: map[string]anchor.Field{
					"name": {Value: enc(text(8))}, "n": {Value: enc(rng.IntN(1000))},
					"bio": {Value: enc(text(500 + rng.IntN(3000)))}, "tags": {Value: enc([]string{text(3), text(4)})},
				}}
			nodes = append(nodes, n.ID)
			b.Changes = append(b.Changes, delta.Change{ID: n.ID, Create: n})
		}
		apply(b)
	}
	var edges []anchor.ID
	for range 10 {
		b := &delta.Batch{Root: root}
		for range 25 {
			e := &anchor.Anchor{ID: newID(), Kind: anchor.KindEdge, Owner: root, Type: "Link",
				Source: nodes[rng.IntN(len(nodes))], Target: nodes[rng.IntN(len(nodes))], Undirected: rng.IntN(3) == 0,
				Fields: map[string]anchor.Field{"w": {Value: enc(rng.IntN(100))}}}
			edges = append(edges, e.ID)
			b.Changes = append(b.Changes, delta.Change{ID: e.ID, Create: e})
		}
		apply(b)
	}
	for i := range 100 {
		c := delta.Change{ID: nodes[rng.IntN(len(nodes))], Set: map[string][]byte{"n": enc(i)}}
		if i%5 == 0 {
			c.Grants = map[anchor.ID]anchor.Level{newID(): anchor.Write}
		}
		apply(&delta.Batch{Root: root, Changes: []delta.Change{c}})
	}
	for i := range 25 {
		id := edges[rng.IntN(len(edges))]
		if i%5 == 0 {
			id = nodes[rng.IntN(len(nodes))]
		}
		apply(&delta.Batch{Root: root, Changes: []delta.Change{{ID: id, Delete: true}}})
	}
	apply(&delta.Merge{Meta: map[string][]byte{"cursor": []byte(text(20))}})
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
}

// answers is everything a store answered to readAll. Values are kept as
// hashes of their printed form: equal hashes, equal answers.
type answers struct {
	Open     string            // why Open failed, or ""
	Typed    bool              // every error seen wraps a sentinel of package anchor
	IDs      []anchor.ID       // the anchors the scan found (for the original: what to read)
	Reads    map[string]string // read -> hash of its answer
	Errs     map[string]string // read -> its error
	Problems []string          // what Verify reported
	Untyped  []string          // the errors that wrap no sentinel of package anchor
}

// hashOf hashes v printed in Go syntax (%#v), which prints every field
// and calls no String method: *anchor.Anchor's prints only kind, type and
// ID.
func hashOf(v any) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%#v", v))
	return hex.EncodeToString(h[:12])
}

// readAll opens the store at path and reads everything: every anchor of
// ids one by one with its adjacency, the anchor and adjacency scans, the
// change log, the kv row, the meta; then it runs Verify.
func readAll(path string, ids []anchor.ID) (ans answers) {
	ans = answers{Typed: true, Reads: map[string]string{}, Errs: map[string]string{}}
	s, err := sqlite.Open(path, nil)
	if err != nil {
		ans.Open, ans.Typed = err.Error(), backendtest.Typed(err) || errors.Is(err, anchor.ErrNotStore)
		if !ans.Typed {
			ans.Untyped = append(ans.Untyped, "open: "+err.Error())
		}
		return ans
	}
	defer s.Close()
	record := func(name string, v any, err error) {
		if err != nil {
			ans.Errs[name] = err.Error()
			if !backendtest.Typed(err) {
				ans.Typed = false
				ans.Untyped = append(ans.Untyped, name+": "+err.Error())
			}
			return
		}
		ans.Reads[name] = hashOf(v)
	}
	err = s.View(ctx, func(v backend.View) error {
		record("meta", v.Meta(), nil)
		var scan []string
		var scanErr error
		err := v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err != nil {
				scanErr = err
			} else {
				ans.IDs = append(ans.IDs, id)
				scan = append(scan, fmt.Sprintf("%#v", *a))
			}
			return nil
		})
		record("scan", scan, firstErr(err, scanErr))
		for _, id := range ids {
			a, err := v.Anchor(id)
			record("anchor "+id.String(), a, err)
			var adj []anchor.Adj
			err = v.Adjacent(id, func(r anchor.Adj) error { adj = append(adj, r); return nil })
			record("adjacent "+id.String(), adj, err)
		}
		var rows []anchor.Adj
		err = v.Adjacency(func(r anchor.Adj) error { rows = append(rows, r); return nil })
		record("adjacency", rows, err)
		var log []string
		err = v.Changes(0, func(seq uint64, id anchor.ID) error { log = append(log, fmt.Sprint(seq, id)); return nil })
		record("changes", log, err)
		kv, err := v.MetaValue("cursor")
		record("kv", kv, err)
		return nil
	})
	record("view", nil, err)
	rep, err := backend.Verify(ctx, s)
	record("verify", nil, err)
	if rep != nil {
		for _, p := range rep.Problems {
			ans.Problems = append(ans.Problems, p.String())
		}
	}
	return ans
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
