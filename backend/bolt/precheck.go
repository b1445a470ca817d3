package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/anchorage-db/anchorage/anchor"
)

// bbolt's file header, as laid out by go.etcd.io/bbolt v1: two meta pages,
// each a 16-byte page header followed by the meta record.
const (
	bboltMagic     = 0xED0CDAED
	pageHeaderSize = 16
	metaSize       = 64 // magic, version, pageSize, flags, root(16), freelist, pgid, txid, checksum
)

// precheck reads the meta pages of an existing file before bbolt maps it.
// bbolt trusts its meta's high-water mark and would fault (SIGBUS, which no
// recover can catch) touching pages past the end of a truncated file, so a
// file that is not bbolt, or is shorter than its own meta says, is refused
// here with a typed error, and so is a file with one damaged meta page
// (bbolt would silently roll back to the older one). A missing or empty file passes when the store
// may be created (bbolt initialises it), and is refused read-only. For an
// existing file it returns the meta bbolt will use (the valid one with the
// greater transaction id).
func precheck(path string, readOnly bool) (*meta, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		if readOnly {
			return nil, fmt.Errorf("%w: empty file", anchor.ErrNotStore)
		}
		return nil, nil
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", anchor.ErrNotStore, path)
	}
	var best *meta
	var damaged []string
	for page := range 2 {
		m, err := readMeta(f, page)
		if err != nil {
			damaged = append(damaged, fmt.Sprintf("meta page %d: %v", page, err))
			continue
		}
		if best == nil || m.txid > best.txid {
			best = m
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no valid bbolt meta page", anchor.ErrNotStore)
	}
	if len(damaged) > 0 {
		// bbolt would fall back to the other meta page, which is one
		// transaction older: the store would silently lose its last commit.
		// Commits write the meta record (80 bytes, one sector) whole, so a
		// damaged one is damage, not an interrupted commit.
		return nil, fmt.Errorf("%w: %s (the other meta page is one transaction older)", anchor.ErrCorrupt, damaged[0])
	}
	if need := int64(best.pgid) * int64(best.pageSize); fi.Size() < need {
		return nil, fmt.Errorf("%w: file is %d bytes but its header says %d (truncated?)", anchor.ErrCorrupt, fi.Size(), need)
	}
	return best, nil
}

// meta is the part of a bbolt meta record the prechecks use.
type meta struct {
	pageSize       uint32
	root, freelist uint64 // root bucket's page, freelist page (noFreelist: none)
	pgid, txid     uint64
}

// readMeta reads and validates meta page n (0 or 1). Page 1 sits one page
// size in, and the page size is read from page 0's record (or, when page 0
// is damaged, guessed from the common sizes).
func readMeta(f *os.File, n int) (*meta, error) {
	offsets := []int64{0}
	if n == 1 {
		offsets = []int64{4096, 8192, 16384, 65536}
		if m, err := readMeta(f, 0); err == nil {
			offsets = []int64{int64(m.pageSize)}
		}
	}
	var lastErr error
	for _, off := range offsets {
		buf := make([]byte, pageHeaderSize+metaSize)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		rec := buf[pageHeaderSize:]
		le := binary.LittleEndian
		h := fnv.New64a()
		h.Write(rec[:56])
		switch {
		case le.Uint32(rec[0:]) != bboltMagic:
			lastErr = errors.New("bad magic")
		case le.Uint32(rec[4:]) != 2:
			lastErr = errors.New("unknown bbolt version")
		case le.Uint64(rec[56:]) != h.Sum64():
			lastErr = errors.New("bad checksum")
		case le.Uint32(rec[8:]) < 512 || le.Uint32(rec[8:]) > 1<<20:
			lastErr = errors.New("bad page size")
		default:
			return &meta{pageSize: le.Uint32(rec[8:]), root: le.Uint64(rec[16:]), freelist: le.Uint64(rec[32:]),
				pgid: le.Uint64(rec[40:]), txid: le.Uint64(rec[48:])}, nil
		}
	}
	return nil, lastErr
}
