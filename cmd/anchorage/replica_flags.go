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
	fl.BoolVar(&f.trust, "trust", false, "merge every record as the system root, unchecked (replication between stores one owner controls)")
	cmd.MarkFlagsMutuallyExclusive("as", "trust")
	addJSON(cmd, &f.asJSON, "the counters")
	addQuiet(cmd, &f.quiet)
}

// errNoPrincipal: a merge was asked for without saying who it acts as.
// There is no default: an unchecked (trusted) merge lets the source write
// anything, so it must be asked for by name.
const errNoPrincipal = "%s: say who the merge acts as: --as ROOT checks every record as that root's walker would be; --trust merges unchecked, for stores one owner controls"

// options returns the import options the flags ask for. A merge needs
// --as or --trust (command names it in the error).
func (f *mergeFlags) options(command string) (*replica.ImportOptions, error) {
	o := &replica.ImportOptions{MaxSkew: f.maxSkew}
	if f.as == "" && !f.trust {
		return nil, usageError(errNoPrincipal, command)
	}
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
