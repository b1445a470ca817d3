package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/replica"
)

// followFlags are sync's flags for --follow (and its chunk size and
// --reidentify).
type followFlags struct {
	follow     bool
	interval   time.Duration
	maxBackoff time.Duration
	chunk      int
	reidentify bool
}

func addFollowFlags(cmd *cobra.Command, f *followFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.follow, "follow", false, "keep syncing until interrupted (see above)")
	fl.DurationVar(&f.interval, "interval", time.Second, "with --follow: the pause between rounds once caught up")
	fl.DurationVar(&f.maxBackoff, "max-backoff", 30*time.Second, "with --follow: the longest pause after failed rounds")
	fl.BoolVar(&f.reidentify, "reidentify", false, "copy a cp copy (--from) into a new, empty --to store with its own identity")
	fl.IntVar(&f.chunk, "chunk", 1000, "records per chunk (each chunk is applied in one transaction with the cursor)")
}

type roundJSON struct {
	Round   int    `json:"round"`
	Records int    `json:"records"`
	Later   int    `json:"refused_for_now"`
	Lag     uint64 `json:"lag"`
	Error   string `json:"error,omitempty"`
	Backoff string `json:"backoff,omitempty"`
}

// runFollow runs replica.Follow until the command's context is done (an
// interrupt or SIGTERM): exit code 0.
func runFollow(cmd *cobra.Command, src, dst backend.Store, iopts *replica.ImportOptions, ff *followFlags, mf *mergeFlags) error {
	if ff.interval <= 0 || ff.maxBackoff <= 0 {
		return usageError("sync: --interval and --max-backoff must be positive")
	}
	out := cmd.OutOrStdout()
	report := func(r replica.FollowReport) {
		if r.Records == 0 && r.Err == nil && r.Later == 0 {
			return // a quiet round
		}
		j := roundJSON{Round: r.Round, Records: r.Records, Later: r.Later, Lag: r.Lag}
		if r.Err != nil {
			j.Error, j.Backoff = r.Err.Error(), r.Backoff.String()
		}
		switch {
		case mf.asJSON:
			_ = writeJSON(out, j)
		case r.Err != nil:
			fmt.Fprintf(cmd.ErrOrStderr(), "sync: round %d failed (%d records applied before): %v; retrying in %s\n", r.Round, r.Records, r.Err, r.Backoff)
		case !mf.quiet:
			fmt.Fprintf(out, "sync: round %d: %d records applied, %d refused for now, lag %d\n", r.Round, r.Records, r.Later, r.Lag)
		}
	}
	err := replica.Follow(ctxOf(cmd), src, dst, &replica.FollowOptions{Import: *iopts,
		Interval: ff.interval, MaxBackoff: ff.maxBackoff, Report: report})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return fail(err)
}
