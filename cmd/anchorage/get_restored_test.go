package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
)

// TestGetShowsRestored: get names the stamp of an anchor's latest restore,
// in text and JSON, and says nothing of it for one never restored.
func TestGetShowsRestored(t *testing.T) {
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: anchor.NewID(), Type: "Memory",
		Created: 1 << 20, Updated: 3 << 20, Restored: 3 << 20}
	j := newAnchorJSON(a)
	require.Equal(t, a.Restored.String(), j.Restored)
	var out bytes.Buffer
	printAnchor(&out, j)
	require.Regexp(t, `(?m)^restored +`+regexp.QuoteMeta(a.Restored.String())+`$`, out.String())

	a.Restored = 0
	j = newAnchorJSON(a)
	require.Empty(t, j.Restored)
	out.Reset()
	printAnchor(&out, j)
	require.NotContains(t, out.String(), "restored")
}
