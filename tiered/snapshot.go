package tiered

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"sync"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// snapshot is one read view of the store held open across a walker's
// reads (Options.Snapshot). A View is used by the goroutine that runs its
// callback, so a goroutine holds it and runs each read sent to it.
type snapshot struct {
	reads chan snapRead
	done  chan struct{}
	once  sync.Once
}

// end lets the snapshot's goroutine finish its View; harmless twice.
func (s *snapshot) end() { s.once.Do(func() { close(s.reads) }) }

type snapRead struct {
	fn  func(backend.View) error
	err chan error
}

// view runs fn in a read of the store: the walker's snapshot, taken at its
// first read, with Options.Snapshot; a fresh view otherwise.
func (m *Memory) view(ctx context.Context, fn func(backend.View) error) error {
	if !m.opts.Snapshot {
		return m.store.View(ctx, fn)
	}
	if m.snap == nil {
		s := &snapshot{reads: make(chan snapRead), done: make(chan struct{})}
		started := make(chan error, 1)
		store := m.store // the goroutine must not keep m reachable (see AddCleanup below)
		go func() {
			defer close(s.done)
			err := store.View(context.WithoutCancel(ctx), func(v backend.View) error {
				started <- nil
				for r := range s.reads {
					r.err <- r.fn(v)
				}
				return nil
			})
			if err != nil {
				started <- err
			}
		}()
		if err := <-started; err != nil {
			<-s.done
			return err
		}
		m.snap = s
		// A Memory dropped without Close must not hold its snapshot (on
		// bolt, every writer that grows the file would wait for it).
		runtime.AddCleanup(m, (*snapshot).end, s)
	}
	r := snapRead{fn: fn, err: make(chan error, 1)}
	m.snap.reads <- r
	return <-r.err
}

// release ends the walker's snapshot, if it holds one; the next read takes
// a new one. Writes release it first: the walker then reads what it wrote,
// and a store that must wait for old readers to grow its file (bolt) never
// waits for this walker's own snapshot.
func (m *Memory) release() {
	if m.snap != nil {
		m.snap.end()
		<-m.snap.done
		m.snap = nil
	}
}

// Close ends the walker's snapshot (Options.Snapshot) and empties L1
// without writing anything. A Memory without a snapshot holds nothing
// that needs closing; Close is idempotent.
func (m *Memory) Close() { m.release(); clear(m.l1) }

// sortRows orders rows by edge ID (the order a walker made its edges).
func sortRows(rows []anchor.Adj) {
	slices.SortFunc(rows, func(a, b anchor.Adj) int { return bytes.Compare(a.Edge[:], b.Edge[:]) })
}
