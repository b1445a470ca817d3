package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// bbolt's page layout (go.etcd.io/bbolt v1): a 16-byte header (id, flags,
// count, overflow), then count 16-byte elements, then keys and values.
const (
	branchPage    = 0x01
	leafPage      = 0x02
	freelistPage  = 0x10
	bucketLeaf    = 0x01 // leaf element flag: the value is a bucket header
	elementSize   = 16
	bucketHdrSize = 16 // root page id, sequence
	noFreelist    = ^uint64(0)
	maxKeySize    = 32768
	maxTreeDepth  = 64 // far beyond any real tree: a deeper one is a cycle
)

// checkPages walks every page reachable from meta m before bbolt maps the
// file, and refuses (with anchor.ErrCorrupt naming the page) a file whose
// page structure bbolt could not walk safely. bbolt trusts page ids, types,
// element counts and offsets; a damaged one makes it read out of bounds,
// loop forever or panic, sometimes in a goroutine of its own (the free-page
// scan of Open) where no recover can reach. The walk checks that every page
// is inside the file's high-water mark and reached once, carries its own id
// and the type its parent expects, holds its elements and their keys and
// values within its bounds, keeps its keys strictly ordered and within the
// range its parent gives it, and that the tree is no deeper than
// maxTreeDepth. Its cost is one read of every reachable page.
//
// A damaged secondary-index entry does not fail the walk: it is returned
// as indexDamage, and the store opens with its prefix scans of the index
// refused (see driver.indexDamage), so Verify can still list what is
// wrong.
func checkPages(f io.ReaderAt, m *meta) (indexDamage, err error) {
	w := &walker{f: f, m: m, seen: make([]bool, m.pgid)}
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return nil, err
		}
	}
	if err := w.tree(m.root, 0, nil, nil, "root bucket"); err != nil {
		return nil, err
	}
	return w.indexBad, nil
}

// walker is one checkPages walk. Besides the pages it checks every
// secondary-index entry's checksum (delta.OpenEntry): a flipped byte in an
// entry's key moves the entry to another node or archetype, where no scan
// of its own would meet it.
type walker struct {
	f        io.ReaderAt
	m        *meta
	seen     []bool
	bucket   string // top-level bucket being walked
	indexBad error  // the first index entry failing its checksum
}

// row checks leaf row k -> v of the bucket being walked, found on page id.
func (w *walker) row(id uint64, k, v []byte) {
	if w.bucket != string(bucketIndex) || w.indexBad != nil {
		return
	}
	if _, err := delta.OpenEntry(k, v); err != nil {
		w.indexBad = corruptPage(id, "index entry %x fails its checksum", k)
	}
}

func corruptPage(id uint64, format string, args ...any) error {
	return fmt.Errorf("%w: page %d: %s", anchor.ErrCorrupt, id, fmt.Sprintf(format, args...))
}

// read returns page id with its overflow pages, after checking it lies in
// the file and was not reached before.
func (w *walker) read(id uint64) ([]byte, error) {
	ps := uint64(w.m.pageSize)
	if id < 2 || id >= w.m.pgid {
		return nil, corruptPage(id, "outside the file's %d pages", w.m.pgid)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := w.f.ReadAt(hdr, int64(id*ps)); err != nil {
		return nil, corruptPage(id, "unreadable: %v", err)
	}
	if got := binary.LittleEndian.Uint64(hdr); got != id {
		return nil, corruptPage(id, "header names page %d", got)
	}
	over := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if id+over >= w.m.pgid {
		return nil, corruptPage(id, "%d overflow pages run past the file's %d pages", over, w.m.pgid)
	}
	for p := id; p <= id+over; p++ {
		if w.seen[p] {
			return nil, corruptPage(id, "page %d is reached twice", p)
		}
		w.seen[p] = true
	}
	buf := make([]byte, (over+1)*ps)
	if _, err := w.f.ReadAt(buf, int64(id*ps)); err != nil {
		return nil, corruptPage(id, "unreadable: %v", err)
	}
	return buf, nil
}

func (w *walker) freelist(id uint64) error {
	p, err := w.read(id)
	if err != nil {
		return err
	}
	if flags := binary.LittleEndian.Uint16(p[8:]); flags != freelistPage {
		return corruptPage(id, "freelist page has type %#x", flags)
	}
	n, off := uint64(binary.LittleEndian.Uint16(p[10:])), uint64(pageHeaderSize)
	if n == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return corruptPage(id, "freelist count missing")
		}
		n, off = binary.LittleEndian.Uint64(p[pageHeaderSize:]), off+8
	}
	if n > uint64(len(p)) || off+n*8 > uint64(len(p)) {
		return corruptPage(id, "freelist of %d ids overflows the page", n)
	}
	for i := range n {
		if free := binary.LittleEndian.Uint64(p[off+i*8:]); free < 2 || free >= w.m.pgid {
			return corruptPage(id, "freelist names page %d outside the file", free)
		}
	}
	return nil
}

// tree checks the subtree rooted at page id, whose keys must lie in
// [lo, hi) (nil: unbounded).
func (w *walker) tree(id uint64, depth int, lo, hi []byte, what string) error {
	if depth > maxTreeDepth {
		return corruptPage(id, "%s: tree deeper than %d (a cycle?)", what, maxTreeDepth)
	}
	p, err := w.read(id)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.page(id, p, depth, lo, hi, what)
}

// page checks one branch or leaf page p (a real page, or the inline page
// of a small bucket, which has id 0 in its parent's value).
func (w *walker) page(id uint64, p []byte, depth int, lo, hi []byte, what string) error {
	flags := binary.LittleEndian.Uint16(p[8:])
	n := int(binary.LittleEndian.Uint16(p[10:]))
	if flags != branchPage && flags != leafPage {
		return corruptPage(id, "%s: page type %#x, want a branch or leaf", what, flags)
	}
	if pageHeaderSize+n*elementSize > len(p) || (flags == branchPage && n == 0) {
		return corruptPage(id, "%s: %d elements do not fit the page", what, n)
	}
	keys := make([][]byte, n)
	for i := range n {
		e := p[pageHeaderSize+i*elementSize:]
		at := pageHeaderSize + i*elementSize
		var pos, ksize, vsize uint64
		if flags == branchPage {
			pos, ksize = uint64(binary.LittleEndian.Uint32(e[0:])), uint64(binary.LittleEndian.Uint32(e[4:]))
		} else {
			pos, ksize, vsize = uint64(binary.LittleEndian.Uint32(e[4:])), uint64(binary.LittleEndian.Uint32(e[8:])), uint64(binary.LittleEndian.Uint32(e[12:]))
		}
		start := uint64(at) + pos
		if ksize == 0 || ksize > maxKeySize || start+ksize+vsize > uint64(len(p)) {
			return corruptPage(id, "%s: element %d (key %d, value %d bytes at %d) overflows the page", what, i, ksize, vsize, pos)
		}
		keys[i] = p[start : start+ksize]
		if (i > 0 && bytes.Compare(keys[i-1], keys[i]) >= 0) || (lo != nil && bytes.Compare(keys[i], lo) < 0) || (hi != nil && bytes.Compare(keys[i], hi) >= 0) {
			return corruptPage(id, "%s: key %d (%x) out of order", what, i, keys[i])
		}
		if flags == leafPage && binary.LittleEndian.Uint32(e[0:])&bucketLeaf != 0 {
			outer := w.bucket
			if outer == "" { // a top-level bucket: name it
				w.bucket = string(keys[i])
			}
			if err := w.sub(id, p[start+ksize:start+ksize+vsize], depth, fmt.Sprintf("bucket %q", keys[i])); err != nil {
				return err
			}
			w.bucket = outer
		} else if flags == leafPage {
			w.row(id, keys[i], p[start+ksize:start+ksize+vsize])
		}
	}
	if flags == leafPage {
		return nil
	}
	for i := range n {
		next := hi
		if i+1 < n {
			next = keys[i+1]
		}
		child := binary.LittleEndian.Uint64(p[pageHeaderSize+i*elementSize+8:])
		if err := w.tree(child, depth+1, keys[i], next, what); err != nil {
			return err
		}
	}
	return nil
}

// sub checks a bucket header value found on page id: a root page, or
// an inline leaf page after the header when the root is 0.
func (w *walker) sub(id uint64, v []byte, depth int, what string) error {
	if len(v) < bucketHdrSize {
		return corruptPage(id, "%s: header of %d bytes", what, len(v))
	}
	if root := binary.LittleEndian.Uint64(v); root != 0 {
		return w.tree(root, depth+1, nil, nil, what)
	}
	inline := v[bucketHdrSize:]
	if len(inline) < pageHeaderSize {
		return corruptPage(id, "%s: inline page of %d bytes", what, len(inline))
	}
	if flags := binary.LittleEndian.Uint16(inline[8:]); flags != leafPage {
		return corruptPage(id, "%s: inline page type %#x, want a leaf", what, flags)
	}
	return w.page(id, inline, depth+1, nil, nil, what+" (inline)")
}

// checkFile runs checkPages on the file at path against meta m.
func checkFile(path string, m *meta) (indexDamage, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return checkPages(f, m)
}
