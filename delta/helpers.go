package delta

import (
	"bytes"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// accessKey names an access entry in messages.
func accessKey(key anchor.ID) string {
	if key.IsZero() {
		return "all"
	}
	return key.String()
}

func setMark(a *anchor.Anchor, key anchor.ID, m anchor.Mark) {
	if a.AccessStamps == nil {
		a.AccessStamps = make(map[anchor.ID]anchor.Mark)
	}
	a.AccessStamps[key] = m
}

func sortedIDs[V any](m map[anchor.ID]V) []anchor.ID {
	return slices.SortedFunc(maps.Keys(m), func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
}

// WriteError reports that the transaction failed while Apply was writing a
// batch that had passed its checks. The transaction must be rolled back.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "anchorage: write failed: " + e.Err.Error() }

// Unwrap returns the transaction's error.
func (e *WriteError) Unwrap() error { return e.Err }
