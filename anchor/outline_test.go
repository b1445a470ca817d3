package anchor

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// A record with out-of-line references round-trips them exactly (size,
// checksum, stamp, origin), is written as FormatOutOfLine, and a record
// without keeps FormatVersion.
func TestOutOfLineRecord(t *testing.T) {
	big := bytes.Repeat([]byte{9}, OutOfLine)
	a := &Anchor{ID: NewID(), Kind: KindNode, Owner: NewID(), Type: "Doc", Created: 5, Updated: 7,
		Fields: map[string]Field{"big": {Value: big, Stamp: 6, Origin: NewID()}, "small": {Value: []byte{1}, Stamp: 7}}}
	head, values := SplitOutOfLine(a)
	require.Equal(t, map[string][]byte{"big": big}, values)
	require.Equal(t, big, a.Fields["big"].Value, "a itself is left as it is")
	ref := head.Fields["big"]
	require.Nil(t, ref.Value)
	require.Equal(t, Ref{Size: int64(len(big)), Sum: ValueSum(big)}, *ref.Ref)
	require.NoError(t, ref.Ref.Check(big))
	require.ErrorIs(t, ref.Ref.Check(big[1:]), ErrCorrupt)
	require.ErrorIs(t, ref.Ref.Check(append(bytes.Clone(big[1:]), 8)), ErrCorrupt)

	rec, err := Marshal(head)
	require.NoError(t, err)
	require.Equal(t, FormatOutOfLine, rec[0])
	got, err := Unmarshal(a.ID, rec)
	require.NoError(t, err)
	require.Equal(t, head, got)
	require.True(t, got.Unloaded())
	again, values := SplitOutOfLine(got)
	require.Nil(t, values, "a reference is not a value to write")
	require.Equal(t, got, again)

	small := a.Clone()
	small.Fields["big"] = Field{Value: []byte{2}, Stamp: 8}
	rec, err = Marshal(small)
	require.NoError(t, err)
	require.Equal(t, FormatVersion, rec[0])
}
