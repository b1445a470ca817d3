package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// TestHugeSectionClaimDoesNotAllocate: a 19-byte file whose first section
// claims 256 MiB fails as truncated without allocating what it claims.
func TestHugeSectionClaimDoesNotAllocate(t *testing.T) {
	var f bytes.Buffer
	f.WriteString(magic)
	_ = binary.Write(&f, binary.BigEndian, uint16(FormatVersion))
	f.WriteByte(tagHeader)
	_ = binary.Write(&f, binary.BigEndian, uint32(maxSection))
	_ = binary.Write(&f, binary.BigEndian, uint32(0))
	require.Equal(t, 19, f.Len())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Check(bytes.NewReader(f.Bytes()))
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
}

// TestImportChecksTrailerRecords: Import, like Check, refuses a trailer
// whose record count disagrees with the file.
func TestImportChecksTrailerRecords(t *testing.T) {
	var f bytes.Buffer
	w := newWriter(&f)
	require.NoError(t, w.section(tagHeader, &Header{ExportID: anchor.NewID(), SourceStore: anchor.NewID(), SourceReplica: anchor.NewID()}))
	require.NoError(t, w.section(tagChunk, &chunk{}))
	require.NoError(t, w.section(tagTrailer, &trailer{Chunks: 1, Records: 5}))
	require.NoError(t, w.flush())
	_, err := Check(bytes.NewReader(f.Bytes()))
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	s, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), &bolt.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	_, err = Import(context.Background(), s, bytes.NewReader(f.Bytes()), nil)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
}
