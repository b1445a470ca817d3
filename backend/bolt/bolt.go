package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// SchemaVersion is the on-disk layout this build writes and reads.
const SchemaVersion = 1

const magic = "anchorage-bolt"

var (
	bucketAnchors = []byte("anchors") // id -> anchor record
	bucketAdj     = []byte("adj")     // node|edge -> peer|dir|type
	bucketLog     = []byte("log")     // seq (big endian) -> id
	bucketLogIdx  = []byte("logidx")  // id -> seq
	bucketMeta    = []byte("meta")

	keyMagic   = []byte("magic")
	keySchema  = []byte("schema")
	keyStore   = []byte("store_id")
	keyReplica = []byte("replica_id")
	keyHLC     = []byte("hlc")
)

// Options configures Open. The zero value (or nil) means the defaults.
type Options struct {
	// Timeout is how long Open waits for another process to release the
	// file before failing with anchor.ErrLocked. Default 1s.
	Timeout time.Duration
	// NoGroupCommit makes every Apply run its own transaction instead of
	// sharing one with concurrent callers. Slower; for comparison.
	NoGroupCommit bool
	// MaxGroup caps how many batches share one transaction. Default 64.
	MaxGroup int
	// NoSync skips fsync on commit. A crash may then lose or corrupt
	// recent commits: for tests and throwaway stores only.
	NoSync bool
	// ReadOnly opens the file without the write lock; Apply fails with
	// anchor.ErrReadOnly and nothing on disk is changed. The file must exist.
	ReadOnly bool
	// Now is the wall clock for HLC stamps. Default time.Now.
	Now func() time.Time
	// MaxSize caps the file size in bytes (0: no cap). A commit that would
	// grow the file past it fails with anchor.ErrFull and leaves the store
	// as it was; reopening with a larger cap lets writes continue.
	MaxSize int64
	// WriteFault, for fault-injection tests only, is called inside every
	// write transaction after the batches are applied and before bbolt
	// commits; a non-nil error aborts the transaction as an I/O error would.
	WriteFault func() error
}

// Store is the bbolt durable tier: one file, held by one process at a time.
//
// Store is safe for concurrent use by any number of goroutines. Writes are
// group-committed unless Options.NoGroupCommit is set; reads run in bbolt
// read transactions and never block writes.
type Store struct {
	db     *bbolt.DB
	path   string
	opts   Options
	clock  *anchor.Clock
	meta   backend.Meta // StoreID, ReplicaID, Schema; HLC and Seq are read live
	gc     *backend.GroupCommitter
	closed atomic.Bool
	once   sync.Once
	cerr   error
}

var (
	_ backend.Store    = (*Store)(nil)
	_ backend.Sizer    = (*Store)(nil)
	_ delta.MetaTx     = (*rtx)(nil)
	_ backend.MetaView = (*view)(nil)
)

// metaPrefix keeps Batch.Meta keys apart from the store's own meta keys.
const metaPrefix = "x/"

// Open opens (creating if needed, unless read-only) the store at path.
// A file held by another process yields anchor.ErrLocked after
// opts.Timeout; a file that is not an Anchorage bbolt store yields
// anchor.ErrNotStore; a store of a newer schema yields anchor.ErrVersion.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
		}
	}
	if err := precheck(path, o.ReadOnly); err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	db, err := openDB(path, &bbolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, NoSync: o.NoSync, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType, MaxSize: int(o.MaxSize)})
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, opts: o, clock: anchor.NewClock(o.Now)}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	s.gc = backend.NewGroupCommitter(s.commit, !o.NoGroupCommit, o.MaxGroup)
	return s, nil
}

// openDB opens the bbolt file, translating bbolt's errors (and any panic
// on a damaged file) into Anchorage's.
func openDB(path string, bo *bbolt.Options) (db *bbolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("anchorage: open %s: %w: %v", path, anchor.ErrNotStore, r)
		}
	}()
	db, err = bbolt.Open(path, 0o600, bo)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("anchorage: open %s: %w (waited %s; bbolt allows one process per file)", path, anchor.ErrLocked, bo.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("anchorage: open %s: %w: %v", path, anchor.ErrNotStore, err)
	}
	return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
}

// init creates the buckets and meta of a new store, or checks an existing one.
func (s *Store) init() error {
	check := func(tx *bbolt.Tx) (fresh bool, err error) {
		m := tx.Bucket(bucketMeta)
		if m == nil || m.Get(keyMagic) == nil {
			empty := true
			tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
			if !empty {
				return false, fmt.Errorf("%w: a bbolt file without Anchorage metadata", anchor.ErrNotStore)
			}
			return true, nil
		}
		if string(m.Get(keyMagic)) != magic {
			return false, fmt.Errorf("%w: unknown magic %q", anchor.ErrNotStore, m.Get(keyMagic))
		}
		if v := m.Get(keySchema); len(v) != 4 {
			return false, fmt.Errorf("%w: schema version record is damaged", anchor.ErrCorrupt)
		} else if n := binary.BigEndian.Uint32(v); n != SchemaVersion {
			return false, fmt.Errorf("%w: store schema %d, this build reads %d", anchor.ErrVersion, n, SchemaVersion)
		}
		for _, b := range [][]byte{bucketAnchors, bucketAdj, bucketLog, bucketLogIdx} {
			if tx.Bucket(b) == nil {
				return false, fmt.Errorf("%w: bucket %q missing", anchor.ErrCorrupt, b)
			}
		}
		return false, s.loadMeta(m)
	}
	if s.opts.ReadOnly {
		return s.db.View(func(tx *bbolt.Tx) error {
			fresh, err := check(tx)
			if fresh {
				return fmt.Errorf("%w: empty file", anchor.ErrNotStore)
			}
			return err
		})
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		fresh, err := check(tx)
		if err != nil || !fresh {
			return err
		}
		for _, b := range [][]byte{bucketAnchors, bucketAdj, bucketLog, bucketLogIdx, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		store, replica := anchor.NewID(), anchor.NewID()
		var schema [4]byte
		binary.BigEndian.PutUint32(schema[:], SchemaVersion)
		for k, v := range map[string][]byte{string(keyMagic): []byte(magic), string(keySchema): schema[:],
			string(keyStore): store[:], string(keyReplica): replica[:], string(keyHLC): u64(0)} {
			if err := m.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return s.loadMeta(m)
	})
}

func (s *Store) loadMeta(m *bbolt.Bucket) error {
	var err error
	if s.meta.StoreID, err = anchor.IDFromBytes(m.Get(keyStore)); err != nil {
		return fmt.Errorf("%w: store id: %v", anchor.ErrCorrupt, err)
	}
	if s.meta.ReplicaID, err = anchor.IDFromBytes(m.Get(keyReplica)); err != nil {
		return fmt.Errorf("%w: replica id: %v", anchor.ErrCorrupt, err)
	}
	h := m.Get(keyHLC)
	if len(h) != 8 {
		return fmt.Errorf("%w: hlc record is damaged", anchor.ErrCorrupt)
	}
	s.clock.Observe(anchor.HLC(binary.BigEndian.Uint64(h)))
	s.meta.Schema = SchemaVersion
	return nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Apply writes b atomically and durably; see backend.Store.
func (s *Store) Apply(ctx context.Context, b *delta.Batch) error {
	if s.closed.Load() {
		return fmt.Errorf("apply: %w", anchor.ErrClosed)
	}
	if s.opts.ReadOnly {
		return fmt.Errorf("apply: %w", anchor.ErrReadOnly)
	}
	return s.gc.Apply(ctx, b)
}

// commit runs fn in one bbolt write transaction and persists the clock
// with it, so the HLC never goes backwards across restarts.
func (s *Store) commit(fn func(delta.Tx) error) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := fn(newTx(s, tx)); err != nil {
			return err
		}
		if s.opts.WriteFault != nil {
			if err := s.opts.WriteFault(); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyHLC, u64(uint64(s.clock.Last())))
	})
	switch {
	case errors.Is(err, berrors.ErrMaxSizeReached), errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("anchorage: commit to %s: %w: %w", s.path, anchor.ErrFull, err)
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("anchorage: commit: %w", anchor.ErrClosed)
	}
	return err
}

// View runs fn in a bbolt read transaction.
func (s *Store) View(ctx context.Context, fn func(backend.View) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("view: %w", anchor.ErrClosed)
	}
	err := s.db.View(func(tx *bbolt.Tx) error { return fn(&view{rtx: newTx(s, tx)}) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("view: %w", anchor.ErrClosed)
	}
	return err
}

// Size returns the file size in bytes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Close waits for queued batches to be answered, then closes the file.
// It blocks until running read transactions finish. Idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		if s.gc != nil {
			s.gc.Close()
		}
		s.cerr = s.db.Close()
	})
	return s.cerr
}

// rtx implements delta.Tx (and the reads of backend.View) over a bbolt
// transaction.
type rtx struct {
	s                         *Store
	tx                        *bbolt.Tx
	anchors, adj, log, logIdx *bbolt.Bucket
}

func newTx(s *Store, tx *bbolt.Tx) *rtx {
	return &rtx{s: s, tx: tx, anchors: tx.Bucket(bucketAnchors), adj: tx.Bucket(bucketAdj),
		log: tx.Bucket(bucketLog), logIdx: tx.Bucket(bucketLogIdx)}
}

func (t *rtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	v := t.anchors.Get(id[:])
	if v == nil {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	return anchor.Unmarshal(id, v)
}

func (t *rtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	c := t.adj.Cursor()
	for k, v := c.Seek(node[:]); k != nil && bytes.HasPrefix(k, node[:]); k, v = c.Next() {
		a, err := decodeAdj(k, v)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (t *rtx) Stamp() anchor.HLC { return t.s.clock.Now() }

func (t *rtx) PutAnchor(a *anchor.Anchor) error {
	b, err := anchor.Marshal(a)
	if err != nil {
		return err
	}
	return t.anchors.Put(a.ID[:], b)
}

func (t *rtx) PutAdj(r anchor.Adj) error {
	v := make([]byte, 0, 17+len(r.Type))
	v = append(v, r.Peer[:]...)
	v = append(v, byte(r.Dir))
	v = append(v, r.Type...)
	return t.adj.Put(adjKey(r.Node, r.Edge), v)
}

func (t *rtx) DeleteAdj(node, edge anchor.ID) error { return t.adj.Delete(adjKey(node, edge)) }

func (t *rtx) Logged(id anchor.ID) error {
	if old := t.logIdx.Get(id[:]); old != nil {
		if err := t.log.Delete(old); err != nil {
			return err
		}
	}
	seq, err := t.log.NextSequence()
	if err != nil {
		return err
	}
	if err := t.log.Put(u64(seq), id[:]); err != nil {
		return err
	}
	return t.logIdx.Put(id[:], u64(seq))
}

func (t *rtx) Meta(key string) ([]byte, error) {
	return bytes.Clone(t.tx.Bucket(bucketMeta).Get([]byte(metaPrefix + key))), nil
}

func (t *rtx) PutMeta(key string, value []byte) error {
	return t.tx.Bucket(bucketMeta).Put([]byte(metaPrefix+key), value)
}

func (t *rtx) Observe(h anchor.HLC) { t.s.clock.Observe(h) }

func adjKey(node, edge anchor.ID) []byte {
	k := make([]byte, 32)
	copy(k, node[:])
	copy(k[16:], edge[:])
	return k
}

func decodeAdj(k, v []byte) (anchor.Adj, error) {
	var a anchor.Adj
	if len(k) != 32 || len(v) < 17 {
		return a, fmt.Errorf("%w: adjacency row of key %d and value %d bytes", anchor.ErrCorrupt, len(k), len(v))
	}
	copy(a.Node[:], k[:16])
	copy(a.Edge[:], k[16:])
	copy(a.Peer[:], v[:16])
	a.Dir = anchor.Direction(v[16])
	a.Type = string(v[17:])
	if a.Dir < anchor.Out || a.Dir > anchor.Both {
		return a, fmt.Errorf("%w: adjacency row %s/%s has direction %d", anchor.ErrCorrupt, a.Node, a.Edge, v[16])
	}
	return a, nil
}

// view adds the whole-store scans of backend.View.
type view struct{ rtx *rtx }

func (v *view) Anchor(id anchor.ID) (*anchor.Anchor, error) { return v.rtx.Anchor(id) }
func (v *view) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	return v.rtx.Adjacent(node, fn)
}

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	return v.rtx.anchors.ForEach(func(k, val []byte) error {
		id, err := anchor.IDFromBytes(k)
		if err != nil {
			return fn(id, nil, fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(k)))
		}
		a, err := anchor.Unmarshal(id, val)
		return fn(id, a, err)
	})
}

func (v *view) Adjacency(fn func(anchor.Adj) error) error {
	return v.rtx.adj.ForEach(func(k, val []byte) error {
		a, err := decodeAdj(k, val)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	c := v.rtx.log.Cursor()
	k, val := c.First() // from the very first row, so Verify sees malformed keys too
	if after > 0 {
		k, val = c.Seek(u64(after + 1))
	}
	for ; k != nil; k, val = c.Next() {
		id, err := anchor.IDFromBytes(val)
		if err != nil || len(k) != 8 || binary.BigEndian.Uint64(k) == 0 {
			return fmt.Errorf("%w: change-log entry %x", anchor.ErrCorrupt, k)
		}
		if err := fn(binary.BigEndian.Uint64(k), id); err != nil {
			return err
		}
	}
	return nil
}

func (v *view) MetaValue(key string) ([]byte, error) { return v.rtx.Meta(key) }

func (v *view) Meta() backend.Meta {
	m := v.rtx.s.meta
	m.Seq = v.rtx.log.Sequence()
	if h := v.rtx.tx.Bucket(bucketMeta).Get(keyHLC); len(h) == 8 {
		m.HLC = anchor.HLC(binary.BigEndian.Uint64(h))
	}
	return m
}
