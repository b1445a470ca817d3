package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
)

// TestScanBounds: a scanner's statement has no upper bound; the scanner
// stops at the first key not below the range's end itself. Its scans must
// list exactly what the database/sql path (scanIndex, bounded in SQL)
// lists: raw idx rows around every edge of a range, the key equal to the
// end included, with the end in the first batch and in a later one.
func TestScanBounds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bounds.sqlite")
	s, err := Open(path, &Options{ReadConns: 1})
	require.NoError(t, err)
	defer s.Close()
	var keys [][]byte
	for _, p := range []string{"a\x01", "a\x02", "a\x02\x00", "a\x03", "a\xff", "b"} {
		keys = append(keys, []byte(p))
		for i := range scanBatchRows + 3 {
			keys = append(keys, fmt.Appendf([]byte(p), "%04d", i))
		}
	}
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, k := range keys {
		_, err := raw.Exec("INSERT INTO idx (k, v) VALUES (?, ?)", k, []byte("v"))
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())

	list := func(v *view, prefix, after []byte, viaSQL bool) (got []string) {
		fn := func(k, val []byte) error { got = append(got, string(k)); return nil }
		var err error
		if viaSQL {
			err, _ = scanIndex(v.ctx, v.stmt(v.s.r.index), prefix, after, fn)
		} else {
			err, _ = v.scan(prefix, after, fn)
		}
		require.NoError(t, err)
		return got
	}
	require.NoError(t, s.Driver().View(ctx, func(sn backend.Snapshot) error {
		v := sn.(*view)
		for _, c := range []struct{ prefix, after string }{
			{"a\x01", ""}, {"a\x02", ""}, {"a\x02", "a\x020100"}, {"a\x02", "a\x02\x00"},
			{"a\xff", ""}, {"a", ""}, {"b", "b0255"}, {"c", ""}, {"", ""},
		} {
			var after []byte
			if c.after != "" {
				after = []byte(c.after)
			}
			want := list(v, []byte(c.prefix), after, true)
			got := list(v, []byte(c.prefix), after, false)
			require.Equal(t, want, got, "prefix %q after %q", c.prefix, c.after)
			for _, k := range got {
				require.True(t, bytes.HasPrefix([]byte(k), []byte(c.prefix)), "%q outside prefix %q", k, c.prefix)
			}
		}
		require.Len(t, list(v, []byte("a\x02"), nil, false), 2*(scanBatchRows+4))
		return nil
	}))
}
