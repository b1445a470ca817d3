package replica

import (
	"context"
	"fmt"
	"io"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// ExportOptions configures Export. Nil means the defaults.
type ExportOptions struct {
	// After exports the changes with a sequence number greater than After
	// (0: everything).
	After uint64
	// ChunkRecords is how many anchors go in one chunk. Default 1000.
	ChunkRecords int
	// Skip, if set, is asked about every anchor before it is written; an
	// anchor it skips is left out (Sync skips what the destination holds
	// already). Its sequence still counts as exported.
	Skip func(a *anchor.Anchor) (bool, error)
	// Progress, if set, is called after each chunk.
	Progress func(Progress)
}

// ExportResult describes a finished export.
type ExportResult struct {
	Header  Header
	Chunks  int
	Records int
	Skipped int // anchors left out by ExportOptions.Skip
}

// Export writes the changes of s since opts.After to w, from one consistent
// snapshot, in change-log order: each chunk names the greatest sequence it
// covers, so an importer's cursor advances chunk by chunk and a sync
// interrupted anywhere resumes after its last applied chunk. An edge may
// come before an endpoint that changed after it; the importer holds it
// until the endpoint arrives (see delta.CountHeld). Fields written by s's own
// replica are stamped with its replica ID on the way out, so every field in
// an export names its origin. An export after a sequence older than s's
// purge horizon is refused with a *PurgedError (errors.Is ErrPurged).
func Export(ctx context.Context, s backend.Store, w io.Writer, opts *ExportOptions) (*ExportResult, error) {
	var o ExportOptions
	if opts != nil {
		o = *opts
	}
	if o.ChunkRecords <= 0 {
		o.ChunkRecords = 1000
	}
	res := &ExportResult{}
	sp, err := newSpool()
	if err != nil {
		return nil, fmt.Errorf("anchorage: export: %w", err)
	}
	defer sp.close()
	// The snapshot is read into the spool first and written out after the
	// View ends: a View held while w (or Skip, which reads another store)
	// waits could hold up this store's writers (a bolt writer growing the
	// file waits for every reader), and two stores syncing both ways would
	// wait for each other for good.
	total := 0
	err = s.View(ctx, func(v backend.View) error {
		meta := v.Meta()
		if err := checkHorizon(v, o.After); err != nil {
			return err
		}
		purged, err := purgedSince(v)
		if err != nil {
			return err
		}
		res.Header = Header{ExportID: anchor.NewID(), SourceStore: meta.StoreID, SourceReplica: meta.ReplicaID,
			After: o.After, Through: meta.Seq, Created: meta.HLC, Ordered: true, Purged: purged}
		type change struct {
			seq uint64
			id  anchor.ID
		}
		var changes []change
		if err := v.Changes(o.After, func(seq uint64, id anchor.ID) error {
			changes = append(changes, change{seq, id})
			return nil
		}); err != nil {
			return err
		}
		total = len(changes)
		for i, c := range changes {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			a, err := v.Anchor(c.id)
			if err != nil {
				return err
			}
			for name, f := range a.Fields {
				if f.Origin.IsZero() {
					f.Origin = meta.ReplicaID
					a.Fields[name] = f
				}
			}
			rec, err := anchor.Marshal(a)
			if err != nil {
				return err
			}
			if err := sp.put(record{ID: a.ID, Rec: rec, Seq: c.seq}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = writeExport(ctx, w, sp, res, total, o)
	}
	if err != nil {
		return nil, fmt.Errorf("anchorage: export: %w", err)
	}
	return res, nil
}

// writeExport writes the spooled records to w in chunks, asking o.Skip
// about each.
func writeExport(ctx context.Context, w io.Writer, sp *spool, res *ExportResult, total int, o ExportOptions) error {
	fw := newWriter(w)
	if err := fw.section(tagHeader, &res.Header); err != nil {
		return err
	}
	cur := chunk{}
	emit := func() error {
		if len(cur.Records) == 0 {
			return nil
		}
		if err := fw.section(tagChunk, &cur); err != nil {
			return err
		}
		res.Chunks++
		res.Records += len(cur.Records)
		cur = chunk{Index: res.Chunks}
		if o.Progress != nil {
			o.Progress(Progress{Chunks: res.Chunks, Records: res.Records, Total: total - res.Skipped})
		}
		return ctx.Err()
	}
	err := sp.each(func(r record) error {
		cur.Through = r.Seq
		if o.Skip != nil {
			a, err := anchor.Unmarshal(r.ID, r.Rec)
			if err != nil {
				return err
			}
			skip, err := o.Skip(a)
			if err != nil {
				return err
			}
			if skip {
				res.Skipped++
				return nil
			}
		}
		cur.Records = append(cur.Records, r)
		if len(cur.Records) >= o.ChunkRecords {
			return emit()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := emit(); err != nil {
		return err
	}
	if err := fw.section(tagTrailer, &trailer{Chunks: res.Chunks, Records: res.Records}); err != nil {
		return err
	}
	return fw.flush()
}
