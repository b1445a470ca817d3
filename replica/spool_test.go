package replica_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestExportDoesNotHoldWriters: an export whose reader waits for a write
// to the exported store must not hold that write up. The export used to
// write to its reader from inside the store's View, and a bolt writer
// growing the file waits for every open View: two bolt stores following
// each other deadlocked this way (A's export waited on B's import, which
// waited on B's commit, which waited on B's export, which waited on A).
func TestExportDoesNotHoldWriters(t *testing.T) {
	s := newStore(t)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	for range 50 {
		_, err := m.Create(anchor.KindNode, "Note", map[string]any{"text": "x"})
		require.NoError(t, err)
	}
	require.NoError(t, m.Commit(ctx))

	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() {
		_, err := replica.Export(ctx, s, pw, nil)
		pw.CloseWithError(err)
		exported <- err
	}()
	// The reader of the export waits for this write, which grows the file.
	big := tiered.New(s, root, nil)
	for range 2000 {
		_, err := big.Create(anchor.KindNode, "Blob", map[string]any{"b": string(make([]byte, 4096))})
		require.NoError(t, err)
	}
	committed := make(chan error, 1)
	go func() { committed <- big.Commit(ctx) }()
	select {
	case err := <-committed:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		go io.Copy(io.Discard, pr) // let both finish, so the store can close
		<-committed
		t.Fatal("the write waited for an export that waited for it")
	}
	_, err := io.Copy(io.Discard, pr)
	require.NoError(t, err)
	require.NoError(t, <-exported)
}
