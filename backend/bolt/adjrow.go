package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// An adjacency row is node|edge -> peer|direction|CRC-32C|type. The
// checksum (Castagnoli, over key, peer, direction and type) arrived with
// schema 2: a damaged byte in a row, key included, is found when the row is
// read and, for every row, when the store is opened (checkPages). Without
// it a flipped byte in a key could move a row to another node and the
// node's edge list would shrink with no error. Schema 1 rows
// (peer|direction|type) are read by read-only opens and rewritten by the
// first read-write open (migrateAdj).
const (
	adjCRCAt   = 17 // offset of the checksum in a schema-2 value
	adjHdrV1   = 17 // peer, direction
	adjHdrV2   = 21 // peer, direction, checksum
	schemaAdjV = 2  // first schema with checksummed adjacency rows
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// adjSum is the checksum of row k -> v (a schema-2 value, its checksum
// bytes skipped).
func adjSum(k, v []byte) uint32 {
	c := crc32.Update(0, castagnoli, k)
	c = crc32.Update(c, castagnoli, v[:adjCRCAt])
	return crc32.Update(c, castagnoli, v[adjHdrV2:])
}

// encodeAdj is row r's key and schema-2 value.
func encodeAdj(r anchor.Adj) (k, v []byte) {
	k = adjKey(r.Node, r.Edge)
	v = make([]byte, adjHdrV2, adjHdrV2+len(r.Type))
	copy(v, r.Peer[:])
	v[16] = byte(r.Dir)
	v = append(v, r.Type...)
	binary.LittleEndian.PutUint32(v[adjCRCAt:], adjSum(k, v))
	return k, v
}

// adjIntact reports whether the schema-2 row k -> v carries a checksum
// that matches it.
func adjIntact(k, v []byte) bool {
	return len(v) >= adjHdrV2 && binary.LittleEndian.Uint32(v[adjCRCAt:]) == adjSum(k, v)
}

func adjKey(node, edge anchor.ID) []byte {
	k := make([]byte, 32)
	copy(k, node[:])
	copy(k[16:], edge[:])
	return k
}

// decodeAdj decodes row k -> v of a store of the given schema, refusing a
// damaged row with anchor.ErrCorrupt.
func decodeAdj(schema int, k, v []byte) (anchor.Adj, error) {
	var a anchor.Adj
	hdr := adjHdrV2
	if schema < schemaAdjV {
		hdr = adjHdrV1
	}
	if len(k) != 32 || len(v) < hdr {
		return a, fmt.Errorf("%w: adjacency row of key %d and value %d bytes", anchor.ErrCorrupt, len(k), len(v))
	}
	copy(a.Node[:], k[:16])
	copy(a.Edge[:], k[16:])
	if schema >= schemaAdjV && !adjIntact(k, v) {
		return a, fmt.Errorf("%w: adjacency row %s/%s fails its checksum", anchor.ErrCorrupt, a.Node, a.Edge)
	}
	copy(a.Peer[:], v[:16])
	a.Dir = anchor.Direction(v[16])
	a.Type = string(v[hdr:])
	if a.Dir < anchor.Out || a.Dir > anchor.Both {
		return a, fmt.Errorf("%w: adjacency row %s/%s has direction %d", anchor.ErrCorrupt, a.Node, a.Edge, v[16])
	}
	return a, nil
}

// migrateAdj rewrites every schema-1 adjacency row of tx with its checksum
// (schema 2). It runs in the write transaction that records the new
// schema, so a store is wholly one or the other.
func migrateAdj(tx *bbolt.Tx) error {
	b := tx.Bucket(bucketAdj)
	var rows []anchor.Adj
	err := b.ForEach(func(k, v []byte) error {
		a, err := decodeAdj(1, k, v)
		if err != nil {
			return err
		}
		rows = append(rows, a)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := b.Put(encodeAdj(r)); err != nil {
			return err
		}
	}
	return nil
}

// verifyLegacy runs backend.Verify over tx, a store of a schema before
// schemaAdjV, whose adjacency rows carry no checksum: the only way to find
// a damaged row there is to check every row against its edge. Open runs
// it while the store is still of the old schema (at every read-only open;
// a read-write open upgrades the store after it) and refuses a store with
// problems, so the upgrade never seals damage under fresh checksums.
func (d *driver) verifyLegacy(tx *bbolt.Tx) error {
	rep, err := backend.Verify(context.Background(), txStore{d: d, tx: tx})
	if err != nil {
		return err
	}
	if !rep.Clean() {
		return fmt.Errorf("%w: schema-%d store fails Verify (%d problems, first: %v); open it read-only with a build before schema %d to export it",
			anchor.ErrCorrupt, d.info.Schema, len(rep.Problems), rep.Problems[0], schemaAdjV)
	}
	return nil
}

// txStore is the backend.Store Verify reads: View over one transaction.
// Verify calls nothing else (the embedded Store is nil).
type txStore struct {
	backend.Store
	d  *driver
	tx *bbolt.Tx
}

func (s txStore) View(_ context.Context, fn func(backend.View) error) error {
	t := newTx(s.d, s.tx)
	t.buckets()
	return fn(&view{rtx: t})
}
