package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/backend"
)

// CompactOptions configures Compact. Nil means the defaults.
type CompactOptions struct {
	// Timeout is how long Compact waits for another process to release
	// the store before failing with anchor.ErrLocked. Default 1s.
	Timeout time.Duration
	// TxBytes bounds the data copied in one transaction of the new file.
	// Default 64 MiB.
	TxBytes int64
}

func (o *CompactOptions) withDefaults() (CompactOptions, error) {
	var c CompactOptions
	if o != nil {
		c = *o
	}
	if c.Timeout < 0 || c.TxBytes < 0 {
		return c, fmt.Errorf("%w: negative Timeout or TxBytes", backend.ErrOptions)
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.TxBytes == 0 {
		c.TxBytes = 64 << 20
	}
	return c, nil
}

// Compact rewrites the closed store at path without its free pages:
// bbolt's compaction copies every bucket (sequences included) into a new
// file next to it, with pages filled completely, which is synced and then
// renamed over path. The store is opened for writing first, so a file
// that is not a store, is damaged, or is held by another process (bolt's
// file lock; anchor.ErrLocked after Timeout) is refused and left as it
// was; the lock is held until the rename, so no process writes the old
// file meanwhile. A failure at any step before the rename leaves the
// store untouched and removes the new file.
//
// A process that opened path before the rename and was still waiting for
// the lock gets the old, unlinked file: its meta pages are overwritten
// once the rename is durable, so that process's Open fails (it may open
// path again) rather than write to a file nobody will read.
func Compact(ctx context.Context, path string, opts *CompactOptions) (backend.CompactStats, error) {
	start := time.Now()
	var st backend.CompactStats
	o, err := opts.withDefaults()
	if err != nil {
		return st, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	st.Before = fi.Size()
	d, err := OpenDriver(path, &Options{Timeout: o.Timeout})
	if err != nil {
		return st, fmt.Errorf("anchorage: compact: %w", err)
	}
	src := d.(*driver)
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".compact-*")
	if err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmpPath)
		}
	}()
	dst, err := openDB(tmpPath, &bbolt.Options{Timeout: o.Timeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	err = guard("compact", func() error { return bbolt.Compact(dst, src.db, o.TxBytes) })
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = guard("sync", dst.Sync)
	}
	if cerr := guard("close", dst.Close); err == nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, typedIO("compact", path, err))
	}
	if err := os.Chmod(tmpPath, fi.Mode().Perm()); err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	// The old file, kept open to spoil it once the new one is in place.
	old, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	defer old.Close()
	if err := os.Rename(tmpPath, path); err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	renamed = true
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil && !errors.Is(err, os.ErrInvalid) {
			return st, fmt.Errorf("anchorage: compact %s: sync directory: %w", path, err)
		}
	}
	// A process that opened path before the rename and waits for the lock
	// holds the old, unlinked file: with its meta pages spoilt, its Open
	// fails instead of writing where nobody will ever read.
	if err := spoil(old, src.db.Info().PageSize); err != nil {
		return st, fmt.Errorf("anchorage: compact %s: the compacted store is in place, but the old file was not invalidated: %w", path, err)
	}
	if fi, err = os.Stat(path); err != nil {
		return st, fmt.Errorf("anchorage: compact %s: %w", path, err)
	}
	st.After = fi.Size()
	st.Elapsed = time.Since(start)
	return st, nil
}

// spoil overwrites the headers of bbolt's two meta pages (pages 0 and 1)
// of the file f, so that no later Open accepts it.
func spoil(f *os.File, pageSize int) error {
	zero := make([]byte, 64)
	for _, off := range []int64{0, int64(pageSize)} {
		if _, err := f.WriteAt(zero, off); err != nil {
			return err
		}
	}
	return f.Sync()
}
