package replica

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Progress reports how far an export or import has got.
type Progress struct {
	Chunks  int // chunks written or applied so far
	Records int // anchor records so far
	Total   int // records in all (export: known up front; import: 0 until the end)
}

// ExportOptions configures Export. Nil means the defaults.
type ExportOptions struct {
	// After exports the changes with a sequence number greater than After
	// (0: everything).
	After uint64
	// ChunkRecords is how many anchors go in one chunk. Default 1000.
	ChunkRecords int
	// Progress, if set, is called after each chunk.
	Progress func(Progress)
}

// ExportResult describes a finished export.
type ExportResult struct {
	Header  Header
	Chunks  int
	Records int
}

// Export writes the changes of s since opts.After to w, from one consistent
// snapshot. Nodes, walkers and objects come before edges, so an importer
// always has an edge's endpoints before the edge. Fields written by s's own
// replica are stamped with its replica ID on the way out, so every field in
// an export names its origin.
func Export(ctx context.Context, s backend.Store, w io.Writer, opts *ExportOptions) (*ExportResult, error) {
	var o ExportOptions
	if opts != nil {
		o = *opts
	}
	if o.ChunkRecords <= 0 {
		o.ChunkRecords = 1000
	}
	res := &ExportResult{}
	err := s.View(ctx, func(v backend.View) error {
		meta := v.Meta()
		res.Header = Header{ExportID: anchor.NewID(), SourceStore: meta.StoreID, SourceReplica: meta.ReplicaID,
			After: o.After, Through: meta.Seq, Created: meta.HLC}
		var ids []anchor.ID
		seqs := make(map[anchor.ID]uint64)
		if err := v.Changes(o.After, func(seq uint64, id anchor.ID) error { ids = append(ids, id); seqs[id] = seq; return nil }); err != nil {
			return err
		}
		// Two passes over the change log: non-edges, then edges.
		var edges []anchor.ID
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
				o.Progress(Progress{Chunks: res.Chunks, Records: res.Records, Total: len(ids)})
			}
			return ctx.Err()
		}
		add := func(a *anchor.Anchor) error {
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
			cur.Records = append(cur.Records, record{ID: a.ID, Rec: rec, Seq: seqs[a.ID]})
			if len(cur.Records) >= o.ChunkRecords {
				return emit()
			}
			return nil
		}
		for _, id := range ids {
			a, err := v.Anchor(id)
			if err != nil {
				return err
			}
			if a.Kind == anchor.KindEdge {
				edges = append(edges, id)
				continue
			}
			if err := add(a); err != nil {
				return err
			}
		}
		for _, id := range edges {
			a, err := v.Anchor(id)
			if err != nil {
				return err
			}
			if err := add(a); err != nil {
				return err
			}
		}
		if err := emit(); err != nil {
			return err
		}
		if err := fw.section(tagTrailer, &trailer{Chunks: res.Chunks, Records: res.Records}); err != nil {
			return err
		}
		return fw.flush()
	})
	if err != nil {
		return nil, fmt.Errorf("anchorage: export: %w", err)
	}
	return res, nil
}

// SyncResult describes one Sync.
type SyncResult struct {
	Export *ExportResult
	Import *ImportResult
}

// Sync brings dst up to date with src: it exports from src the changes
// since dst's cursor for src and imports them into dst, streaming (no file).
// Sync both ways for two replicas to converge.
func Sync(ctx context.Context, src, dst backend.Store, opts *ImportOptions) (*SyncResult, error) {
	var srcMeta backend.Meta
	if err := src.View(ctx, func(v backend.View) error { srcMeta = v.Meta(); return nil }); err != nil {
		return nil, err
	}
	cur, _, err := ReadCursor(ctx, dst, srcMeta.StoreID)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	res := &SyncResult{}
	exportErr := make(chan error, 1)
	go func() {
		var err error
		res.Export, err = Export(ctx, src, pw, &ExportOptions{After: cur.Through})
		pw.CloseWithError(err)
		exportErr <- err
	}()
	res.Import, err = Import(ctx, dst, pr, opts)
	pr.CloseWithError(errors.New("import stopped"))
	if eerr := <-exportErr; eerr != nil && err == nil {
		err = eerr
	}
	return res, err
}

// CheckResult describes an export file that Check found intact.
type CheckResult struct {
	Header  Header
	Chunks  int
	Records int
}

// Check reads a whole export without applying it: every section's checksum,
// the chunk order, the trailer's counts and every anchor record. Callers
// that must not modify a store on bad input (the anchorage command) check
// a file before importing it. Errors are as Import's.
func Check(r io.Reader) (*CheckResult, error) {
	fr, h, err := openExport(r)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Header: h}
	for {
		tag, payload, err := fr.next()
		if err != nil {
			return nil, err
		}
		switch tag {
		case tagTrailer:
			var tr trailer
			if err := decode(payload, &tr, "trailer"); err != nil {
				return nil, err
			}
			if tr.Chunks != res.Chunks || tr.Records != res.Records {
				return nil, corrupt("trailer counts %d chunks and %d records, file holds %d and %d", tr.Chunks, tr.Records, res.Chunks, res.Records)
			}
			return res, nil
		case tagChunk:
			ch, err := decodeChunk(payload, res.Chunks)
			if err != nil {
				return nil, err
			}
			for _, rec := range ch.Records {
				if _, err := anchor.Unmarshal(rec.ID, rec.Rec); err != nil {
					return nil, fmt.Errorf("export %s: %w", res.Header.ExportID, err)
				}
			}
			res.Chunks++
			res.Records += len(ch.Records)
		default:
			return nil, corrupt("unknown section %q", tag)
		}
	}
}
