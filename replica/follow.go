package replica

import (
	"context"
	"errors"
	"time"

	"github.com/anchorage-db/anchorage/backend"
)

// FollowOptions configures Follow. Nil means the defaults.
type FollowOptions struct {
	// Import configures each round's Sync (MaxSkew, As, ChunkRecords, Now).
	Import ImportOptions
	// Interval is the pause between rounds once dst has caught up.
	// Default one second.
	Interval time.Duration
	// MaxBackoff caps the pause after failed rounds, which doubles from
	// Interval with every consecutive failure. Default 30 seconds.
	MaxBackoff time.Duration
	// Report, if set, is called after every round.
	Report func(FollowReport)
}

// FollowReport describes one round of Follow.
type FollowReport struct {
	Round   int
	Records int    // records applied by this round
	Later   int    // records refused for now (retried by later rounds)
	Lag     uint64 // source changes past dst's cursor after the round
	Err     error  // the round's error; the round is retried after Backoff
	Backoff time.Duration
}

// Follow keeps dst up to date with src until ctx is done, and then
// returns ctx's error. Each round is a Sync: it sends src's changes after
// dst's cursor in chunks, each applied together with the cursor, so a
// Follow stopped anywhere (a crash, a dropped link, SIGKILL) resumes with
// the next Follow or Sync exactly after its last applied chunk. A round
// that fails is retried after a pause that doubles up to MaxBackoff;
// records are never dropped, however often a round fails, and records
// refused for now (stamped beyond MaxSkew) are retried by every round
// until they apply. When src has nothing new, a round costs two reads.
// Follow returns at once, with a *PurgedError, when src purged deletes dst
// has not imported (see Sync): dst must be rebuilt.
func Follow(ctx context.Context, src, dst backend.Store, opts *FollowOptions) error {
	var o FollowOptions
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	backoff := o.Interval
	var lastSeq uint64
	pending := true // the first round always syncs
	for round := 1; ; round++ {
		rep := FollowReport{Round: round}
		seq, lag, err := lagOf(ctx, src, dst)
		if err == nil && (pending || seq != lastSeq || lag > 0) {
			var res *SyncResult
			res, err = Sync(ctx, src, dst, &o.Import)
			if errors.Is(err, ErrPurged) {
				return err // no later round can succeed: dst must be rebuilt
			}
			if res != nil && res.Import != nil {
				rep.Records, rep.Later = res.Import.Records, res.Import.Later
			}
			if err == nil {
				seq, lag, err = lagOf(ctx, src, dst)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pause := o.Interval
		rep.Lag, rep.Err = lag, err
		if err != nil {
			rep.Backoff, pause = backoff, backoff
			backoff = min(2*backoff, o.MaxBackoff)
		} else {
			backoff = o.Interval
			lastSeq, pending = seq, rep.Later > 0
		}
		if o.Report != nil {
			o.Report(rep)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// lagOf returns src's sequence and how far dst's cursor for src is behind it.
func lagOf(ctx context.Context, src, dst backend.Store) (seq, lag uint64, err error) {
	var meta backend.Meta
	if err := src.View(ctx, func(v backend.View) error { meta = v.Meta(); return nil }); err != nil {
		return 0, 0, err
	}
	cur, _, err := ReadCursor(ctx, dst, meta.StoreID)
	if err != nil {
		return 0, 0, err
	}
	if meta.Seq > cur.Through {
		lag = meta.Seq - cur.Through
	}
	return meta.Seq, lag, nil
}
