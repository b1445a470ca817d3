package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
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
		if err := v.Changes(o.After, func(_ uint64, id anchor.ID) error { ids = append(ids, id); return nil }); err != nil {
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
			cur.Records = append(cur.Records, record{ID: a.ID, Rec: rec})
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

// ImportOptions configures Import. Nil means the defaults.
type ImportOptions struct {
	// MaxSkew is how far past this machine's clock a remote stamp may be
	// before the anchor carrying it is refused (and reported in the
	// result). Default one minute.
	MaxSkew time.Duration
	// Now is this machine's clock. Default time.Now.
	Now func() time.Time
	// Progress, if set, is called after each chunk is applied.
	Progress func(Progress)
}

// ImportResult describes a finished (or interrupted) import.
type ImportResult struct {
	Header  Header
	Chunks  int // chunks applied by this call
	Skipped int // chunks already applied by an earlier, interrupted import of the same export
	Records int // records applied by this call
	Stats   delta.MergeStats
}

// Cursor is what an importing store remembers about one source store: it
// is written in the same transaction as each chunk, so an interrupted
// import resumes where it stopped.
type Cursor struct {
	// Through: every change of the source up to this sequence is applied.
	Through uint64 `msgpack:"t"`
	// ExportID and Chunks: progress inside the export being imported.
	ExportID anchor.ID `msgpack:"x"`
	Chunks   int       `msgpack:"c"`
}

func cursorKey(source anchor.ID) string { return "import/" + source.String() }

// ReadCursor returns what s has imported from the source store (zero
// Cursor if nothing).
func ReadCursor(ctx context.Context, s backend.Store, source anchor.ID) (Cursor, backend.Meta, error) {
	var c Cursor
	var meta backend.Meta
	err := s.View(ctx, func(v backend.View) error {
		meta = v.Meta()
		raw, err := v.MetaValue(cursorKey(source))
		if err != nil || raw == nil {
			return err
		}
		if err := msgpack.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%w: import cursor for %s: %v", anchor.ErrCorrupt, source, err)
		}
		return nil
	})
	return c, meta, err
}

// Import merges an export into s, chunk by chunk, each chunk in one
// transaction together with the import cursor (see delta's merge rules).
// Re-importing the same export changes nothing and logs nothing; an import
// interrupted by a crash or a damaged file resumes, with the same file,
// after its last applied chunk.
//
// A damaged file yields anchor.ErrCorrupt once its first bad section is
// reached (the chunks before it stay applied); a file of a newer format
// anchor.ErrVersion; something else ErrNotExport.
func Import(ctx context.Context, s backend.Store, r io.Reader, opts *ImportOptions) (*ImportResult, error) {
	res, err := doImport(ctx, s, r, opts)
	if err != nil {
		return res, fmt.Errorf("anchorage: import: %w", err)
	}
	return res, nil
}

func doImport(ctx context.Context, s backend.Store, r io.Reader, opts *ImportOptions) (*ImportResult, error) {
	var o ImportOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res := &ImportResult{}
	fr, h, err := openExport(r)
	if err != nil {
		return res, err
	}
	res.Header = h
	cur, meta, err := ReadCursor(ctx, s, h.SourceStore)
	if err != nil {
		return res, err
	}
	if h.SourceStore == meta.StoreID {
		return res, fmt.Errorf("%w: export %s came from this very store", anchor.ErrIntegrity, h.ExportID)
	}
	resumeFrom := 0
	if cur.ExportID == h.ExportID {
		resumeFrom = cur.Chunks
	}
	// Read one section ahead, so the last chunk is applied together with
	// the final cursor.
	tag, payload, err := fr.next()
	index := 0
	for {
		if err != nil {
			return res, err
		}
		var ch chunk
		switch tag {
		case tagTrailer:
			var tr trailer
			if err := decode(payload, &tr, "trailer"); err != nil {
				return res, err
			}
			if tr.Chunks != index {
				return res, corrupt("trailer counts %d chunks, file holds %d", tr.Chunks, index)
			}
			if fin := finalCursor(cur, h, index); index <= resumeFrom && fin != cur {
				// Nothing left to apply: record completion alone.
				return res, applyChunk(ctx, s, nil, h, meta, fin, &o, res)
			}
			return res, nil
		case tagChunk:
			if ch, err = decodeChunk(payload, index); err != nil {
				return res, err
			}
		default:
			return res, corrupt("unknown section %q", tag)
		}
		nextTag, nextPayload, nextErr := fr.next()
		if index >= resumeFrom {
			c := Cursor{Through: cur.Through, ExportID: h.ExportID, Chunks: index + 1}
			if nextErr == nil && nextTag == tagTrailer {
				c = finalCursor(cur, h, index+1)
			}
			if err := applyChunk(ctx, s, ch.Records, h, meta, c, &o, res); err != nil {
				return res, err
			}
			res.Chunks++
			res.Records += len(ch.Records)
			if o.Progress != nil {
				o.Progress(Progress{Chunks: res.Chunks, Records: res.Records})
			}
		} else {
			res.Skipped++
		}
		index++
		tag, payload, err = nextTag, nextPayload, nextErr
	}
}

// finalCursor is the cursor once the whole export is applied: Through
// advances when the export continues from where the cursor stood.
func finalCursor(cur Cursor, h Header, chunks int) Cursor {
	c := Cursor{Through: cur.Through, ExportID: h.ExportID, Chunks: chunks}
	if h.After <= cur.Through && h.Through > cur.Through {
		c.Through = h.Through
	}
	return c
}

func applyChunk(ctx context.Context, s backend.Store, recs []record, h Header, meta backend.Meta, c Cursor, o *ImportOptions, res *ImportResult) error {
	raw, err := msgpack.Marshal(&c)
	if err != nil {
		return err
	}
	b := &delta.Merge{
		From:     h.SourceReplica,
		MaxStamp: anchor.MakeHLC(o.Now().Add(o.MaxSkew).UnixMilli(), 0xffff),
		Meta:     map[string][]byte{cursorKey(h.SourceStore): raw},
	}
	for _, rec := range recs {
		a, err := anchor.Unmarshal(rec.ID, rec.Rec)
		if err != nil {
			return fmt.Errorf("export %s: %w", h.ExportID, err)
		}
		if a.ID != rec.ID {
			return fmt.Errorf("export %s: %w: record keyed %s holds %s", h.ExportID, anchor.ErrCorrupt, rec.ID, a.ID)
		}
		b.Anchors = append(b.Anchors, a)
	}
	r, err := s.Apply(ctx, b)
	if err != nil {
		return err
	}
	res.Stats.Add(&r.Stats)
	return nil
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
