package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// tables holds the schema-qualified, quoted table names. adj is the
// adjacency table of layouts 1 to 3, kept only to be dropped (layout 4).
type tables struct{ schema, meta, anchors, adj, log, kv, idx, vals string }

func newTables(schema string) tables {
	q := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	return tables{schema: pgx.Identifier{schema}.Sanitize(), meta: q("meta"), anchors: q("anchors"), adj: q("adj"), log: q("log"), kv: q("kv"), idx: q("idx"), vals: q("vals")}
}

func (s *driver) init(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !s.opts.ReadOnly {
			// Serialise concurrent first opens of the same schema.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "anchorage:"+s.opts.Schema); err != nil {
				return err
			}
		}
		var nTables int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, s.opts.Schema).Scan(&nTables); err != nil {
			return err
		}
		var hasMeta bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'meta')`, s.opts.Schema).Scan(&hasMeta); err != nil {
			return err
		}
		switch {
		case nTables == 0 && s.opts.ReadOnly:
			return fmt.Errorf("%w: schema has no store", anchor.ErrNotStore)
		case nTables == 0:
			if err := s.create(ctx, tx); err != nil {
				return err
			}
		case !hasMeta:
			return fmt.Errorf("%w: schema holds %d tables of something else", anchor.ErrNotStore, nTables)
		}
		var mg string
		var schema int
		var store, replica []byte
		err := tx.QueryRow(ctx, `SELECT magic, schema_version, store_id, replica_id FROM `+s.t.meta+` WHERE id = 1`).Scan(&mg, &schema, &store, &replica)
		if err != nil {
			return fmt.Errorf("%w: meta row: %v", anchor.ErrNotStore, err)
		}
		if mg != magic {
			return fmt.Errorf("%w: unknown magic %q", anchor.ErrNotStore, mg)
		}
		if schema == 1 && !s.opts.ReadOnly {
			// Layout 2 adds delta's index table; the engine fills it.
			if _, err := tx.Exec(ctx, s.t.createIndex()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.t.meta+` SET schema_version = 2 WHERE id = 1`); err != nil {
				return err
			}
			schema = 2
		}
		if schema == 2 && !s.opts.ReadOnly {
			// Layout 3 adds the vals table (values.go).
			if _, err := tx.Exec(ctx, s.t.createVals()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.t.meta+` SET schema_version = 3 WHERE id = 1`); err != nil {
				return err
			}
			schema = 3
		}
		if schema == 3 && !s.opts.ReadOnly {
			// Layout 4 drops the adjacency table (with its index): a node's
			// edges are its edge index entries, which every layout-2 and -3
			// write kept too (and the engine builds where they are missing).
			if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+s.t.adj); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.t.meta+` SET schema_version = 4 WHERE id = 1`); err != nil {
				return err
			}
			schema = 4
		}
		if schema != SchemaVersion && !((schema == 2 || schema == 3) && s.opts.ReadOnly) {
			return fmt.Errorf("%w: store layout %d, this build reads %d", anchor.ErrVersion, schema, SchemaVersion)
		}
		if s.meta.StoreID, err = anchor.IDFromBytes(store); err != nil {
			return fmt.Errorf("%w: store id: %v", anchor.ErrCorrupt, err)
		}
		if s.meta.ReplicaID, err = anchor.IDFromBytes(replica); err != nil {
			return fmt.Errorf("%w: replica id: %v", anchor.ErrCorrupt, err)
		}
		s.meta.Schema = schema
		return nil
	})
}

func (t tables) createIndex() string {
	return `CREATE TABLE ` + t.idx + ` (k bytea PRIMARY KEY, v bytea NOT NULL)`
}

func (s *driver) create(ctx context.Context, tx pgx.Tx) error {
	store, replica := anchor.NewID(), anchor.NewID()
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s.t.schema,
		`CREATE TABLE ` + s.t.meta + ` (id int PRIMARY KEY CHECK (id = 1), magic text NOT NULL,
			schema_version int NOT NULL, store_id bytea NOT NULL, replica_id bytea NOT NULL,
			hlc bigint NOT NULL, seq bigint NOT NULL)`,
		`CREATE TABLE ` + s.t.anchors + ` (id bytea PRIMARY KEY, kind smallint NOT NULL, rec bytea NOT NULL)`,
		`CREATE TABLE ` + s.t.log + ` (id bytea PRIMARY KEY, seq bigint NOT NULL UNIQUE)`,
		// Small named values written with batches (import cursors).
		`CREATE TABLE ` + s.t.kv + ` (key text PRIMARY KEY, value bytea NOT NULL)`,
		s.t.createIndex(),
		s.t.createVals(),
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.t.meta+` (id, magic, schema_version, store_id, replica_id, hlc, seq) VALUES (1, $1, $2, $3, $4, 0, 0)`,
		magic, SchemaVersion, store[:], replica[:])
	return err
}

// Drop deletes the store kept in schema (its tables and the schema) from
// the database named by dsn. It refuses, with anchor.ErrNotStore, a schema
// that does not hold an Anchorage store. The store must not be open.
func Drop(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("anchorage: postgres connect: %w", err)
	}
	defer conn.Close(ctx)
	t := newTables(schema)
	var mg string
	if err := conn.QueryRow(ctx, `SELECT magic FROM `+t.meta+` WHERE id = 1`).Scan(&mg); err != nil || mg != magic {
		return fmt.Errorf("anchorage: drop schema %q: %w", schema, anchor.ErrNotStore)
	}
	_, err = conn.Exec(ctx, `DROP SCHEMA `+t.schema+` CASCADE`)
	return err
}
