package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// querier is what reads need: a pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rtx implements the reads of delta.Reader over a transaction.
type rtx struct {
	s   *driver
	ctx context.Context
	q   querier
}

// MetaValue returns the value stored under key, or nil.
func (r *rtx) MetaValue(key string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(r.ctx, `SELECT value FROM `+r.s.t.kv+` WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// Anchor reads id with every field value.
func (r *rtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	a, err := r.head(id)
	if err != nil {
		return nil, err
	}
	return r.loadValues(a)
}

// head reads id's record, with references for values kept out of line.
func (r *rtx) head(id anchor.ID) (*anchor.Anchor, error) {
	var rec []byte
	err := r.q.QueryRow(r.ctx, `SELECT rec FROM `+r.s.t.anchors+` WHERE id = $1`, id[:]).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	if err != nil {
		return nil, err
	}
	return anchor.Unmarshal(id, rec)
}

// Adjacent reads node's rows first and calls fn after, so fn may query.
func (r *rtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	rows, err := r.q.Query(r.ctx, `SELECT edge, peer, dir, type FROM `+r.s.t.adj+` WHERE node = $1 ORDER BY edge`, node[:])
	if err != nil {
		return err
	}
	out, err := collectAdj(rows, node)
	if err != nil {
		return err
	}
	for _, a := range out {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// collectAdj reads node's (edge, peer, dir, type) rows and closes rows.
func collectAdj(rows pgx.Rows, node anchor.ID) ([]anchor.Adj, error) {
	defer rows.Close()
	var out []anchor.Adj
	for rows.Next() {
		a := anchor.Adj{Node: node}
		if err := scanAdj(rows, &a, nil); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// scanAdj scans (edge, peer, dir, type), or with node non-nil
// (node, edge, peer, dir, type).
func scanAdj(rows pgx.Rows, a *anchor.Adj, node *[]byte) error {
	var edge, peer []byte
	var dir int16
	dest := []any{&edge, &peer, &dir, &a.Type}
	if node != nil {
		dest = append([]any{node}, dest...)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	var err1, err2, err3 error
	a.Edge, err1 = anchor.IDFromBytes(edge)
	a.Peer, err2 = anchor.IDFromBytes(peer)
	if node != nil {
		a.Node, err3 = anchor.IDFromBytes(*node)
	}
	a.Dir = anchor.Direction(dir)
	if err := errors.Join(err1, err2, err3); err != nil || a.Dir < anchor.Out || a.Dir > anchor.Both {
		return fmt.Errorf("%w: adjacency row %x/%x (dir %d): %v", anchor.ErrCorrupt, a.Node, edge, dir, err)
	}
	return nil
}
