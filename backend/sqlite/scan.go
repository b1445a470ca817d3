package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/delta"
)

// A View's index scans (delta's listings and adjacency) step a statement
// of their own through SQLite's C API on the View's connection, rather
// than read rows through database/sql: per row, database/sql and
// modernc's driver take several locks, copy every column into a new
// slice and box it in an interface, which cost more than SQLite's own
// work. A scanner copies the rows of a batch into one reused buffer while
// it holds the connection (inside (*sql.Conn).Raw, under database/sql's
// lock), then hands them to the callback outside it, so that the callback
// may read through the View meanwhile; the statement keeps its place
// between batches. The statement is bounded below only: the scanner
// stops at the first key not below the range's end itself, a Go byte
// comparison of the key it copies anyway instead of SQLite's comparison
// of each row's record with a bound. Every scan runs in the View's read
// transaction, on its snapshot: it checks the View's context before each
// batch, and stops before database/sql can have rolled the transaction
// back.

// Batch bounds: a batch ends after scanBatchRows rows or once the buffer
// holds scanBatchBytes; a buffer that grew past scanKeepBytes (for a huge
// entry) is not kept for the next scan.
const (
	scanBatchRows  = 256
	scanBatchBytes = 32 << 10
	scanKeepBytes  = 1 << 20
)

// errNoHandle: the connection has no sqlite3 handle (see handleOf).
var errNoHandle = errors.New("anchorage: sqlite connection without a handle")

// stepError is a failure SQLite reported to a scanner: its result code
// and message, as modernc's *sqlite.Error carries them (see resultCode).
type stepError struct {
	code int
	msg  string
}

func (e *stepError) Error() string { return e.msg }

// scanner is one prepared scan statement of a readConn and the buffer of
// its current batch. It is used only inside (*sql.Conn).Raw, except for
// the batch (buf and rows), which its scan reads outside.
type scanner struct {
	c      *readConn
	stmt   uintptr // sqlite3_stmt*
	bound  uintptr // C memory holding the bounds bound to the statement
	nbound int     // its size
	hi     []byte  // the scan's upper bound (exclusive), checked here
	active bool    // stepped since it was last reset

	buf  []byte
	rows []span // the batch: each row's key and value in buf
	done bool   // the batch holds the scan's last rows
}

// span locates one row's columns in the batch's buffer: key buf[k0:k1],
// value buf[v0:v1]; k0 or v0 is -1 for a NULL.
type span struct{ k0, k1, v0, v1 int }

// prepare returns a new scanner on c.
func prepare(c *readConn) (*scanner, error) {
	s := &scanner{c: c}
	z, err := libc.CString(sqlIndexFrom)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, z)
	pp := libc.Xmalloc(c.tls, libc.Tsize_t(unsafe.Sizeof(uintptr(0))))
	if pp == 0 {
		return nil, &stepError{code: sqlite3.SQLITE_NOMEM, msg: "out of memory"}
	}
	defer libc.Xfree(c.tls, pp)
	*(*uintptr)(cmem(pp)) = 0
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, pp, 0)
	if rc != sqlite3.SQLITE_OK {
		return nil, s.err(rc)
	}
	s.stmt = *(*uintptr)(cmem(pp))
	return s, nil
}

// close finalizes the statement and frees its bounds.
func (s *scanner) close() {
	if s.stmt != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.stmt)
		s.stmt = 0
	}
	if s.bound != 0 {
		libc.Xfree(s.c.tls, s.bound)
		s.bound = 0
	}
}

// err returns SQLite's error for result code rc on the connection.
func (s *scanner) err(rc int32) error {
	tls, db := s.c.tls, s.c.db
	str := libc.GoString(sqlite3.Xsqlite3_errstr(tls, rc))
	msg := libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db))
	if msg != "" && msg != str {
		str += ": " + msg
	}
	return &stepError{code: int(rc), msg: fmt.Sprintf("%s (%d)", str, rc)}
}

// start binds the scan's bounds, [lo, hi). lo is copied into C memory
// the statement refers to until the next start or close; the statement
// has no upper bound: fill stops at the first key not below hi, which
// spares SQLite a record comparison per row.
func (s *scanner) start(lo, hi []byte) error {
	tls := s.c.tls
	n := len(lo)
	if n+1 > s.nbound {
		if s.bound != 0 {
			libc.Xfree(tls, s.bound)
			s.bound, s.nbound = 0, 0
		}
		// Never 0 bytes: a NULL pointer would bind NULL, not an empty blob.
		p := libc.Xmalloc(tls, libc.Tsize_t(n+1))
		if p == 0 {
			return &stepError{code: sqlite3.SQLITE_NOMEM, msg: "out of memory"}
		}
		s.bound, s.nbound = p, n+1
	}
	copy(unsafe.Slice((*byte)(cmem(s.bound)), s.nbound), lo)
	if rc := sqlite3.Xsqlite3_bind_blob(tls, s.stmt, 1, s.bound, int32(len(lo)), sqlite3.SQLITE_STATIC); rc != sqlite3.SQLITE_OK {
		return s.err(rc)
	}
	s.hi = append(s.hi[:0], hi...)
	s.done = false
	return nil
}

// reset ends the statement's run, which lets go of what it holds.
func (s *scanner) reset() {
	if s.active {
		sqlite3.Xsqlite3_reset(s.c.tls, s.stmt)
		s.active = false
	}
}

// fill steps the statement for the next batch. It fails, and resets the
// statement, if ctx is done or SQLite reports an error; it resets it
// too when the scan reaches its end (done).
func (s *scanner) fill(ctx context.Context) error {
	s.buf, s.rows = s.buf[:0], s.rows[:0]
	if err := ctx.Err(); err != nil {
		s.reset()
		return err
	}
	tls, stmt := s.c.tls, s.stmt
	// Hold the connection's mutex (sqlite3_db_mutex: modernc opens every
	// connection serialized) for the whole batch: step and each
	// sqlite3_column_value enter it themselves, and re-entering a
	// recursive mutex this context already holds costs a counter, not a
	// lock and an unlock each time. It also makes the values
	// sqlite3_column_value returns protected ones, as the C API asks of
	// values read with sqlite3_value_*. Nothing blocks on it meanwhile:
	// the connection is ours until Raw returns.
	mu := sqlite3.Xsqlite3_db_mutex(tls, s.c.db)
	sqlite3.Xsqlite3_mutex_enter(tls, mu)
	defer sqlite3.Xsqlite3_mutex_leave(tls, mu)
	s.active = true
	for len(s.rows) < scanBatchRows && len(s.buf) < scanBatchBytes {
		switch rc := sqlite3.Xsqlite3_step(tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			s.reset()
			s.done = true
			return nil
		default:
			err := s.err(rc)
			s.reset()
			return err
		}
		var r span
		r.k0, r.k1 = s.column(0)
		// Keys come in order, all of them blobs (other types sort
		// before any blob, so below lo), compared as SQLite compares
		// blobs: the first not below hi ends the scan.
		if r.k0 >= 0 && bytes.Compare(s.buf[r.k0:r.k1], s.hi) >= 0 {
			s.buf = s.buf[:r.k0]
			s.reset()
			s.done = true
			return nil
		}
		r.v0, r.v1 = s.column(1)
		s.rows = append(s.rows, r)
	}
	return nil
}

// column appends column i of the current row to the buffer and returns
// where it is, (-1, -1) for NULL. Values that are not blobs come as
// database/sql would give them to a sql.RawBytes (only a damaged entry
// holds one, and delta's checksum rejects it either way).
func (s *scanner) column(i int32) (int, int) {
	tls := s.c.tls
	m := sqlite3.Xsqlite3_column_value(tls, s.stmt, i)
	from := len(s.buf)
	switch sqlite3.Xsqlite3_value_type(tls, m) {
	case sqlite3.SQLITE_NULL:
		return -1, -1
	case sqlite3.SQLITE_INTEGER:
		s.buf = strconv.AppendInt(s.buf, sqlite3.Xsqlite3_value_int64(tls, m), 10)
	case sqlite3.SQLITE_FLOAT:
		s.buf = strconv.AppendFloat(s.buf, sqlite3.Xsqlite3_value_double(tls, m), 'g', -1, 64)
	default: // BLOB, TEXT: the bytes as stored
		p := sqlite3.Xsqlite3_value_blob(tls, m)
		if n := sqlite3.Xsqlite3_value_bytes(tls, m); p != 0 && n > 0 {
			s.buf = append(s.buf, unsafe.Slice((*byte)(cmem(p)), n)...)
		}
	}
	return from, len(s.buf)
}

// cmem turns p, an address in the C heap of modernc's libc (memory Go's
// garbage collector neither manages nor moves), into a pointer.
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// acquire returns c's scanner for a new scan, or a new one if a scan
// (whose callback started this one) is using it.
func (c *readConn) acquire() (*scanner, error) {
	if c.busy {
		return prepare(c)
	}
	if c.scan == nil {
		s, err := prepare(c)
		if err != nil {
			return nil, err
		}
		c.scan = s
	}
	c.busy = true
	return c.scan, nil
}

// release ends s's scan: resets its statement, and finalizes it if it was
// not c's own.
func (c *readConn) release(s *scanner) {
	s.reset()
	if s != c.scan {
		s.close()
		return
	}
	if cap(s.buf) > scanKeepBytes {
		s.buf = nil
	}
	c.busy = false
}

// scan streams the index entries under prefix after after, in key order,
// through a scanner (see above); fn's k and v are valid only during the
// call. An error of fn is returned as it is (stop is set). A connection
// without a handle fails with errNoHandle before fn is called.
func (v *view) scan(prefix, after []byte, fn func(k, v []byte) error) (err error, stop bool) {
	lo, hi := delta.IndexRange(prefix, after)
	var s *scanner
	err = v.conn.Raw(func(dc any) error {
		c, ok := dc.(*readConn)
		if !ok || c.db == 0 {
			return errNoHandle
		}
		var err error
		if s, err = c.acquire(); err != nil {
			return err
		}
		if err = s.start(lo, hi); err == nil {
			err = s.fill(v.ctx)
		}
		if err != nil {
			c.release(s)
			s = nil
		}
		return err
	})
	if s == nil {
		return err, false
	}
	defer func() {
		rerr := v.conn.Raw(func(dc any) error { dc.(*readConn).release(s); return nil })
		if err == nil {
			err = rerr
		}
	}()
	for {
		for _, r := range s.rows {
			var k, val []byte
			if r.k0 >= 0 {
				k = s.buf[r.k0:r.k1]
			}
			if r.v0 >= 0 {
				val = s.buf[r.v0:r.v1]
			}
			if err := fn(k, val); err != nil {
				return err, true
			}
		}
		if s.done {
			return nil, false
		}
		if err := v.conn.Raw(func(any) error { return s.fill(v.ctx) }); err != nil {
			return err, false
		}
	}
}
