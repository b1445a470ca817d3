package sqlite

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"reflect"

	"modernc.org/libc"
	sqlite "modernc.org/sqlite"
)

// The read pool's connections are modernc's, wrapped in readConn, which
// adds what the index scans need (see scan.go's scanner): the connection's
// sqlite3 handle, a libc thread context of its own to call the C API
// with, and a prepared scan statement kept for the connection's life and
// finalized when database/sql closes it.
//
// modernc does not export the handle; handleOf reads it, by reflection and
// without unsafe, from the unexported field db of its connection type.
// TestReadConnHandle fails when a modernc upgrade renames or retypes it;
// until then such a connection has no handle and its views scan through
// database/sql (scanIndex), as the writer's transactions do.

// readConnector opens the read pool's connections.
type readConnector struct {
	inner sqldriver.Connector
}

func newReadPool(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(&readConnector{inner: c}), nil
}

// modernConn is the part of modernc's connection that database/sql uses,
// which readConn passes on.
type modernConn interface {
	sqldriver.Conn
	sqldriver.ConnBeginTx
	sqldriver.ConnPrepareContext
	sqldriver.ExecerContext
	sqldriver.QueryerContext
	sqldriver.Pinger
	sqldriver.SessionResetter
	sqldriver.Validator
}

func (c *readConnector) Connect(ctx context.Context) (sqldriver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	mc, ok := dc.(modernConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("anchorage: sqlite driver connection %T lacks methods database/sql needs", dc)
	}
	rc := &readConn{modernConn: mc, db: handleOf(dc)}
	if rc.db != 0 {
		rc.tls = libc.NewTLS()
	}
	return rc, nil
}

func (c *readConnector) Driver() sqldriver.Driver { return c.inner.Driver() }

// handleOf returns the sqlite3 handle of modernc's connection dc, or 0
// when dc does not have it where this build expects it.
func handleOf(dc any) uintptr {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	t := v.Elem().Type()
	if t.PkgPath() != "modernc.org/sqlite" || t.Name() != "conn" {
		return 0
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return 0
	}
	return uintptr(f.Uint())
}

// readConn is one connection of the read pool. Like any driver connection
// it is used by one goroutine at a time (database/sql's rule); its
// scanner, tls and handle are used only inside (*sql.Conn).Raw, under
// database/sql's lock of the connection.
type readConn struct {
	modernConn
	db  uintptr   // the sqlite3 handle; 0: none (scans use database/sql)
	tls *libc.TLS // the thread context of this package's C API calls on db

	// scan is the prepared scan statement (nil until the first scan);
	// busy: a scan is using it (a scan started from inside another's
	// callback prepares a statement of its own).
	scan *scanner
	busy bool
}

// Close finalizes the scan statement, then closes the connection.
func (c *readConn) Close() error {
	if c.scan != nil {
		c.scan.close()
		c.scan = nil
	}
	err := c.modernConn.Close()
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
	return err
}
