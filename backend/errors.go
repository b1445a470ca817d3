package backend

import (
	"errors"
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
)

// ErrOptions: Open was given options it cannot honour.
var ErrOptions = errors.New("anchorage: invalid options")

// ErrUnavailable marks a failure to reach a writable database: no server
// of the connection string accepted a read-write connection (during a
// failover, between the primary's death and the standby's promotion), or
// the connection was lost before COMMIT was sent. Nothing of the operation
// took effect. A driver wraps it together with ErrRetry, so the engine
// runs the transaction again while the caller's context allows; if the
// context ends first, Apply returns an error wrapping ErrUnavailable and
// the context's error (never ErrRetry).
var ErrUnavailable = errors.New("anchorage: database unavailable")

// BusyError reports that another connection (usually another process)
// held a lock on the store for longer than the caller was willing to wait.
// The engine retries locked transactions for as long as the caller's
// context allows, so this error only ever reaches a caller whose context
// was done; Err is that context's error. Nothing of the operation took
// effect.
//
// errors.Is(err, anchor.ErrBusy) reports true, as does errors.Is with the
// context's error (context.DeadlineExceeded or context.Canceled). A
// BusyError is an immutable value, safe to share between goroutines.
type BusyError struct {
	Op     string        // "apply", "view" or "open"
	Path   string        // the store (file path or schema)
	Waited time.Duration // how long the caller waited in all
	Err    error         // why waiting stopped (the context's error); may be nil
}

func (e *BusyError) Error() string {
	msg := fmt.Sprintf("anchorage: %s: database busy: %s was locked by another connection; gave up after waiting %s",
		e.Op, e.Path, e.Waited.Round(time.Millisecond))
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Unwrap returns anchor.ErrBusy and, if set, the context's error.
func (e *BusyError) Unwrap() []error {
	if e.Err == nil {
		return []error{anchor.ErrBusy}
	}
	return []error{anchor.ErrBusy, e.Err}
}
