package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// cutProxy forwards loopback TCP connections to the server's Unix socket.
// Once armed, it drops a connection (both ways, without forwarding) the
// moment the client sends COMMIT: the client cannot know whether its
// transaction committed. With fatal set, it first answers the COMMIT as a
// server that ends the session does (an ErrorResponse of severity FATAL,
// admin_shutdown), which says nothing of whether the commit landed either.
type cutProxy struct {
	ln    net.Listener
	sock  string
	armed atomic.Bool
	fatal atomic.Bool
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

// fatalShutdown is the ErrorResponse a backend sends when it is terminated.
func fatalShutdown() []byte {
	var body []byte
	for _, f := range []string{"SFATAL", "VFATAL", "C57P01", "Mterminating connection due to administrator command"} {
		body = append(append(body, f...), 0)
	}
	body = append(body, 0)
	n := len(body) + 4
	return append([]byte{'E', byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

func newCutProxy(t *testing.T, sock string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, sock: sock}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("unix", p.sock)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(c, s) //nolint:errcheck // ends when either side closes
		c.Close()     // the server hung up: so does the client side
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.armed.Load() && bytes.Contains(bytes.ToLower(buf[:n]), []byte("commit")) {
				p.cuts.Add(1)
				if p.fatal.Load() {
					c.Write(fatalShutdown()) //nolint:errcheck // the connection is dropped next
				}
				return // drop both connections: COMMIT never arrives
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) dsn() string {
	addr := p.ln.Addr().(*net.TCPAddr)
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", addr.Port)
}

// TestCommitOutcomeUnknown pins the one honest exception to "an error means
// nothing landed": when the connection drops while COMMIT is in flight, or
// the server ends the session (FATAL) in answer to it, the engine cannot
// know, and says so with ErrOutcomeUnknown rather than a plain failure.
// The store stays consistent and keeps working.
func TestCommitOutcomeUnknown(t *testing.T) {
	server := pgtest.Shared(t)
	proxy := newCutProxy(t, server.Socket())
	for _, c := range []struct{ group, fatal bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		group := c.group
		t.Run(fmt.Sprintf("group=%v/fatal=%v", c.group, c.fatal), func(t *testing.T) {
			proxy.fatal.Store(c.fatal)
			schema := server.NewSchema(t)
			s, err := postgres.Open(proxy.dsn(), &postgres.Options{Schema: schema, NoGroupCommit: !group})
			require.NoError(t, err)
			defer s.Close()
			root := backendtest.NewRootNode(t, s, anchor.Access{})
			ctx := context.Background()

			proxy.armed.Store(true)
			cutsBefore := proxy.cuts.Load()
			n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
			// Bounded: were the cut COMMIT taken for a lost connection before
			// COMMIT, the engine would run it again, into the next cut.
			cut, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = backendtest.Apply(cut, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}})
			cancel()
			proxy.armed.Store(false)
			require.Greater(t, proxy.cuts.Load(), cutsBefore, "the proxy never saw COMMIT")
			require.ErrorIs(t, err, anchor.ErrOutcomeUnknown)

			// The store keeps working over fresh connections, and is consistent.
			m := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "M"}
			require.NoError(t, backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: m.ID, Create: m}}}))
			backendtest.RequireClean(t, s)
		})
	}
}
