package replica

import (
	"context"
	"fmt"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// DeclareWriteOnce adds types to s's write-once archetypes: an anchor of
// such a type keeps the fields it was created with. A walker's later field
// write fails with delta.ErrWriteOnce; an import leaves its fields as they
// are and counts the record as skipped (see delta.WriteOnceKey). Declare
// the same types on every replica, before anchors of them are written;
// declarations are not replicated.
func DeclareWriteOnce(ctx context.Context, s backend.Store, types ...string) error {
	have, err := WriteOnce(ctx, s)
	if err != nil {
		return err
	}
	raw, err := delta.EncodeWriteOnce(append(have, types...))
	if err != nil {
		return fmt.Errorf("anchorage: declare write-once: %w", err)
	}
	_, err = s.Apply(ctx, &delta.Merge{Meta: map[string][]byte{delta.WriteOnceKey: raw}})
	return err
}

// WriteOnce returns s's write-once archetypes, sorted.
func WriteOnce(ctx context.Context, s backend.Store) ([]string, error) {
	var types []string
	err := s.View(ctx, func(v backend.View) error {
		raw, err := v.MetaValue(delta.WriteOnceKey)
		if err != nil {
			return err
		}
		types, err = delta.DecodeWriteOnce(raw)
		return err
	})
	return types, err
}
