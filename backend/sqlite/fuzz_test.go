package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// A damage site is one column of one table; FuzzStoredColumns writes a
// value of any SQLite storage class there. ok says, from the stored class
// and value alone and independently of the backend's decoder, whether the
// row must still decode. edge tells whether the row belongs to an edge.
// The sites in idx (the edge index entries, the store's adjacency) have
// no ok: an entry carries delta's checksum of its key and value, which
// the fuzz target recomputes (see sealedEntry) rather than the template's.
type damageSite struct {
	table, column string
	ok            func(class string, v any, edge bool) bool
}

func isInt(class string, v any, lo, hi int64) bool {
	n, _ := v.(int64)
	return class == "integer" && n >= lo && n <= hi
}

func isID(class string, v any) bool {
	b, _ := v.([]byte)
	return class == "blob" && len(b) == 16
}

func isText(class string, _ any) bool { return class == "text" || class == "blob" }

// validAccess: the All level, then 17-byte (root, level) pairs; levels
// NoAccess..Write.
func validAccess(class string, v any) bool {
	b, _ := v.([]byte)
	if class != "blob" || len(b) == 0 || (len(b)-1)%17 != 0 || b[0] > byte(anchor.Write) {
		return false
	}
	for p := b[1:]; len(p) > 0; p = p[17:] {
		if p[16] > byte(anchor.Write) {
			return false
		}
	}
	return true
}

const minStamp, maxStamp = -1 << 63, 1<<63 - 1

var damageSites = []damageSite{
	{"anchors", "kind", func(c string, v any, edge bool) bool {
		return isInt(c, v, 1, 4) && (v.(int64) == int64(anchor.KindEdge)) == edge
	}},
	{"anchors", "owner", func(c string, v any, _ bool) bool { return isID(c, v) }},
	{"anchors", "type", func(c string, v any, _ bool) bool { return isText(c, v) }},
	{"anchors", "created", func(c string, v any, _ bool) bool { return isInt(c, v, minStamp, maxStamp) }},
	{"anchors", "updated", func(c string, v any, _ bool) bool { return isInt(c, v, minStamp, maxStamp) }},
	{"anchors", "deleted", func(c string, v any, _ bool) bool { return isInt(c, v, minStamp, maxStamp) }},
	{"anchors", "access_stamp", func(c string, v any, _ bool) bool { return isInt(c, v, minStamp, maxStamp) }},
	{"anchors", "access", func(c string, v any, _ bool) bool { return validAccess(c, v) }},
	{"anchors", "source", func(c string, v any, edge bool) bool { return edge && isID(c, v) || !edge && c == "null" }},
	{"anchors", "target", func(c string, v any, edge bool) bool { return edge && isID(c, v) || !edge && c == "null" }},
	{"anchors", "undirected", func(c string, v any, _ bool) bool { return isInt(c, v, 0, 1) }},
	{"fields", "value", func(c string, v any, _ bool) bool { return c == "blob" || c == "null" }},
	{"fields", "stamp", func(c string, v any, _ bool) bool { return isInt(c, v, minStamp, maxStamp) }},
	{"fields", "origin", func(c string, v any, _ bool) bool { return c == "null" || isID(c, v) }},
	{"idx", "v", nil},
	{"idx", "k", nil},
	{"log", "id", func(c string, v any, _ bool) bool { return isID(c, v) }},
}

// tableKeys names each table's primary key columns.
var tableKeys = map[string][]string{
	"anchors": {"id"}, "fields": {"id", "name"}, "idx": {"k"}, "log": {"seq"},
}

// tableRows picks the rows of a table that damage may reach: in idx, the
// edge entries ('e'), one per end of every live edge.
var tableRows = map[string]string{"idx": "WHERE substr(k, 1, 1) = X'65'"}

// sealedEntry reports whether an index entry stored as v under k (any
// storage class) carries delta's checksum of them: the CRC-32C of the key
// then the value, little-endian, before the value.
func sealedEntry(k, v any) bool {
	kb, ok1 := k.([]byte)
	vb, ok2 := v.([]byte)
	if !ok1 || !ok2 || len(vb) < 4 {
		return false
	}
	tab := crc32.MakeTable(crc32.Castagnoli)
	return binary.LittleEndian.Uint32(vb) == crc32.Update(crc32.Checksum(kb, tab), tab, vb[4:])
}

// sqliteTemplate is a small real store (a root, two nodes, a directed and an
// undirected edge) kept as file bytes, with the primary keys of its rows.
type sqliteTemplate struct {
	files map[string][]byte // file name -> bytes
	nodes []anchor.ID       // root first
	edges map[anchor.ID]bool
	keys  map[string][][]any // table -> primary keys of its rows
}

func buildSQLiteTemplate(f *testing.F) *sqliteTemplate {
	dir := f.TempDir()
	path := filepath.Join(dir, "t.sqlite")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	root := anchor.NewID()
	err = backendtest.Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root",
		Access: anchor.Access{All: anchor.Read, Roots: map[anchor.ID]anchor.Level{anchor.NewID(): anchor.Write}}}}}})
	if err != nil {
		f.Fatal(err)
	}
	m := tiered.New(s, root, nil)
	n1, _ := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada", "age": 36})
	n2, _ := m.Create(anchor.KindNode, "Post", map[string]any{"tags": []string{"a", "b"}})
	e1, err := m.Connect(ctx, root, n1, "HasProfile", map[string]any{"since": 2024})
	if err != nil {
		f.Fatal(err)
	}
	e2, err := m.ConnectUndirected(ctx, n1, n2, "Wrote", nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Commit(ctx); err != nil {
		f.Fatal(err)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	tpl := &sqliteTemplate{files: map[string][]byte{}, nodes: []anchor.ID{root, n1, n2},
		edges: map[anchor.ID]bool{e1: true, e2: true}, keys: map[string][][]any{}}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		f.Fatal(err)
	}
	for table, cols := range tableKeys {
		rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s %s ORDER BY %[1]s", strings.Join(cols, ", "), table, tableRows[table]))
		if err != nil {
			f.Fatal(err)
		}
		for rows.Next() {
			key := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range key {
				ptrs[i] = &key[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				f.Fatal(err)
			}
			tpl.keys[table] = append(tpl.keys[table], key)
		}
		if err := rows.Close(); err != nil {
			f.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		tpl.files[e.Name()] = b
	}
	return tpl
}

// FuzzStoredColumns writes a fuzzed value (NULL, an integer, a real, text
// or a blob) into one column of one row of a real store file, then opens
// the store with sqlite.Open and reads and writes through it. Nothing may
// panic and every failure must be a typed error. Whether the row must still
// decode is decided from the stored value alone (see damageSites): if it
// must not, reading it fails with ErrCorrupt in an *anchor.Error naming the
// anchor, Verify lists it, and a write that touches it fails and writes
// nothing; if it must, it reads.
//
// site picks the column (damageSites), row the row of that table.
//
//	go test -run='^$' -fuzz='^FuzzStoredColumns$' -fuzztime=10m ./backend/sqlite/
func FuzzStoredColumns(f *testing.F) {
	tpl := buildSQLiteTemplate(f)
	for i := range damageSites {
		f.Add(uint8(i), uint8(0), uint8(0), int64(0), []byte(nil))                               // NULL
		f.Add(uint8(i), uint8(1), uint8(1), int64(2), []byte(nil))                               // small integer
		f.Add(uint8(i), uint8(2), uint8(1), int64(-1), []byte(nil))                              // negative
		f.Add(uint8(i), uint8(3), uint8(2), int64(10), []byte(nil))                              // real
		f.Add(uint8(i), uint8(0), uint8(3), int64(0), []byte("42"))                              // numeric text
		f.Add(uint8(i), uint8(1), uint8(3), int64(0), []byte("not a value"))                     // text
		f.Add(uint8(i), uint8(2), uint8(4), int64(0), bytes.Repeat([]byte{0x01}, 16))            // 16-byte blob
		f.Add(uint8(i), uint8(4), uint8(4), int64(0), append([]byte{0x03}, make([]byte, 17)...)) // access-shaped blob
	}

	f.Fuzz(func(t *testing.T, site, row, class uint8, n int64, raw []byte) {
		ds := damageSites[int(site)%len(damageSites)]
		keys := tpl.keys[ds.table]
		key := keys[int(row)%len(keys)]
		var val any
		switch class % 5 {
		case 1:
			val = n
		case 2:
			val = float64(n) / 7
		case 3:
			val = string(raw)
		case 4:
			val = append([]byte{}, raw...)
		}

		dir := t.TempDir()
		for name, b := range tpl.files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "t.sqlite")
		cols := tableKeys[ds.table]
		where := strings.Join(cols, " = ? AND ") + " = ?"
		dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}).String() + "?_pragma=" + url.QueryEscape("synchronous(off)")
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.Exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", ds.table, ds.column, where), append([]any{val}, key...)...)
		var se *msqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
			db.Close()
			t.Skipf("SQLite refuses the value: %v", err) // not a state the store can be in
		}
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("the damage reached %d rows (%v), want 1", n, err)
		}
		// Recompute the checksums, as a write of this value would have:
		// what is under test is the decoder's verdict on the value itself
		// (TestChecksumCoversEveryColumn tests that a changed column
		// whose checksum is not recomputed is caught).
		if _, err := db.Exec(sqlite.ResumSQL); err != nil {
			t.Fatal(err)
		}
		// The row is found under its key as it now is.
		after := append([]any{}, key...)
		for i, c := range cols {
			if c == ds.column {
				after[i] = val
			}
		}
		var storedClass string
		var stored any
		err = db.QueryRow(fmt.Sprintf("SELECT typeof(%s), %[1]s FROM %s WHERE %s", ds.column, ds.table, where), after...).Scan(&storedClass, &stored)
		var entryK, entryV any // idx: the damaged entry as stored
		if err == nil && ds.table == "idx" {
			err = db.QueryRow("SELECT k, v FROM idx WHERE k = ?", after...).Scan(&entryK, &entryV)
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}

		s, err := sqlite.Open(path, &sqlite.Options{Synchronous: sqlite.SyncNormal}) // durability is not under test
		if err != nil {
			t.Fatalf("a damaged %s.%s must not stop the store from opening: %v", ds.table, ds.column, err)
		}
		defer s.Close()
		ctx := context.Background()
		rep, err := backend.Verify(ctx, s)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		hasProblem := func(kind string, id anchor.ID) bool {
			for _, p := range rep.Problems {
				if p.Kind == kind && p.ID == id {
					return true
				}
			}
			return false
		}

		switch ds.table {
		case "anchors", "fields":
			id := anchor.ID(key[0].([]byte))
			ok := ds.ok(storedClass, stored, tpl.edges[id])
			var a *anchor.Anchor
			rerr := s.View(ctx, func(v backend.View) error {
				var err error
				a, err = v.Anchor(id)
				return err
			})
			switch {
			case ok && rerr != nil:
				t.Fatalf("%s.%s = %s %v is a valid value, but reading %s fails: %v", ds.table, ds.column, storedClass, stored, id, rerr)
			case !ok && rerr == nil:
				t.Fatalf("%s.%s = %s %v cannot be decoded, but reading %s gives %+v", ds.table, ds.column, storedClass, stored, id, a)
			case rerr != nil:
				var ae *anchor.Error
				if !errors.Is(rerr, anchor.ErrCorrupt) || !errors.As(rerr, &ae) || ae.ID != id {
					t.Fatalf("reading damaged anchor %s: got %v (%T), want an *anchor.Error naming it and wrapping ErrCorrupt", id, rerr, rerr)
				}
				if !hasProblem(backend.ProblemCorrupt, id) {
					t.Fatalf("anchor %s does not decode (%v) but Verify does not list it: %v", id, rerr, rep.Problems)
				}
				set := &delta.Batch{Changes: []delta.Change{{ID: id, Set: map[string][]byte{"x": {0x01}}}}}
				backendtest.RequireFailsCleanly(t, s, rep, set, "a field set on the damaged anchor", anchor.ErrCorrupt)
			}
		case "idx":
			// The edge index entries are the adjacency: an entry changed
			// without its checksum fails every listing of its node that
			// reaches it; one that no longer sits under its node, or
			// whose checksum holds (no damage to the template's bytes,
			// or a fuzzed value that seals itself), must not leave the
			// store verified clean unless it is the template's entry.
			orig := key[0].([]byte)
			node := anchor.ID(orig[1:17])
			unchanged := sameAsTemplate(t, tpl, ds, key, storedClass, stored)
			kb, isBlob := entryK.([]byte)
			underNode := isBlob && bytes.HasPrefix(kb, orig[:17])
			sealed := sealedEntry(entryK, entryV)
			aerr := s.View(ctx, func(v backend.View) error {
				return v.Adjacent(node, func(anchor.Adj) error { return nil })
			})
			switch {
			case unchanged && aerr != nil:
				t.Fatalf("idx.%s holds the template's %s %v, but listing %s fails: %v", ds.column, storedClass, stored, node, aerr)
			case unchanged:
			case underNode && !sealed && !errors.Is(aerr, anchor.ErrCorrupt):
				t.Fatalf("idx.%s = %s %v fails the entry's checksum, but listing %s gives %v", ds.column, storedClass, stored, node, aerr)
			case underNode && !sealed && !hasProblem(backend.ProblemCorrupt, anchor.ID{}):
				t.Fatalf("an edge entry that fails its checksum is not reported: %v", rep.Problems)
			case aerr != nil && !errors.Is(aerr, anchor.ErrCorrupt):
				t.Fatalf("idx.%s = %s %v: listing %s fails with %v, want ErrCorrupt", ds.column, storedClass, stored, node, aerr)
			case rep.Clean():
				t.Fatalf("idx.%s changed to %s %v, which no edge accounts for, but Verify is clean", ds.column, storedClass, stored)
			}
			if aerr != nil {
				// Walkers list edges from the same entries: their
				// listing fails as the View's does, typed.
				if _, err := tiered.New(s, anchor.SystemRoot, nil).Edges(ctx, node); !errors.Is(err, anchor.ErrCorrupt) {
					t.Fatalf("listing the edges of %s beside a damaged edge entry: %v, want ErrCorrupt", node, err)
				}
				del := &delta.Batch{Changes: []delta.Change{{ID: node, Delete: true}}}
				backendtest.RequireFailsCleanly(t, s, rep, del, "deleting a node whose edge entry is damaged", anchor.ErrCorrupt)
			}
		case "log":
			ok := ds.ok(storedClass, stored, false)
			switch {
			case !ok && !hasProblem(backend.ProblemCorrupt, anchor.ID{}):
				t.Fatalf("a change-log entry that does not decode (%s %v) is not reported: %v", storedClass, stored, rep.Problems)
			case ok && rep.Clean() && !sameAsTemplate(t, tpl, ds, key, storedClass, stored):
				t.Fatalf("a change-log entry now names %x, but Verify is clean", stored)
			}
		}

		// Whatever the damage: every read and write works or fails with a
		// typed error, and nothing panics.
		for _, n := range tpl.nodes {
			m := tiered.New(s, anchor.SystemRoot, nil)
			if _, err := m.Get(ctx, n); err != nil && !backendtest.Typed(err) {
				t.Fatalf("Get %s: untyped error %v", n, err)
			}
			if _, err := m.Edges(ctx, n); err != nil && !backendtest.Typed(err) {
				t.Fatalf("Edges %s: untyped error %v", n, err)
			}
		}
		m := tiered.New(s, anchor.SystemRoot, nil)
		for _, n := range tpl.nodes {
			_ = m.Set(ctx, n, "touched", true)
		}
		if err := m.Commit(ctx); err != nil && !backendtest.Typed(err) {
			t.Fatalf("Commit: untyped error %v", err)
		}
	})
}

// sameAsTemplate reports whether the damaged column holds exactly what the
// template store held there.
func sameAsTemplate(t *testing.T, tpl *sqliteTemplate, ds damageSite, key []any, class string, v any) bool {
	dir := t.TempDir()
	for name, b := range tpl.files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "t.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var oclass string
	var orig any
	where := strings.Join(tableKeys[ds.table], " = ? AND ") + " = ?"
	if err := db.QueryRow(fmt.Sprintf("SELECT typeof(%s), %[1]s FROM %s WHERE %s", ds.column, ds.table, where), key...).Scan(&oclass, &orig); err != nil {
		t.Fatal(err)
	}
	if ob, ok := orig.([]byte); ok {
		b, _ := v.([]byte)
		return oclass == class && bytes.Equal(ob, b)
	}
	return oclass == class && fmt.Sprint(orig) == fmt.Sprint(v)
}

// TestVerifySeesEveryLogRow pins a fixed bug: View.Changes read the log with
// `WHERE seq > ?` from 0, so a change-log row at sequence 0 or below (which
// Changes itself would call corrupt: it checks seq <= 0) was never read,
// and Verify called a store holding such a row, naming nothing, clean.
func TestVerifySeesEveryLogRow(t *testing.T) {
	for _, seq := range []int64{0, -7} {
		path := filepath.Join(t.TempDir(), "log.sqlite")
		s, err := sqlite.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		root := anchor.NewID()
		err = backendtest.Apply(context.Background(), s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO log (seq, id) VALUES (?, ?)", seq, []byte("garbage")); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = sqlite.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := backend.Verify(context.Background(), s)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Clean() {
			t.Errorf("a change-log row at sequence %d holding %q is not reported (Verify read %d log entries)", seq, "garbage", rep.LogEntries)
		}
	}
}
