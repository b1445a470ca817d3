package anchor_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
)

// TestFieldTypeErrorNamesTypes pins issue 13's item 12: a field that does
// not decode into the requested type said "msgpack: invalid code=cb
// decoding int64"; the error now names the anchor, the field, the stored
// type and the requested one.
func TestFieldTypeErrorNamesTypes(t *testing.T) {
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Type: "T"}
	require.NoError(t, a.SetField("name", "ada"))
	require.NoError(t, a.SetField("score", 2.5))
	var n int
	err := a.Field("name", &n)
	require.ErrorIs(t, err, anchor.ErrFieldType)
	require.Contains(t, err.Error(), "stored string, requested *int")
	require.Contains(t, err.Error(), `field "name"`)
	require.Contains(t, err.Error(), a.ID.String())
	require.NotContains(t, err.Error(), "msgpack")
	err = a.Field("score", &n)
	require.ErrorIs(t, err, anchor.ErrFieldType, "2.5 is not a whole number")
	require.Contains(t, err.Error(), "stored float")
}

// TestWholeFloatDecodesIntoInt: a float holding a whole number (as a
// runtime without integers writes 3) decodes into an integer that can hold
// it; one out of range does not.
func TestWholeFloatDecodesIntoInt(t *testing.T) {
	b, err := anchor.EncodeValue(3.0)
	require.NoError(t, err)
	var i int
	require.NoError(t, anchor.DecodeValue(b, &i))
	require.Equal(t, 3, i)
	var u8 uint8
	b, err = anchor.EncodeValue(300.0)
	require.NoError(t, err)
	require.ErrorIs(t, anchor.DecodeValue(b, &u8), anchor.ErrFieldType)
	b, err = anchor.EncodeValue(-1.0)
	require.NoError(t, err)
	var u uint
	require.ErrorIs(t, anchor.DecodeValue(b, &u), anchor.ErrFieldType)
}

// TestIDText: an ID encodes as its UUID string in JSON (and any text
// encoder), and decodes back; a malformed one is ErrInvalidID.
func TestIDText(t *testing.T) {
	id := anchor.NewID()
	b, err := json.Marshal(map[string]anchor.ID{"id": id})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"`+id.String()+`"}`, string(b))
	var back map[string]anchor.ID
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, id, back["id"])
	var bad anchor.ID
	require.ErrorIs(t, json.Unmarshal([]byte(`"not-an-id"`), &bad), anchor.ErrInvalidID)
}

// TestValidName: type and field names are 1-255 bytes of UTF-8 without
// control characters.
func TestValidName(t *testing.T) {
	for _, ok := range []string{"Profile", "名前", "a b"} {
		require.NoError(t, anchor.ValidName("type", ok))
	}
	for _, bad := range []string{"", "tab\there", "nul\x00", string([]byte{0xff}), string(make([]byte, 256))} {
		require.ErrorIs(t, anchor.ValidName("type", bad), anchor.ErrInvalid, "%q", bad)
	}
}
