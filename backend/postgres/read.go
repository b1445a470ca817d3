package postgres

import (
	"context"
	"errors"

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
