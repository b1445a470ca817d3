package delta

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Limits bound what one write may carry, so that one walker's oversized
// write fails alone, with anchor.ErrTooLarge, instead of taking the store's
// writer (and every other walker waiting behind it) for minutes. Zero
// fields mean the defaults below; a negative one means no limit.
type Limits struct {
	// MaxValueBytes bounds one field value's encoded size. Default 16 MiB.
	MaxValueBytes int
	// MaxFields bounds how many fields one anchor holds after the write.
	// Default 4096. A merged record that would take a stored anchor past
	// it (its fields and the stored ones together) is refused and
	// reported, as a record the merge's root may not write is.
	MaxFields int
	// MaxChanges bounds the changes of one Batch, or the anchors of one
	// Merge. Default 1,000,000. A node's cascade delete is one change,
	// whatever the number of edges it takes with it.
	MaxChanges int
}

// The default limits.
const (
	DefaultMaxValueBytes = 16 << 20
	DefaultMaxFields     = 4096
	DefaultMaxChanges    = 1_000_000
)

// WithDefaults returns l with zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxValueBytes == 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	if l.MaxFields == 0 {
		l.MaxFields = DefaultMaxFields
	}
	if l.MaxChanges == 0 {
		l.MaxChanges = DefaultMaxChanges
	}
	return l
}

func over(limit, n int) bool { return limit > 0 && n > limit }

// checkLimits refuses a write over l with an error wrapping
// anchor.ErrTooLarge, naming the anchor and field where there is one. The
// number of fields an anchor ends up with is checked again by Apply, which
// knows the stored ones.
func checkLimits(w Write, l Limits) error {
	l = l.WithDefaults()
	tooLarge := func(id anchor.ID, field, format string, args ...any) error {
		return &anchor.Error{Op: "validate", ID: id, Field: field,
			Err: fmt.Errorf("%w: "+format, append([]any{anchor.ErrTooLarge}, args...)...)}
	}
	count := func(id anchor.ID, n int) error {
		if over(l.MaxFields, n) {
			return tooLarge(id, "", "%d fields (at most %d per anchor)", n, l.MaxFields)
		}
		return nil
	}
	size := func(id anchor.ID, name string, v []byte) error {
		if over(l.MaxValueBytes, len(v)) {
			return tooLarge(id, name, "value of %d bytes (at most %d)", len(v), l.MaxValueBytes)
		}
		return nil
	}
	values := func(id anchor.ID, fields map[string][]byte) error {
		if err := count(id, len(fields)); err != nil {
			return err
		}
		for name, v := range fields {
			if err := size(id, name, v); err != nil {
				return err
			}
		}
		return nil
	}
	anchorValues := func(a *anchor.Anchor) error {
		if err := count(a.ID, len(a.Fields)); err != nil {
			return err
		}
		for name, f := range a.Fields {
			if err := size(a.ID, name, f.Value); err != nil {
				return err
			}
		}
		return nil
	}
	switch w := w.(type) {
	case *Batch:
		if over(l.MaxChanges, len(w.Changes)) {
			return tooLarge(anchor.SystemRoot, "", "a batch of %d changes (at most %d)", len(w.Changes), l.MaxChanges)
		}
		for i := range w.Changes {
			c := &w.Changes[i]
			if c.Create != nil {
				if err := anchorValues(c.Create); err != nil {
					return err
				}
			}
			if err := values(c.ID, c.Set); err != nil {
				return err
			}
		}
	case *Merge:
		if over(l.MaxChanges, len(w.Anchors)) {
			return tooLarge(anchor.SystemRoot, "", "a merge of %d anchors (at most %d)", len(w.Anchors), l.MaxChanges)
		}
		for _, a := range w.Anchors {
			if a != nil {
				if err := anchorValues(a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
