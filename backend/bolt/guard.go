package bolt

import (
	"fmt"
	"runtime/debug"

	"github.com/anchorage-db/anchorage/anchor"
)

// guard runs fn, one call into bbolt, and turns a panic inside it (bbolt
// panics on pages it cannot make sense of) or a memory fault on the mapped
// file into an error wrapping anchor.ErrCorrupt that names op. fn must not
// call back into caller code: a caller's own panic is not damage and must
// not be reported as such.
func guard(op string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{op: op, value: r}
		}
	}()
	return fn()
}

// panicError is a panic inside bbolt, caught by guard. It wraps
// anchor.ErrCorrupt: bbolt panics only on pages it cannot make sense of.
type panicError struct {
	op    string
	value any
}

func (e *panicError) Error() string {
	return fmt.Sprintf("anchorage: %s: %v: bbolt failed on a damaged page: %v", e.op, anchor.ErrCorrupt, e.value)
}

func (e *panicError) Unwrap() error { return anchor.ErrCorrupt }
