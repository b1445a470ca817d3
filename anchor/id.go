package anchor

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// ID identifies an anchor: 16 bytes, printed as a UUID
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx). The zero ID is the system root.
// NewID makes time-ordered random IDs; any 16 bytes are a valid ID.
type ID [16]byte

// SystemRoot is the all-zero ID. A batch committed as the system root passes
// every access check.
var SystemRoot ID

// NewID returns a fresh ID in the version 7 UUID layout: 48 bits of Unix
// milliseconds, then 74 random bits. IDs made later sort later, so the
// B-trees of every backend (anchors, adjacency, change-log index) take new
// anchors at their right edge instead of rewriting a random page for each;
// the random bits keep IDs unguessable and collision-free across machines.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[6:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		panic(err)
	}
	ms := uint64(time.Now().UnixMilli())
	id[0], id[1], id[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	id[3], id[4], id[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	id[6] = id[6]&0x0f | 0x70
	id[8] = id[8]&0x3f | 0x80
	return id
}

// IsZero reports whether id is the system root.
func (id ID) IsZero() bool { return id == SystemRoot }

// String formats id as a UUID.
func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// ParseID parses a UUID string (with or without dashes). Malformed input
// yields an error wrapping ErrInvalidID.
func ParseID(s string) (ID, error) {
	var id ID
	var h []byte
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return id, fmt.Errorf("%w: %q", ErrInvalidID, s)
		}
		h = []byte(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
	case 32:
		h = []byte(s)
	default:
		return id, fmt.Errorf("%w: %q has length %d, want 36", ErrInvalidID, s, len(s))
	}
	if _, err := hex.Decode(id[:], h); err != nil {
		return ID{}, fmt.Errorf("%w: %q: %v", ErrInvalidID, s, err)
	}
	return id, nil
}

// MustParseID is ParseID for constants in tests and examples; it panics on
// malformed input.
func MustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// IDFromBytes copies a 16-byte slice into an ID.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != len(id) {
		return id, fmt.Errorf("%w: %d bytes, want 16", ErrInvalidID, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// MarshalText encodes id as its UUID string, so encoding/json and other
// text encoders write "0190a2b4-..." rather than an array of 16 numbers.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses a UUID string (with or without dashes); malformed
// input yields an error wrapping ErrInvalidID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// SortedIDs returns the keys of m in byte order (the order every backend
// keeps IDs in), so that what is built from a map comes out the same
// each time.
func SortedIDs[V any](m map[ID]V) []ID {
	ids := make([]ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y ID) int { return bytes.Compare(x[:], y[:]) })
	return ids
}
