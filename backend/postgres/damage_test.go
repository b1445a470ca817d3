package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// The columns a damage trial may change: each stored value the driver
// reads back, in the rows where selects them ("" every row). A node's edge
// lists are its edge index entries (key 'e' node dir type created edge,
// value peer owner flags), damaged apart from the other entries so that
// every run damages edge lists. (meta holds the store's identity, read
// once at Open.)
var damageColumns = []struct{ table, column, kind, where string }{
	{"anchors", "rec", "bytea", ""}, {"anchors", "id", "bytea", ""}, {"anchors", "kind", "int", ""},
	{"idx", "k", "bytea", edgeEntries}, {"idx", "v", "bytea", edgeEntries},
	{"log", "id", "bytea", ""}, {"log", "seq", "int", ""},
	{"kv", "value", "bytea", ""},
	{"idx", "k", "bytea", ""}, {"idx", "v", "bytea", ""},
}

// edgeEntries selects the edge index entries.
const edgeEntries = `get_byte(k, 0) = ascii('e')`

// damageAnswers is every read of a store: read name -> digest, or the
// error; Problems is what Verify reported.
type damageAnswers struct {
	reads    map[string]string
	errs     map[string]error
	problems int
}

func digestOf(v any) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%#v", v))
	return hex.EncodeToString(h[:10])
}

// readStore reads every anchor, every node's adjacency and listing, the
// change log, a lookup through a declared index, and runs Verify.
func readStore(t *testing.T, s backend.Store, ids, nodes []anchor.ID) damageAnswers {
	ctx := context.Background()
	ans := damageAnswers{reads: map[string]string{}, errs: map[string]error{}}
	record := func(name string, v any, err error) {
		if err != nil {
			ans.errs[name] = err
			return
		}
		ans.reads[name] = digestOf(v)
	}
	for _, id := range ids {
		var a *anchor.Anchor
		err := s.View(ctx, func(v backend.View) (err error) { a, err = v.Anchor(id); return err })
		if err == nil {
			b, merr := anchor.Marshal(a)
			record("anchor "+id.String(), b, merr)
		} else {
			record("anchor "+id.String(), nil, err)
		}
	}
	for _, n := range nodes {
		var rows []anchor.Adj
		err := s.View(ctx, func(v backend.View) error {
			return v.Adjacent(n, func(r anchor.Adj) error { rows = append(rows, r); return nil })
		})
		record("adjacent "+n.String(), rows, err)
		listed, err := tiered.New(s, anchor.SystemRoot, nil).Edges(ctx, n)
		record("edges "+n.String(), listed, err)
	}
	var log []string
	err := s.View(ctx, func(v backend.View) error {
		return v.Changes(0, func(seq uint64, id anchor.ID) error { log = append(log, fmt.Sprint(seq, id)); return nil })
	})
	record("changes", log, err)
	found, err := tiered.New(s, anchor.SystemRoot, nil).Lookup(ctx, "Item", "n", 3)
	var foundIDs []anchor.ID
	for _, a := range found {
		foundIDs = append(foundIDs, a.ID)
	}
	record("lookup", foundIDs, err)
	rep, err := backend.Verify(ctx, s)
	require.NoError(t, err, "Verify could not read the store")
	ans.problems = len(rep.Problems)
	return ans
}

// TestRandomDamage changes one stored value at random (a few bytes of a
// record, a key, an index entry, a number), reads everything back through
// a freshly opened Store and compares with the undamaged store: every read
// must give the original answer or a typed error, and a wrong answer must
// be reported by Verify. Then the value is put back. 500 trials under
// ANCHORAGE_SOAK, 60 otherwise.
func TestRandomDamage(t *testing.T) {
	ctx := context.Background()
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	dsn := server.DSN("postgres")
	s, err := postgres.Open(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	_, err = s.Apply(ctx, &delta.Declare{Indexes: delta.Indexes{Fields: []delta.FieldIndex{{Type: "Item", Field: "n"}}}})
	require.NoError(t, err)
	root, err := tiered.CreateRoot(ctx, s, map[string]any{"user": "ada"})
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	nodes := []anchor.ID{root}
	for i := range 12 {
		n, err := m.Create(anchor.KindNode, "Item", map[string]any{"n": i % 5, "name": fmt.Sprint("item-", i)})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "Has", map[string]any{"w": i})
		require.NoError(t, err)
		if i > 0 {
			_, err = m.ConnectUndirected(ctx, n, nodes[len(nodes)-1], "Near", nil)
			require.NoError(t, err)
		}
		nodes = append(nodes, n)
	}
	require.NoError(t, m.Commit(ctx))
	var ids []anchor.ID
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Anchors(func(id anchor.ID, _ *anchor.Anchor, err error) error { ids = append(ids, id); return err })
	}))
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	orig := readStore(t, s, ids, nodes)
	require.Empty(t, orig.errs)
	require.Zero(t, orig.problems)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	trials := 60
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		trials = 500
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var detected, unaffected, flagged int
	for trial := range trials {
		c := damageColumns[rng.IntN(len(damageColumns))]
		table := pgx.Identifier{schema, c.table}.Sanitize()
		col := pgx.Identifier{c.column}.Sanitize()
		where := "true"
		if c.where != "" {
			where = c.where
		}
		var ctid string
		var before any
		err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT ctid::text, %s FROM %s WHERE %s ORDER BY random() LIMIT 1`, col, table, where)).Scan(&ctid, &before)
		require.NoError(t, err)
		after := damageValue(rng, c.kind, before)
		var newCtid string
		err = conn.QueryRow(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE ctid = $2::tid RETURNING ctid::text`, table, col), after, ctid).Scan(&newCtid)
		if err != nil { // a key the damage made collide with another row: nothing changed
			continue
		}

		ds, err := postgres.Open(dsn, &postgres.Options{Schema: schema})
		require.NoError(t, err, "trial %d: %s.%s damaged: Open must not fail", trial, c.table, c.column)
		got := readStore(t, ds, ids, nodes)
		require.NoError(t, ds.Close())

		var wrong []string
		for name, err := range got.errs {
			require.True(t, backendtest.Typed(err), "trial %d: %s.%s damaged: %s gave an untyped error: %v", trial, c.table, c.column, name, err)
		}
		for name, want := range orig.reads {
			if _, failed := got.errs[name]; !failed && got.reads[name] != want {
				wrong = append(wrong, name)
			}
		}
		if len(wrong) > 0 {
			require.NotZero(t, got.problems, "trial %d: %s.%s changed from %v to %v: wrong answers to %v, and Verify is clean",
				trial, c.table, c.column, before, after, wrong)
			flagged++
		}
		switch {
		case len(got.errs) > 0 || got.problems > 0:
			detected++
		case len(wrong) == 0:
			unaffected++
		}
		_, err = conn.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE ctid = $2::tid`, table, col), before, newCtid)
		require.NoError(t, err)
	}
	t.Logf("%d trials: %d detected by a read or Verify (%d of them with wrong answers Verify flagged), %d unaffected; 0 untyped errors, 0 silent wrong answers",
		trials, detected, flagged, unaffected)

	s, err = postgres.Open(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, orig, readStore(t, s, ids, nodes), "every damaged value was put back")
}

// damageValue returns v changed: 1-4 flipped bytes of a byte string, one
// changed character of a text, a number moved.
func damageValue(rng *rand.Rand, kind string, v any) any {
	switch kind {
	case "bytea":
		b := append([]byte(nil), v.([]byte)...)
		if len(b) == 0 {
			return []byte{byte(rng.IntN(256))}
		}
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		return b
	case "text":
		b := []byte(v.(string))
		if len(b) == 0 {
			return "x"
		}
		b[rng.IntN(len(b))] = byte('A' + rng.IntN(26))
		return string(b)
	default:
		switch n := v.(type) {
		case int16:
			return n + int16(1+rng.IntN(3))
		case int32:
			return n + int32(1+rng.IntN(3))
		case int64:
			return n + int64(1+rng.IntN(1000))
		}
		return v
	}
}
