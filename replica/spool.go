package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/anchorage-db/anchorage/anchor"
)

// spool keeps an export's records on disk between reading them from the
// store's snapshot and writing them out, so the snapshot is released
// before anything waits on the reader of the export.
type spool struct {
	f *os.File
	w *bufio.Writer
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "anchorage-export-*")
	if err != nil {
		return nil, err
	}
	return &spool{f: f, w: bufio.NewWriter(f)}, nil
}

// put appends r: sequence, ID, record length, record.
func (s *spool) put(r record) error {
	var hdr [8 + 16 + 4]byte
	binary.BigEndian.PutUint64(hdr[:], r.Seq)
	copy(hdr[8:], r.ID[:])
	binary.BigEndian.PutUint32(hdr[24:], uint32(len(r.Rec)))
	if _, err := s.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := s.w.Write(r.Rec)
	return err
}

// each calls fn with every record put, in order.
func (s *spool) each(fn func(record) error) error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReader(s.f)
	var hdr [8 + 16 + 4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the export spool: %w", err)
		}
		r := record{Seq: binary.BigEndian.Uint64(hdr[:]), ID: anchor.ID(hdr[8:24]), Rec: make([]byte, binary.BigEndian.Uint32(hdr[24:]))}
		if _, err := io.ReadFull(br, r.Rec); err != nil {
			return fmt.Errorf("reading the export spool: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// close removes the spool.
func (s *spool) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}
