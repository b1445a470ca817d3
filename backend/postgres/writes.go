package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// writeChunk bounds the rows, and chunkBytes the record bytes, of one
// array statement: a cascade of 2.5·10^5 edges is about a hundred
// statements, each a few MiB at most.
const (
	writeChunk = 5_000
	chunkBytes = 4 << 20
)

// writes buffers a transaction's anchor and index writes
// between two round trips and turns them into array statements (unnest)
// of up to writeChunk rows: 10^5 writes are a few dozen statements, not
// 10^5 queued ones. A read sends the buffer first (see wtx.take), so the
// transaction reads its own writes. Anchors are upserts: only the final
// state of each key is written, and the order of writes to different
// keys is immaterial (nothing relates the rows). Index writes (a node's
// edges among them) keep their order (indexRun).
type writes struct {
	locks   []int64             // exclusive advisory locks to take before the writes
	lockIDs map[int64]anchor.ID // what each lock stands for, for the error
	creates anchorRows          // inserted only if absent (the row is the lock)
	puts    anchorRows          // upserted, under the anchor's exclusive lock
	index   []indexRun          // index deletes and puts, in order
}

// indexRun is a run of consecutive index deletes (vals nil) or puts. A
// put is a plain INSERT (see PutIndex), so a delete and a put of one key
// must keep their order: runs are sent in order. Within a run order does
// not matter: deletes are idempotent, and a key put twice fails the
// statement as the second of two single-row INSERTs would.
type indexRun struct {
	del        bool
	keys, vals [][]byte
}

func (w *writes) indexOp(del bool, k, v []byte) {
	n := len(w.index)
	if n == 0 || w.index[n-1].del != del {
		w.index = append(w.index, indexRun{del: del})
		n++
	}
	r := &w.index[n-1]
	r.keys = append(r.keys, k)
	if !del {
		r.vals = append(r.vals, v)
	}
}

// anchorRows are anchor records by ID, in first-written order.
type anchorRows struct {
	pos   map[anchor.ID]int
	ids   [][]byte
	kinds []int16
	recs  [][]byte
}

// put records id's record, replacing one recorded earlier.
func (r *anchorRows) put(id anchor.ID, kind anchor.Kind, rec []byte) {
	if i, ok := r.pos[id]; ok {
		r.kinds[i], r.recs[i] = int16(kind), rec
		return
	}
	if r.pos == nil {
		r.pos = make(map[anchor.ID]int)
	}
	r.pos[id] = len(r.ids)
	r.ids, r.kinds, r.recs = append(r.ids, id[:]), append(r.kinds, int16(kind)), append(r.recs, rec)
}

// has reports whether id's record is recorded.
func (r *anchorRows) has(id anchor.ID) bool { _, ok := r.pos[id]; return ok }

func (w *writes) lock(key int64, id anchor.ID) {
	if w.lockIDs == nil {
		w.lockIDs = make(map[int64]anchor.ID)
	}
	w.locks = append(w.locks, key)
	w.lockIDs[key] = id
}

// chunks calls fn with the bounds [i, j) of each chunk of n rows, where
// size(i) is the bytes of row i.
func chunks(n int, size func(i int) int, fn func(i, j int)) {
	for i := 0; i < n; {
		j, bytes := i, 0
		for j < n && j-i < writeChunk && (j == i || bytes+size(j) <= chunkBytes) {
			bytes += size(j)
			j++
		}
		fn(i, j)
		i = j
	}
}

// nestLoopAt is the number of rows deleted by key in one round trip past
// which the transaction turns hash and merge joins off (see queue).
const nestLoopAt = 100

// queue moves the buffered writes onto b, as array statements: the
// exclusive locks first, then the anchors, then the index entries.
//
// A delete by key joins the array to the table. The planner, its
// statistics often stale after a big load, may hash the whole table for
// it: 100 chunks of a cascade's edge entries each scanning 5·10^5 rows. So the first
// time a round trip deletes more than nestLoopAt rows, the transaction
// turns hash and merge joins off (SET LOCAL: until it ends; its other
// statements join nothing but a one-row CTE), and each chunk is a nested
// loop of primary-key probes: a cost per row, whatever the table's size.
// *nestLoop records that it did.
func (w *writes) queue(b *pgx.Batch, t tables, nestLoop *bool) {
	if len(w.locks) > 0 {
		ids := w.lockIDs
		b.Queue(`SELECT k FROM unnest($1::bigint[]) AS k WHERE NOT pg_try_advisory_xact_lock(k) LIMIT 1`, w.locks).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var k int64
				if err := rows.Scan(&k); err != nil {
					return err
				}
				return fmt.Errorf("%w: anchor %s is held by another transaction", backend.ErrRetry, ids[k])
			}
			return rows.Err()
		})
	}
	c := w.creates
	chunks(len(c.ids), func(i int) int { return len(c.recs[i]) }, func(i, j int) {
		n := int64(j - i)
		b.Queue(`INSERT INTO `+t.anchors+` (id, kind, rec) SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bytea[])
			ON CONFLICT (id) DO NOTHING`, c.ids[i:j], c.kinds[i:j], c.recs[i:j]).Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == n {
				return nil
			}
			if n == 1 {
				id, _ := anchor.IDFromBytes(c.ids[i])
				return fmt.Errorf("%w: anchor %s was created by another transaction", backend.ErrRetry, id)
			}
			return fmt.Errorf("%w: %d of %d anchors were created by another transaction", backend.ErrRetry, n-tag.RowsAffected(), n)
		})
	})
	p := w.puts
	chunks(len(p.ids), func(i int) int { return len(p.recs[i]) }, func(i, j int) {
		b.Queue(`INSERT INTO `+t.anchors+` (id, kind, rec) SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bytea[])
			ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, rec = EXCLUDED.rec`, p.ids[i:j], p.kinds[i:j], p.recs[i:j])
	})
	dels := 0
	for _, r := range w.index {
		if r.del {
			dels += len(r.keys)
		}
	}
	if dels > nestLoopAt && !*nestLoop {
		*nestLoop = true
		b.Queue(`SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`)
	}
	for _, r := range w.index {
		if r.del {
			chunks(len(r.keys), func(i int) int { return len(r.keys[i]) }, func(i, j int) {
				b.Queue(`DELETE FROM `+t.idx+` i USING unnest($1::bytea[]) AS d(k) WHERE i.k = d.k`, r.keys[i:j])
			})
			continue
		}
		chunks(len(r.keys), func(i int) int { return len(r.keys[i]) + len(r.vals[i]) }, func(i, j int) {
			b.Queue(`INSERT INTO `+t.idx+` (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])`, r.keys[i:j], r.vals[i:j])
		})
	}
	*w = writes{}
}
