package anchor

import (
	"fmt"
	"sync"
	"time"
)

// HLC is a hybrid logical clock timestamp: the upper 48 bits are Unix
// milliseconds, the lower 16 bits a logical counter that orders events
// within one millisecond (or while the wall clock stands still or runs
// backwards). The zero HLC means "never".
type HLC uint64

const logicalBits = 16

// MakeHLC builds a stamp from wall milliseconds and a logical counter.
func MakeHLC(ms int64, logical uint16) HLC { return HLC(uint64(ms)<<logicalBits | uint64(logical)) }

// Millis returns the wall-clock part in Unix milliseconds.
func (h HLC) Millis() int64 { return int64(uint64(h) >> logicalBits) }

// Logical returns the logical counter.
func (h HLC) Logical() uint16 { return uint16(h) }

// Time returns the wall-clock part as a time.Time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Millis()).UTC() }

func (h HLC) String() string {
	if h == 0 {
		return "0"
	}
	return fmt.Sprintf("%s+%d", h.Time().Format("2006-01-02T15:04:05.000Z"), h.Logical())
}

// Clock issues strictly increasing HLC stamps. Each store owns one; there is
// no global clock. Clock is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  func() time.Time
	last HLC
}

// NewClock returns a clock reading wall time from now (time.Now if nil).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Now returns a stamp greater than every stamp issued or observed before.
func (c *Clock) Now() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.next()
	return c.last
}

// Peek returns the stamp Now would return, without issuing it: a write
// that may still fail takes its stamp with Peek and records it with
// Observe only once it landed, so a refused write leaves no trace on the
// clock.
func (c *Clock) Peek() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next()
}

func (c *Clock) next() HLC {
	if wall := MakeHLC(c.now().UnixMilli(), 0); wall > c.last {
		return wall
	}
	return c.last + 1
}

// Observe moves the clock forward to at least h (a stamp read from disk or
// received from another replica), so later stamps order after it.
func (c *Clock) Observe(h HLC) {
	c.mu.Lock()
	if h > c.last {
		c.last = h
	}
	c.mu.Unlock()
}

// Last returns the greatest stamp issued or observed.
func (c *Clock) Last() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Wall returns the clock's current wall time as an HLC with logical 0; used
// to bound how far in the future a received stamp may be.
func (c *Clock) Wall() HLC { return MakeHLC(c.now().UnixMilli(), 0) }
