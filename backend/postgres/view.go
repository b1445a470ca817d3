package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// View runs fn in a REPEATABLE READ, read-only transaction, begun
// together with the read of the store's clock and change-log counter in
// one round trip. While no server can be reached (a failover), it tries
// again, with backend.Backoff, for as long as ctx allows; then it returns
// an error wrapping backend.ErrUnavailable and ctx's error. fn runs at
// most once: if the connection is lost while it runs, View returns fn's
// error wrapping backend.ErrUnavailable, and the caller may run it again.
func (s *driver) View(ctx context.Context, fn func(backend.Snapshot) error) error {
	var conn *pgxpool.Conn
	var hlc, seq int64
	pause := s.opts.MaxBackoff
	if pause <= 0 {
		pause = 10 * time.Millisecond // the engine's default
	}
	for attempt := 0; ; attempt++ {
		var err error
		conn, hlc, seq, err = s.beginView(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, backend.ErrUnavailable) {
			return err
		}
		if !backend.Backoff(ctx, pause, attempt) {
			return fmt.Errorf("anchorage: postgres view: %w: %w (last: %v)", backend.ErrUnavailable, ctx.Err(), err)
		}
	}
	defer conn.Release() // closes a connection left inside a transaction
	v := &view{rtx: rtx{s: s, ctx: ctx, q: conn}}
	v.meta = s.meta
	v.meta.HLC, v.meta.Seq = anchor.HLC(hlc), uint64(seq)
	err := fn(v)
	if _, rerr := conn.Exec(ctx, `ROLLBACK`); err == nil {
		err = rerr // a read-only transaction ends the same either way
	}
	if err != nil && conn.Conn().IsClosed() {
		// The server went away under fn (a failover): say so, typed, so
		// that the caller may run its View again.
		s.lost()
		if !errors.Is(err, backend.ErrUnavailable) {
			err = fmt.Errorf("anchorage: postgres view: connection lost: %w: %w", backend.ErrUnavailable, err)
		}
	}
	return err
}

// beginView acquires a connection and begins a View's transaction on it.
// A server that could not be reached is classified (backend.ErrUnavailable).
func (s *driver) beginView(ctx context.Context) (*pgxpool.Conn, int64, int64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, 0, s.classify(err, nil)
	}
	var hlc, seq int64
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	b.Queue(`SELECT hlc, seq FROM ` + s.t.meta + ` WHERE id = 1`).QueryRow(func(r pgx.Row) error { return r.Scan(&hlc, &seq) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		err = s.classify(err, conn.Conn())
		conn.Release()
		return nil, 0, 0, err
	}
	return conn, hlc, seq, nil
}

// Size returns the on-disk size of the store's tables and indexes.
func (s *driver) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', table_schema, table_name))), 0)::bigint
		FROM information_schema.tables WHERE table_schema = $1`, s.opts.Schema).Scan(&n)
	return n, err
}

// Close closes the pool; the engine calls it once every transaction and
// View has ended.
func (s *driver) Close() error {
	s.pool.Close()
	return nil
}

// view adds whole-store scans, read in key-ordered pages so callbacks may
// query the view themselves. It holds no adjacency of its own: the engine
// reads a node's edges from the edge index (Index).
type view struct {
	rtx
	meta backend.Meta
}

const page = 1000

var _ backend.Snapshot = (*view)(nil)

func (v *view) Meta() backend.Meta { return v.meta }

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	last := []byte{}
	for {
		rows, err := v.q.Query(v.ctx, `SELECT id, rec FROM `+v.s.t.anchors+` WHERE id > $1 ORDER BY id LIMIT $2`, last, page)
		if err != nil {
			return err
		}
		type rec struct{ id, rec []byte }
		var got []rec
		for rows.Next() {
			var r rec
			if err := rows.Scan(&r.id, &r.rec); err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range got {
			id, err := anchor.IDFromBytes(r.id)
			var a *anchor.Anchor
			if err == nil {
				if a, err = anchor.Unmarshal(id, r.rec); err == nil {
					a, err = v.rtx.loadValues(a)
				}
			} else {
				err = fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(r.id))
			}
			if err := fn(id, a, err); err != nil {
				return err
			}
			last = r.id
		}
		if len(got) < page {
			return nil
		}
	}
}

func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	last := int64(after)
	if after == 0 {
		last = math.MinInt64 // every row, so Verify sees malformed sequences too
	}
	for {
		rows, err := v.q.Query(v.ctx, `SELECT seq, id FROM `+v.s.t.log+` WHERE seq > $1 ORDER BY seq LIMIT $2`, last, page)
		if err != nil {
			return err
		}
		type entry struct {
			seq int64
			id  []byte
		}
		var got []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.seq, &e.id); err != nil {
				rows.Close()
				return err
			}
			got = append(got, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range got {
			id, err := anchor.IDFromBytes(e.id)
			if err != nil || e.seq <= 0 {
				return fmt.Errorf("%w: change-log entry %d", anchor.ErrCorrupt, e.seq)
			}
			if err := fn(uint64(e.seq), id); err != nil {
				return err
			}
			last = e.seq
		}
		if len(got) < page {
			return nil
		}
	}
}
