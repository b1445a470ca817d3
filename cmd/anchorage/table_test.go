package main

import (
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
	"github.com/stretchr/testify/require"
)

// TestTableWideCharacters: columns stay aligned on the screen with
// double-width names, and a tab inside a name cannot break the table.
func TestTableWideCharacters(t *testing.T) {
	var b strings.Builder
	require.NoError(t, writeTable(&b, "  ", [][]string{
		{"TYPE", "PEER"},
		{"Has投稿", "a"},
		{"Has\tTab", "b"},
		{"Plain", "c"},
	}))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	col := -1
	for _, l := range lines {
		require.NotContains(t, l, "\t")
		w := runewidth.StringWidth(l[:strings.LastIndex(l, " ")+1])
		if col == -1 {
			col = w
		}
		require.Equal(t, col, w, "second column starts at the same screen column: %q", l)
	}
}
