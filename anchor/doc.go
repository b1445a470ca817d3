// Package anchor defines the values every Anchorage package shares: anchor
// IDs, kinds, access levels, the Anchor record and its on-disk encoding,
// hybrid logical clock stamps, and the sentinel errors.
//
// # Anchors
//
// An anchor is one persisted graph object: a node, an edge, a walker or an
// object. It has a 16-byte random ID (printed as a UUID; the all-zero ID is
// the system root), an owner root, access grants, an archetype type name,
// HLC stamps (created, updated, deleted), and named fields. Edges are
// anchors too: they carry Source, Target and Undirected, and the store keeps
// an adjacency index for them; nodes never store edge lists.
//
// # Fields
//
// Each field value is encoded with msgpack (EncodeValue, DecodeValue) and
// stamped with the HLC of the write that set it. Merges happen per field.
//
// # Access
//
// Levels are ordered NoAccess < Read < Connect < Write. The owner and the
// system root may do anything; another root gets its per-root grant if there
// is one, else Access.All (see Anchor.Allows).
//
// # Encoding
//
// Marshal writes a record as one version byte, a CRC-32C of the payload and
// the msgpack payload. Unmarshal refuses damaged records with ErrCorrupt and
// records of another version with ErrVersion, both inside an *Error naming
// the anchor, and never panics.
//
// # Errors
//
// The sentinel errors (ErrNotFound, ErrAccessDenied, ErrInvalid, ErrCorrupt,
// ErrClosed, ...) are grouped by phase and documented where they are
// declared; test for them with errors.Is. Failures
// about one anchor come as *Error, which names the anchor, field and, for
// access denials, the root and the level it needed.
package anchor
