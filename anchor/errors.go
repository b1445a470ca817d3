package anchor

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every Anchorage package. Callers test for them
// with errors.Is; the engine wraps them, usually in an *Error that names the
// anchor (and field or access level) involved.
var (
	// Lookup.

	// ErrNotFound: no anchor with that ID is stored.
	ErrNotFound = errors.New("anchorage: anchor not found")
	// ErrDeleted: the anchor exists only as a tombstone.
	ErrDeleted = errors.New("anchorage: anchor deleted")
	// ErrInvalidID: a string is not a well-formed anchor ID.
	ErrInvalidID = errors.New("anchorage: invalid anchor id")
	// ErrInvalid: a batch carries input no backend may store (a type or
	// field name that is empty, not UTF-8 or holds control characters, a
	// malformed change). It is checked before the batch is queued, so every
	// backend gives the same verdict and no other walker's batch is affected.
	ErrInvalid = errors.New("anchorage: invalid input")
	// ErrTooLarge: a write is over one of the store's configured limits (a
	// field value's size, fields per anchor, changes per write; see
	// delta.Limits). Nothing of it was written.
	ErrTooLarge = errors.New("anchorage: over a configured limit")

	// Checks inside delta.Apply.

	// ErrExists: a batch tried to create an anchor whose ID is already stored.
	ErrExists = errors.New("anchorage: anchor already exists")
	// ErrAccessDenied: the committing root lacks the access level an operation needs.
	ErrAccessDenied = errors.New("anchorage: access denied")
	// ErrConflict: in optimistic mode, a field was changed by someone else
	// since the walker's snapshot.
	ErrConflict = errors.New("anchorage: conflicting concurrent write")
	// ErrIntegrity: the batch would break the graph (an edge to a missing or
	// deleted node, an edge whose endpoint is not a node, a malformed change).
	ErrIntegrity = errors.New("anchorage: integrity violation")
	// ErrUnique: a write would give a unique index a second holder of one
	// value (a taken username), or a node a second edge of a create-once
	// type. Errors carrying it are *delta.UniqueError, which names the
	// index and the value.
	ErrUnique = errors.New("anchorage: unique value taken")
	// ErrNoIndex: a lookup or a find-or-create named an index the store
	// does not declare.
	ErrNoIndex = errors.New("anchorage: no such index")

	// Encoding and storage.

	// ErrCorrupt: stored bytes fail their checksum or do not decode.
	ErrCorrupt = errors.New("anchorage: corrupt data")
	// ErrVersion: stored data was written by an unknown (newer) format version.
	ErrVersion = errors.New("anchorage: unsupported format version")
	// ErrFieldType: a field's stored value does not decode into the requested type.
	ErrFieldType = errors.New("anchorage: field type mismatch")
	// ErrNoField: the anchor has no field of that name.
	ErrNoField = errors.New("anchorage: no such field")

	// Store lifecycle.

	// ErrClosed: the store (or walker memory) was closed.
	ErrClosed = errors.New("anchorage: store closed")
	// ErrLocked: another process holds the store file (bbolt allows one
	// process per file).
	ErrLocked = errors.New("anchorage: store is locked by another process")
	// ErrNotStore: the file exists but is not an Anchorage store.
	ErrNotStore = errors.New("anchorage: not an anchorage store")
	// ErrReadOnly: a write was attempted on a store opened read-only.
	ErrReadOnly = errors.New("anchorage: store is read-only")
	// ErrFull: the disk (or the store's configured size limit) is full; the
	// commit did not land and the store stays consistent.
	ErrFull = errors.New("anchorage: store is full")
	// ErrBusy: another writer held the database for longer than the
	// caller's context allowed.
	ErrBusy = errors.New("anchorage: database busy")
	// ErrOutcomeUnknown: the connection was lost while committing; the batch
	// may or may not have landed.
	ErrOutcomeUnknown = errors.New("anchorage: commit outcome unknown")
)

// Error describes a failure about one anchor. It wraps one of the sentinel
// errors above, so errors.Is(err, ErrAccessDenied) and friends keep working.
type Error struct {
	Op    string // what was being done: "get", "set", "connect", "delete", "decode", ...
	ID    ID     // the anchor involved
	Field string // the field involved, if any
	Need  Level  // for ErrAccessDenied: the level the operation needed
	Root  ID     // for ErrAccessDenied: the root that asked
	Err   error  // the sentinel (possibly wrapped further)
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	msg += fmt.Sprintf(" (anchor %s", e.ID)
	if e.Field != "" {
		msg += fmt.Sprintf(", field %q", e.Field)
	}
	if errors.Is(e.Err, ErrAccessDenied) {
		msg += fmt.Sprintf(", root %s needs %s", e.Root, e.Need)
	}
	return msg + ")"
}

// Unwrap returns the underlying sentinel.
func (e *Error) Unwrap() error { return e.Err }
