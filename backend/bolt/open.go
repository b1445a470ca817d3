package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// SchemaVersion is the on-disk layout this build writes. It reads every
// schema from 1 up to it; a read-write Open upgrades an older store in
// place (schema 2 added a checksum to every adjacency row, schema 3 the
// secondary-index bucket, which the engine fills when it first opens the
// store, schema 4 the bucket of field values kept out of line: see
// values.go; schema 5 dropped the adjacency bucket, whose rows the edge
// entries of the secondary index hold, and which the engine rebuilds from
// the anchors when a store has no index yet).
const SchemaVersion = 5

// schemaNoAdj is the first schema without the adjacency bucket; older
// stores have one, which a read-write open drops.
const schemaNoAdj = 5

const magic = "anchorage-bolt"

var (
	bucketAnchors = []byte("anchors") // id -> anchor record
	bucketAdj     = []byte("adj")     // schema < 5: node|edge -> peer|dir|type, dropped by the upgrade
	bucketLog     = []byte("log")     // seq (big endian) -> id
	bucketLogIdx  = []byte("logidx")  // id -> seq
	bucketMeta    = []byte("meta")
	bucketIndex   = []byte("index")  // delta's secondary-index entries
	bucketValues  = []byte("values") // id|field name -> value kept out of line

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
	// Limits bound one write (see delta.Limits); zero fields: defaults.
	Limits delta.Limits
	// NoGroupCommit, MaxGroup: see backend.Options.
	NoGroupCommit bool
	MaxGroup      int
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
}

// Store is the bbolt durable tier: one file, held by one process at a
// time. It is the engine (backend.Engine: Apply, View, Size, Close) over
// this package's driver.
//
// Store is safe for concurrent use by any number of goroutines. Writes are
// group-committed unless Options.NoGroupCommit is set; reads run in bbolt
// read transactions and never block writes.
type Store struct {
	*backend.Engine
	path string
}

// metaPrefix keeps Merge.Meta keys apart from the store's own meta keys.
const metaPrefix = "x/"

// Open opens (creating if needed, unless read-only) the store at path.
// A file held by another process yields anchor.ErrLocked after
// opts.Timeout; a file that is not an Anchorage bbolt store yields
// anchor.ErrNotStore; a store of a newer schema yields anchor.ErrVersion.
func Open(path string, opts *Options) (*Store, error) {
	d, err := OpenDriver(path, opts)
	if err != nil {
		return nil, err
	}
	o := d.(*driver).opts
	e, err := backend.New(d, path, &backend.Options{NoGroupCommit: o.NoGroupCommit, MaxGroup: o.MaxGroup, Now: o.Now, Limits: o.Limits})
	if err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	return &Store{Engine: e, path: path}, nil
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// OpenDriver opens the file as Open does and returns the bare driver, for
// backend.New (tests wrap it to inject faults). Options fields that belong
// to the engine (NoGroupCommit, MaxGroup, Now) are ignored here.
func OpenDriver(path string, opts *Options) (backend.Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 || o.MaxSize < 0 || o.MaxGroup < 0 {
		return nil, fmt.Errorf("anchorage: open %s: %w: negative Timeout, MaxSize or MaxGroup", path, backend.ErrOptions)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
		}
	}
	m, err := precheck(path, o.ReadOnly)
	var indexDamage error
	if err == nil && m != nil {
		indexDamage, err = checkFile(path, m)
	}
	if err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	create, existed := creating(path, o.ReadOnly)
	db, err := openDB(path, &bbolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, NoSync: o.NoSync, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType, MaxSize: int(o.MaxSize)})
	if err == nil {
		d := &driver{db: db, path: path, opts: o, indexDamage: indexDamage}
		if err = d.init(); err == nil {
			return d, nil
		}
		guard("close", db.Close)
		err = fmt.Errorf("anchorage: open %s: %w", path, typedIO("create", path, err))
	}
	if create {
		undoCreate(path, existed, err)
	}
	return nil, err
}

// openDB opens the bbolt file, translating bbolt's errors (and any panic
// on a damaged file) into Anchorage's.
func openDB(path string, bo *bbolt.Options) (db *bbolt.DB, err error) {
	err = guard("open "+path, func() (err error) { db, err = bbolt.Open(path, 0o600, bo); return err })
	var p *panicError
	switch {
	case errors.As(err, &p):
		return nil, err
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("anchorage: open %s: %w (waited %s; bbolt allows one process per file)", path, anchor.ErrLocked, bo.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("anchorage: open %s: %w: %v", path, anchor.ErrNotStore, err)
	}
	return nil, fmt.Errorf("anchorage: open %s: %w", path, typedIO("open", path, err))
}

// init creates the buckets and meta of a new store, or checks an existing one.
func (s *driver) init() error {
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
		if v := m.Get(keySchema); len(v) != 4 || binary.BigEndian.Uint32(v) == 0 {
			return false, fmt.Errorf("%w: schema version record is damaged", anchor.ErrCorrupt)
		} else if n := binary.BigEndian.Uint32(v); n > SchemaVersion {
			return false, fmt.Errorf("%w: store schema %d, this build reads up to %d", anchor.ErrVersion, n, SchemaVersion)
		} else {
			s.info.Schema = int(n)
		}
		for _, b := range [][]byte{bucketAnchors, bucketLog, bucketLogIdx} {
			if tx.Bucket(b) == nil {
				return false, fmt.Errorf("%w: bucket %q missing", anchor.ErrCorrupt, b)
			}
		}
		return false, s.loadMeta(m)
	}
	return guard("check metadata", func() error { return s.initTx(check) })
}

// initTx runs check in a read transaction (read-only) or creates a fresh
// store's buckets and meta in a write transaction.
func (s *driver) initTx(check func(tx *bbolt.Tx) (bool, error)) error {
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
		if err != nil {
			return err
		}
		if !fresh {
			return s.upgrade(tx)
		}
		for _, b := range [][]byte{bucketAnchors, bucketLog, bucketLogIdx, bucketMeta, bucketIndex, bucketValues} {
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
		s.info.Schema = SchemaVersion
		return s.loadMeta(m)
	})
}

// upgrade brings an existing store of an older schema to SchemaVersion
// within tx.
func (s *driver) upgrade(tx *bbolt.Tx) error {
	if s.info.Schema >= SchemaVersion {
		return nil
	}
	if s.info.Schema < schemaNoAdj && tx.Bucket(bucketAdj) != nil {
		if err := tx.DeleteBucket(bucketAdj); err != nil {
			return fmt.Errorf("upgrading to schema %d: %w", schemaNoAdj, err)
		}
	}
	for _, b := range [][]byte{bucketIndex, bucketValues} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("upgrading to schema %d: %w", SchemaVersion, err)
		}
	}
	var schema [4]byte
	binary.BigEndian.PutUint32(schema[:], SchemaVersion)
	s.info.Schema = SchemaVersion
	return tx.Bucket(bucketMeta).Put(keySchema, schema[:])
}

func (s *driver) loadMeta(m *bbolt.Bucket) error {
	var err error
	if s.info.StoreID, err = anchor.IDFromBytes(m.Get(keyStore)); err != nil {
		return fmt.Errorf("%w: store id: %v", anchor.ErrCorrupt, err)
	}
	if s.info.ReplicaID, err = anchor.IDFromBytes(m.Get(keyReplica)); err != nil {
		return fmt.Errorf("%w: replica id: %v", anchor.ErrCorrupt, err)
	}
	if len(m.Get(keyHLC)) != 8 {
		return fmt.Errorf("%w: hlc record is damaged", anchor.ErrCorrupt)
	}
	s.info.ReadOnly = s.opts.ReadOnly
	return nil
}
