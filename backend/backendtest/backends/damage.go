package backends

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// The backendtest.ValueDamager of each backend: they damage a field value
// kept out of line (bolt's values bucket, SQLite's and PostgreSQL's vals
// table) behind the store's back, as a failing disk or a stray write would.

func boltDamage(t testing.TB, dir string, id anchor.ID, field, how string) {
	db, err := bbolt.Open(filepath.Join(dir, "anchorage.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	key := append(id[:len(id):len(id)], field...)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("values"))
		switch how {
		case backendtest.DamageFlip:
			v := append([]byte(nil), b.Get(key)...)
			require.NotEmpty(t, v)
			v[len(v)/2] ^= 0x40
			return b.Put(key, v)
		case backendtest.DamageDrop:
			return b.Delete(key)
		default:
			return b.Put(key, make([]byte, anchor.OutOfLine))
		}
	}))
}

func sqliteDamage(t testing.TB, dir string, id anchor.ID, field, how string) {
	db, err := sql.Open("sqlite", filepath.Join(dir, "anchorage.sqlite"))
	require.NoError(t, err)
	defer db.Close()
	var q string
	args := []any{id[:], field}
	switch how {
	case backendtest.DamageFlip: // keeps the row's crc: the damage is the value's
		q = `UPDATE vals SET value = substr(value, 1, 100) || x'00' || substr(value, 102) WHERE id = ? AND name = ?`
	case backendtest.DamageDrop:
		q = `DELETE FROM vals WHERE id = ? AND name = ?`
	default:
		q, args = `INSERT INTO vals (id, name, value, crc) VALUES (?, ?, ?, 0)`, append(args, make([]byte, anchor.OutOfLine))
	}
	res, err := db.Exec(q, args...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func postgresDamage(t testing.TB, dir string, id anchor.ID, field, how string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.Shared(t).DSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	vals := pgx.Identifier{pgtest.SchemaFor(dir), "vals"}.Sanitize()
	var q string
	args := []any{id[:], field}
	switch how {
	case backendtest.DamageFlip:
		q = `UPDATE ` + vals + ` SET value = set_byte(value, 100, get_byte(value, 100) # 64) WHERE id = $1 AND name = $2`
	case backendtest.DamageDrop:
		q = `DELETE FROM ` + vals + ` WHERE id = $1 AND name = $2`
	default:
		q, args = `INSERT INTO `+vals+` (id, name, value) VALUES ($1, $2, $3)`, append(args, make([]byte, anchor.OutOfLine))
	}
	tag, err := conn.Exec(ctx, q, args...)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}
