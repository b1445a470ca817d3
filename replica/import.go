package replica

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// ImportOptions configures Import. Nil means the defaults.
type ImportOptions struct {
	// MaxSkew is how far past this machine's clock a remote stamp may be
	// before the anchor carrying it is refused for now: it is reported in
	// the result (ImportResult.Later) and the import cursor stays before
	// it, so a later import or sync, once the clock allows, delivers it.
	// Default one minute.
	MaxSkew time.Duration
	// Now is this machine's clock. Default time.Now.
	Now func() time.Time
	// Progress, if set, is called after each chunk is applied.
	Progress func(Progress)
	// As is the principal the import acts as: every record is checked as
	// that root's walker would be (a new anchor must be owned by As, a new
	// edge needs Connect on both endpoints, changing fields or deleting
	// needs Write, changing access needs ownership); records that fail are
	// refused and reported, not written. Zero: trusted (the system root),
	// for replication between one owner's stores.
	As anchor.ID
	// ChunkRecords is, for Sync, how many anchors go in one chunk of its
	// export (see ExportOptions). Import ignores it.
	ChunkRecords int
}

// ImportResult describes a finished (or interrupted) import.
type ImportResult struct {
	Header  Header
	Chunks  int // chunks applied by this call
	Skipped int // chunks already applied by an earlier, interrupted import of the same export
	Records int // records applied by this call
	// Later counts the records refused for now (stamped beyond MaxSkew):
	// they are also in Stats.Refusals, with Retry set, and a later import
	// delivers them.
	Later int
	// Ahead is how far the source's clock (its latest stamp when it
	// exported) ran ahead of this machine's clock at import; 0 if behind.
	Ahead time.Duration
	Stats delta.MergeStats
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
	// Held lists the chunks of ExportID with records refused for now
	// (stamped beyond the bound), each with the lowest source sequence
	// among them: a re-import of the same export applies them again, and
	// Through stays below that sequence until they are applied.
	Held map[int]uint64 `msgpack:"h,omitempty"`
	// Stamp is the source's clock when it exported the changes up to
	// Through: a change-log entry at or below Through stamped later means
	// the source was restored from a backup (see Sync).
	Stamp anchor.HLC `msgpack:"s,omitempty"`
}

func (c Cursor) equal(o Cursor) bool {
	return c.Through == o.Through && c.ExportID == o.ExportID && c.Chunks == o.Chunks && c.Stamp == o.Stamp && maps.Equal(c.Held, o.Held)
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
// Re-importing the same export changes nothing and logs nothing, except
// that chunks holding records refused for now (stamped beyond MaxSkew)
// are applied again; an import interrupted by a crash or a damaged file
// resumes, with the same file, after its last applied chunk.
//
// A damaged file yields anchor.ErrCorrupt once its first bad section is
// reached (the chunks before it stay applied), and so does a trailer whose
// chunk or record count disagrees with the file; a file of a newer format
// anchor.ErrVersion; something else ErrNotExport. A store that imported
// from the source before, but not through the source's purge horizon, is
// refused any export of it, a full one included, with a *PurgedError.
func Import(ctx context.Context, s backend.Store, r io.Reader, opts *ImportOptions) (*ImportResult, error) {
	res, err := doImport(ctx, s, r, opts)
	if err != nil {
		return res, fmt.Errorf("anchorage: import: %w", err)
	}
	return res, nil
}

// importer is one run of Import.
type importer struct {
	ctx  context.Context
	s    backend.Store
	o    ImportOptions
	h    Header
	base uint64 // the cursor's Through before this export
	last Cursor // the cursor as last written (or read)
	held map[int]uint64
	res  *ImportResult
}

func doImport(ctx context.Context, s backend.Store, r io.Reader, opts *ImportOptions) (*ImportResult, error) {
	im := &importer{ctx: ctx, s: s, res: &ImportResult{}, held: map[int]uint64{}}
	if opts != nil {
		im.o = *opts
	}
	if im.o.MaxSkew <= 0 {
		im.o.MaxSkew = time.Minute
	}
	if im.o.Now == nil {
		im.o.Now = time.Now
	}
	fr, h, err := openExport(r)
	if err != nil {
		return im.res, err
	}
	im.h, im.res.Header = h, h
	im.res.Ahead = max(0, h.Created.Time().Sub(im.o.Now()))
	cur, meta, err := ReadCursor(ctx, s, h.SourceStore)
	if err != nil {
		return im.res, err
	}
	if h.SourceStore == meta.StoreID {
		return im.res, fmt.Errorf("%w: export %s came from this very store (or from a copy made with cp, which keeps the store's identity and cannot sync with its original)", anchor.ErrIntegrity, h.ExportID)
	}
	if cur.Through > 0 && cur.Through < h.Purged {
		// Even a full export cannot tell this store about the purged
		// deletes: it would keep the anchors (see PurgedError).
		return im.res, &PurgedError{Source: h.SourceStore, Cursor: cur.Through, Horizon: backend.Horizon{Seq: h.Purged}}
	}
	im.base, im.last = cur.Through, cur
	resumeFrom := 0
	if cur.ExportID == h.ExportID {
		resumeFrom = cur.Chunks
		maps.Copy(im.held, cur.Held)
	}
	// Read one section ahead, so the last chunk is applied together with
	// the final cursor.
	tag, payload, err := fr.next()
	index, records := 0, 0
	for {
		if err != nil {
			return im.res, err
		}
		var ch chunk
		switch tag {
		case tagTrailer:
			var tr trailer
			if err := decode(payload, &tr, "trailer"); err != nil {
				return im.res, err
			}
			if tr.Chunks != index || tr.Records != records {
				return im.res, corrupt("trailer counts %d chunks and %d records, file holds %d and %d", tr.Chunks, tr.Records, index, records)
			}
			if fin := im.final(index); !fin.equal(im.last) {
				// Nothing left to apply: record completion alone.
				return im.res, im.apply(nil, fin)
			}
			return im.res, nil
		case tagChunk:
			if ch, err = decodeChunk(payload, index); err != nil {
				return im.res, err
			}
		default:
			return im.res, corrupt("unknown section %q", tag)
		}
		records += len(ch.Records)
		nextTag, nextPayload, nextErr := fr.next()
		if _, redo := im.held[index]; index >= resumeFrom || redo {
			isLast := nextErr == nil && nextTag == tagTrailer
			if err := im.chunk(index, ch, max(resumeFrom, index+1), isLast); err != nil {
				return im.res, err
			}
		} else {
			im.res.Skipped++
		}
		index++
		tag, payload, err = nextTag, nextPayload, nextErr
	}
}

// chunk applies chunk number index, holding back the records stamped
// beyond the bound, with the cursor that records it (the final cursor if
// it is the last).
func (im *importer) chunk(index int, ch chunk, chunks int, isLast bool) error {
	recs := ch.Records
	bound := im.bound()
	var apply []*anchor.Anchor
	var low uint64
	for _, rec := range recs {
		a, err := anchor.Unmarshal(rec.ID, rec.Rec)
		if err != nil {
			return fmt.Errorf("export %s: %w", im.h.ExportID, err)
		}
		if a.ID != rec.ID {
			return fmt.Errorf("export %s: %w: record keyed %s holds %s", im.h.ExportID, anchor.ErrCorrupt, rec.ID, a.ID)
		}
		if top := delta.Latest(a); top > bound {
			seq := rec.Seq
			if seq == 0 { // written before records carried their sequence
				seq = im.h.After + 1
			}
			if low == 0 || seq < low {
				low = seq
			}
			im.res.Later++
			st := delta.MergeStats{ByKind: map[anchor.Kind]delta.Counts{a.Kind: {Refused: 1}},
				Refusals: []delta.Refusal{{ID: a.ID, Reason: delta.FutureReason(top, bound), Retry: true}}}
			im.res.Stats.Add(&st)
			continue
		}
		apply = append(apply, a)
	}
	if low != 0 {
		im.held[index] = low
	} else {
		delete(im.held, index)
	}
	c := Cursor{Through: im.last.Through, Stamp: im.last.Stamp, ExportID: im.h.ExportID, Chunks: chunks, Held: maps.Clone(im.held)}
	if im.h.Ordered && im.h.After <= im.base {
		c.Stamp = im.h.Created
		// The export follows the change log: everything up to this chunk's
		// last sequence has been applied, but for records refused for now.
		c.Through = max(c.Through, ch.Through)
	}
	for _, seq := range im.held {
		c.Through = min(c.Through, seq-1)
	}
	if isLast {
		c = im.final(chunks)
	}
	if err := im.apply(apply, c); err != nil {
		return err
	}
	im.res.Chunks++
	im.res.Records += len(recs)
	if im.o.Progress != nil {
		im.o.Progress(Progress{Chunks: im.res.Chunks, Records: im.res.Records})
	}
	return nil
}

func (im *importer) bound() anchor.HLC {
	return anchor.MakeHLC(im.o.Now().Add(im.o.MaxSkew).UnixMilli(), 0xffff)
}

// final is the cursor once every chunk of the export was applied: Through
// advances when the export continues from where the cursor stood, but
// stays below the lowest sequence of a record refused for now.
func (im *importer) final(chunks int) Cursor {
	c := Cursor{Through: im.last.Through, Stamp: im.last.Stamp, ExportID: im.h.ExportID, Chunks: chunks, Held: maps.Clone(im.held)}
	if im.h.After <= im.base && im.h.Through > im.base {
		c.Through, c.Stamp = im.h.Through, im.h.Created
	}
	for _, seq := range im.held {
		c.Through = min(c.Through, seq-1)
	}
	if len(c.Held) == 0 {
		c.Held = nil
	}
	return c
}

// apply merges anchors in one transaction together with cursor c.
func (im *importer) apply(anchors []*anchor.Anchor, c Cursor) error {
	if len(c.Held) == 0 {
		c.Held = nil
	}
	raw, err := msgpack.Marshal(&c)
	if err != nil {
		return err
	}
	b := &delta.Merge{
		From:     im.h.SourceReplica,
		Root:     im.o.As,
		MaxStamp: im.bound(),
		Anchors:  anchors,
		Meta:     map[string][]byte{cursorKey(im.h.SourceStore): raw},
	}
	r, err := im.s.Apply(im.ctx, b)
	if err != nil {
		return err
	}
	im.last = c
	im.res.Stats.Add(&r.Stats)
	return nil
}
