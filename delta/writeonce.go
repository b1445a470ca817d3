package delta

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// WriteOnceKey is the small value listing a store's write-once archetypes
// (type names, msgpack). An anchor of such a type keeps the fields it was
// created with: a walker's later field write is refused with ErrWriteOnce,
// and a merge leaves its fields as they are (the remote record counts as
// skipped). Deleting it and changing its access stay possible. Declare the
// same types on every replica (replica.DeclareWriteOnce), or replicas that
// did not may disagree on such anchors' fields.
const WriteOnceKey = "delta/write-once"

// ErrWriteOnce: a write tried to change the fields of an anchor whose type
// is declared write-once. Errors carrying it also wrap anchor.ErrIntegrity.
var ErrWriteOnce = errors.New("anchorage: write-once archetype")

// writeOnce is a plan's view of the declared write-once types.
type writeOnce struct {
	loaded bool
	types  []string
}

// EncodeWriteOnce returns the WriteOnceKey value declaring types (sorted,
// without duplicates).
func EncodeWriteOnce(types []string) ([]byte, error) {
	for _, t := range types {
		if err := anchor.ValidName("type", t); err != nil {
			return nil, err
		}
	}
	t := slices.Compact(slices.Sorted(slices.Values(types)))
	return msgpack.Marshal(t)
}

// DecodeWriteOnce reads a WriteOnceKey value (nil or empty: none).
func DecodeWriteOnce(raw []byte) ([]string, error) {
	var t []string
	if len(raw) == 0 {
		return nil, nil
	}
	if err := msgpack.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, WriteOnceKey, err)
	}
	return t, nil
}

// isWriteOnce reports whether typ is declared write-once in this store.
func (p *plan) isWriteOnce(typ string) (bool, error) {
	if !p.once.loaded {
		raw, err := p.tx.Meta(WriteOnceKey)
		if err != nil {
			return false, err
		}
		if p.once.types, err = DecodeWriteOnce(raw); err != nil {
			return false, err
		}
		p.once.loaded = true
	}
	_, found := slices.BinarySearch(p.once.types, typ)
	return found, nil
}

// refuseWriteOnce fails a walker's field write to a, if a's type is
// write-once.
func (p *plan) refuseWriteOnce(op string, a *anchor.Anchor) error {
	once, err := p.isWriteOnce(a.Type)
	if err != nil || !once {
		return err
	}
	return p.fail(op, a.ID, "", fmt.Errorf("%w (%w): type %s is write-once", ErrWriteOnce, anchor.ErrIntegrity, a.Type))
}
