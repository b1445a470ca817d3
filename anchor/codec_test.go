package anchor

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleAnchor() *Anchor {
	a := &Anchor{ID: NewID(), Kind: KindEdge, Owner: NewID(), Type: "Follows",
		Access:  Access{All: Read, Roots: map[ID]Level{NewID(): Write, NewID(): NoAccess}},
		Created: MakeHLC(1700000000000, 3), Updated: MakeHLC(1700000000001, 0),
		Source: NewID(), Target: NewID(), Undirected: true}
	_ = a.SetField("name", "alice")
	_ = a.SetField("age", 42)
	return a
}

func TestMarshalRoundTrip(t *testing.T) {
	a := sampleAnchor()
	b, err := Marshal(a)
	require.NoError(t, err)
	got, err := Unmarshal(a.ID, b)
	require.NoError(t, err)
	require.Equal(t, a, got)
	var name string
	require.NoError(t, got.Field("name", &name))
	require.Equal(t, "alice", name)
}

func TestUnmarshalCorrupt(t *testing.T) {
	a := sampleAnchor()
	b, err := Marshal(a)
	require.NoError(t, err)
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)/2],
		"bitflip":   func() []byte { c := append([]byte(nil), b...); c[len(c)-3] ^= 0x40; return c }(),
		"garbage":   []byte("this is not an anchor record at all"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Unmarshal(a.ID, in)
			require.ErrorIs(t, err, ErrCorrupt)
			var ae *Error
			require.True(t, errors.As(err, &ae))
			require.Equal(t, a.ID, ae.ID)
		})
	}
	t.Run("newer version", func(t *testing.T) {
		c := append([]byte(nil), b...)
		c[0] = FormatOutOfLine + 1
		_, err := Unmarshal(a.ID, c)
		require.ErrorIs(t, err, ErrVersion)
	})
	t.Run("wrong key", func(t *testing.T) {
		_, err := Unmarshal(NewID(), b)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

func TestFieldTypeMismatch(t *testing.T) {
	a := sampleAnchor()
	var n int
	err := a.Field("name", &n)
	require.ErrorIs(t, err, ErrFieldType)
	require.ErrorIs(t, a.Field("missing", &n), ErrNoField)
}

func TestParseID(t *testing.T) {
	id := NewID()
	got, err := ParseID(id.String())
	require.NoError(t, err)
	require.Equal(t, id, got)
	for _, bad := range []string{"", "xyz", id.String()[:35] + "g", "0000000000000000000000000000000000000"} {
		_, err := ParseID(bad)
		require.ErrorIs(t, err, ErrInvalidID, bad)
	}
	require.Equal(t, "00000000-0000-0000-0000-000000000000", SystemRoot.String())
}

func TestAllows(t *testing.T) {
	owner, other, granted, revoked := NewID(), NewID(), NewID(), NewID()
	a := &Anchor{ID: NewID(), Owner: owner, Access: Access{All: Read, Roots: map[ID]Level{granted: Write, revoked: NoAccess}}}
	for _, tc := range []struct {
		root ID
		need Level
		want bool
	}{
		{SystemRoot, Write, true}, {owner, Write, true},
		{other, Read, true}, {other, Connect, false}, {other, Write, false},
		{granted, Write, true}, {revoked, Read, false}, {revoked, NoAccess, true},
	} {
		require.Equal(t, tc.want, a.Allows(tc.root, tc.need), "%s %s", tc.root, tc.need)
	}
}

func TestClockMonotonic(t *testing.T) {
	clk := NewClock(nil)
	prev := clk.Now()
	clk.Observe(prev + 1000)
	for range 10000 {
		n := clk.Now()
		require.Greater(t, n, prev)
		prev = n
	}
}

func TestNewIDLayout(t *testing.T) {
	seen := map[ID]bool{}
	prev := NewID()
	for range 10000 {
		id := NewID()
		require.Equal(t, byte(0x70), id[6]&0xf0, "version 7")
		require.Equal(t, byte(0x80), id[8]&0xc0, "RFC 4122 variant")
		require.False(t, seen[id], "duplicate ID")
		seen[id] = true
		// Time-ordered: the millisecond prefix never goes backwards.
		require.GreaterOrEqual(t, string(id[:6]), string(prev[:6]))
		prev = id
	}
}
