package bolt

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/anchorage-db/anchorage/anchor"
)

// typedIO wraps a file-system error in the anchor sentinel a caller can
// test for, keeping the cause (errors.Is(err, syscall.ENOSPC) still holds):
// a full disk, quota or bbolt's MaxSize is anchor.ErrFull, a read-only file
// system anchor.ErrReadOnly. EIO has no anchor sentinel: it stays a
// syscall.Errno, named as a storage I/O error. Other errors are returned
// as they are.
func typedIO(op, path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrMaxSizeReached), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("anchorage: %s %s: %w: %w", op, path, anchor.ErrFull, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, berrors.ErrDatabaseReadOnly):
		return fmt.Errorf("anchorage: %s %s: %w: %w", op, path, anchor.ErrReadOnly, err)
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("anchorage: %s %s: storage I/O error: %w", op, path, err)
	}
	return err
}

// creating reports whether opening path read-write creates the store: the
// file is missing (existed false) or empty.
func creating(path string, readOnly bool) (create, existed bool) {
	fi, err := os.Stat(path)
	switch {
	case readOnly:
		return false, err == nil
	case errors.Is(err, os.ErrNotExist):
		return true, false
	}
	return err == nil && fi.Size() == 0, err == nil
}

// undoCreate puts path back as it was before a create that failed (a full
// disk while bbolt wrote its first pages or Open its buckets): removed if
// it did not exist, emptied if it was empty. A half-written file would be
// refused by every later Open as truncated. A lock timeout is not undone:
// then another process holds the file.
func undoCreate(path string, existed bool, cause error) {
	if errors.Is(cause, anchor.ErrLocked) {
		return
	}
	if existed {
		os.Truncate(path, 0)
		return
	}
	os.Remove(path)
}
