package backend

import (
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/delta"
)

// Options are the engine's settings, the same for every backend. Each
// backend's Options carries these fields and hands them over when it
// opens; nil and zero fields mean the defaults.
type Options struct {
	// NoGroupCommit makes every Apply run its own transaction in the
	// caller's goroutine instead of sharing one with concurrent callers.
	// Slower (one durable commit per batch); the benchmarks' baseline.
	NoGroupCommit bool
	// MaxGroup caps how many batches share one transaction. Default
	// 1024. Below it a group is capped at half of the batches waiting,
	// but not below 64: with many walkers two groups alternate, one
	// committing while the other's walkers run.
	MaxGroup int
	// MaxBackoff bounds the randomised exponential pause (from 1ms)
	// before a transaction that met a lock conflict runs again. Default
	// 10ms.
	MaxBackoff time.Duration
	// Now is the wall clock for HLC stamps. Default time.Now.
	Now func() time.Time
	// Limits bound one write: a field value's size, fields per anchor,
	// changes per write (see delta.Limits for the defaults). A write over
	// them fails alone with anchor.ErrTooLarge.
	Limits delta.Limits
}

// defaultMaxGroup is Options.MaxGroup's default.
const defaultMaxGroup = 1024

// WithDefaults returns a copy of o (nil allowed) with every zero field
// filled in, or an error wrapping ErrOptions. Backends call it from their
// own Open, so every backend validates the engine's options one way.
func (o *Options) WithDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	switch {
	case c.MaxGroup < 0:
		return c, fmt.Errorf("%w: MaxGroup %d is negative", ErrOptions, c.MaxGroup)
	case c.MaxBackoff < 0:
		return c, fmt.Errorf("%w: MaxBackoff %s is negative", ErrOptions, c.MaxBackoff)
	}
	if c.MaxGroup == 0 {
		c.MaxGroup = defaultMaxGroup
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Limits = c.Limits.WithDefaults()
	return c, nil
}
