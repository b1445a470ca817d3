package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/anchorage-db/anchorage/backend"
)

// classify marks the errors after which a transaction can simply run
// again, because nothing of it landed: lock conflicts (backend.ErrRetry),
// and a database that could not be reached or a connection lost before
// COMMIT was sent (unavailable: backend.ErrRetry and
// backend.ErrUnavailable). conn is the connection err came from, nil if
// none was acquired. Only errors met before COMMIT, or a COMMIT the
// server answered with an ERROR, may be classified: a connection lost
// during COMMIT is anchor.ErrOutcomeUnknown (see Commit).
func (s *driver) classify(err error, conn *pgx.Conn) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03" ||
		pe.Code == "23505" && pe.TableName == "idx") { // an index key another transaction took: see PutIndex
		return fmt.Errorf("%w: %w", backend.ErrRetry, err)
	}
	if isUnavailable(err, conn) {
		s.lost()
		return &unavailableError{err}
	}
	return err
}

// lost drops the pool's idle connections (and those in use, when they are
// released): one connection found lost or on a read-only server says the
// server they all lead to died or was demoted, and a fresh connection
// finds the primary of the connection string
// (target_session_attrs=read-write).
func (s *driver) lost() { s.pool.Reset() }

// isUnavailable reports whether err says that no writable server could be
// reached, or that the server or the connection went away.
func isUnavailable(err error, conn *pgx.Conn) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce):
		// No host accepted a read-write connection. Not so if a server
		// refused this client (bad password, no such database, no right to
		// connect): waiting would not help.
		return !errors.As(err, &pe) || !(strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000" || pe.Code == "42501")
	case errors.As(err, &pe):
		// 08: connection exception; 57P01-03: the server is shutting down,
		// crashed, or cannot take connections yet; 25006: a read-only
		// transaction, on a server that is (now) a standby.
		return fatal(pe) || strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "25006"
	case conn != nil && conn.IsClosed():
		return true // pgconn closes a connection on any network error
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED)
}

// fatal reports whether the server ended the session with pe.
func fatal(pe *pgconn.PgError) bool {
	sev := pe.SeverityUnlocalized
	if sev == "" {
		sev = pe.Severity
	}
	return sev == "FATAL" || sev == "PANIC"
}

// unavailableError is a failure to reach a writable server, or a
// connection lost before COMMIT was sent: nothing landed, and the engine
// runs the transaction again while the callers' contexts allow.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string {
	return "anchorage: postgres: database unavailable: " + e.err.Error()
}

func (e *unavailableError) Unwrap() []error {
	return []error{backend.ErrRetry, backend.ErrUnavailable, e.err}
}
