package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// The export file format, version 1:
//
//	magic    "ANCHREPL" (8 bytes)
//	version  uint16, big endian
//	sections, each: tag byte, payload length uint32, CRC-32C uint32, payload
//	  'H' header  (msgpack Header), exactly once, first
//	  'C' chunk   (msgpack chunk: index and records), zero or more
//	  'E' trailer (msgpack trailer: chunk and record counts), exactly once, last
//
// Every section carries its own checksum, so a damaged or truncated file is
// detected at the first bad section, and every chunk before it can still
// be applied (and is, by Import, each in its own transaction).

// FormatVersion is the export format this build writes and reads.
const FormatVersion = 1

const magic = "ANCHREPL"

const (
	tagHeader  = 'H'
	tagChunk   = 'C'
	tagTrailer = 'E'
)

// maxSection bounds one section's payload, so a corrupt length cannot make
// the reader allocate without limit.
const maxSection = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header describes one export.
type Header struct {
	ExportID      anchor.ID  `msgpack:"x"`
	SourceStore   anchor.ID  `msgpack:"s"`
	SourceReplica anchor.ID  `msgpack:"r"`
	After         uint64     `msgpack:"a"` // the export holds the changes with sequence > After ...
	Through       uint64     `msgpack:"t"` // ... and <= Through
	Created       anchor.HLC `msgpack:"c"`
	// Ordered: the chunks follow the change log, each naming the greatest
	// sequence it covers (chunk.Through), so a cursor may advance per chunk.
	Ordered bool `msgpack:"o,omitempty"`
	// Purged is the source's purge horizon (backend.Horizon.Seq) when it
	// exported: an importer whose cursor for the source is below it may
	// have missed deletes, and is refused (PurgedError). 0 in older files.
	Purged uint64 `msgpack:"p,omitempty"`
}

type record struct {
	ID  anchor.ID `msgpack:"i"`
	Rec []byte    `msgpack:"r"`           // anchor.Marshal output
	Seq uint64    `msgpack:"q,omitempty"` // the source's change sequence (0 in older files)
}

type chunk struct {
	Index   int      `msgpack:"n"`
	Records []record `msgpack:"r"`
	Through uint64   `msgpack:"t,omitempty"` // Ordered exports: the greatest sequence covered
}

type trailer struct {
	Chunks  int `msgpack:"c"`
	Records int `msgpack:"r"`
}

type writer struct {
	w   *bufio.Writer
	err error
}

func newWriter(w io.Writer) *writer {
	wr := &writer{w: bufio.NewWriter(w)}
	var v [10]byte
	copy(v[:], magic)
	binary.BigEndian.PutUint16(v[8:], FormatVersion)
	_, wr.err = wr.w.Write(v[:])
	return wr
}

func (w *writer) section(tag byte, v any) error {
	if w.err != nil {
		return w.err
	}
	payload, err := msgpack.Marshal(v)
	if err != nil {
		w.err = err
		return err
	}
	var h [9]byte
	h[0] = tag
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[5:], crc32.Checksum(payload, castagnoli))
	if _, err := w.w.Write(h[:]); err != nil {
		w.err = err
		return err
	}
	_, w.err = w.w.Write(payload)
	return w.err
}

func (w *writer) flush() error {
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

type reader struct {
	r   *bufio.Reader
	off int64
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: export file: "+format, append([]any{anchor.ErrCorrupt}, args...)...)
}

func newReader(r io.Reader) (*reader, error) {
	rd := &reader{r: bufio.NewReader(r)}
	var v [10]byte
	if n, err := io.ReadFull(rd.r, v[:]); err != nil {
		return nil, fmt.Errorf("%w: %d bytes are too short to be an export", ErrNotExport, n)
	}
	rd.off = 10
	if string(v[:8]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrNotExport, v[:8])
	}
	if ver := binary.BigEndian.Uint16(v[8:]); ver != FormatVersion {
		return nil, fmt.Errorf("%w: export format %d, this build reads %d", anchor.ErrVersion, ver, FormatVersion)
	}
	return rd, nil
}

// next reads one section; it returns its tag and payload.
func (r *reader) next() (byte, []byte, error) {
	var h [9]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, corrupt("truncated at byte %d (no trailer)", r.off)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxSection {
		return 0, nil, corrupt("section at byte %d claims %d bytes", r.off, n)
	}
	// Read what is there rather than allocate what the length claims: a
	// short file that claims a huge section fails after reading its bytes.
	payload, err := io.ReadAll(io.LimitReader(r.r, int64(n)))
	if err != nil {
		return 0, nil, err
	}
	if len(payload) != int(n) {
		return 0, nil, corrupt("truncated inside the section at byte %d", r.off)
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(h[5:]) {
		return 0, nil, corrupt("checksum mismatch in the section at byte %d", r.off)
	}
	r.off += int64(len(h)) + int64(n)
	return h[0], payload, nil
}

func decode(payload []byte, v any, what string) error {
	if err := msgpack.Unmarshal(payload, v); err != nil {
		return corrupt("%s does not decode: %v", what, err)
	}
	return nil
}

// openExport reads the magic, the version and the header section.
func openExport(r io.Reader) (*reader, Header, error) {
	var h Header
	fr, err := newReader(r)
	if err != nil {
		return nil, h, err
	}
	tag, payload, err := fr.next()
	if err != nil {
		return nil, h, err
	}
	if tag != tagHeader {
		return nil, h, corrupt("first section is %q, want the header", tag)
	}
	return fr, h, decode(payload, &h, "header")
}

// decodeChunk decodes a chunk section that must be chunk number index.
func decodeChunk(payload []byte, index int) (chunk, error) {
	var ch chunk
	if err := decode(payload, &ch, "chunk"); err != nil {
		return ch, err
	}
	if ch.Index != index {
		return ch, corrupt("chunk %d found where chunk %d belongs", ch.Index, index)
	}
	return ch, nil
}
