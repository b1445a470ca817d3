package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/replica"
)

// mergeFlags are the flags of the commands that merge changes into a store
// (import, sync).
type mergeFlags struct {
	maxSkew       time.Duration
	as            string
	trust         bool
	asJSON, quiet bool
}

// addMergeFlags adds --max-skew, --as, --trust, --json and -q.
func addMergeFlags(cmd *cobra.Command, f *mergeFlags) {
	fl := cmd.Flags()
	fl.DurationVar(&f.maxSkew, "max-skew", time.Minute, "refuse for now records stamped further than this ahead of this machine's clock")
	fl.StringVar(&f.as, "as", "", "check every record as this root's walker would be (ownership, grants); records it may not write are refused")
	fl.BoolVar(&f.trust, "trust", false, "merge every record as the system root (replication between one owner's stores; the default without --as)")
	cmd.MarkFlagsMutuallyExclusive("as", "trust")
	addJSON(cmd, &f.asJSON, "the counters")
	addQuiet(cmd, &f.quiet)
}

// options returns the import options the flags ask for.
func (f *mergeFlags) options() (*replica.ImportOptions, error) {
	o := &replica.ImportOptions{MaxSkew: f.maxSkew}
	if f.as != "" {
		root, err := anchor.ParseID(f.as)
		if err != nil {
			return nil, usageError("--as %q is not a root ID: %v", f.as, err)
		}
		if root.IsZero() {
			return nil, usageError("--as names the system root; use --trust")
		}
		o.As = root
	}
	return o, nil
}
