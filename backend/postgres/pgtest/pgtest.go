// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// server binaries installed on the machine, listening only on a Unix socket
// in a temporary directory (no network). Tests that need PostgreSQL call
// Shared, which starts one server per test binary and skips, saying why,
// where no server binaries are installed; their TestMain stops it with
// StopAfter. Start starts a server of the caller's own.
package pgtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries: no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("anchorage: no PostgreSQL server binaries (looked in $ANCHORAGE_PG_BIN and /usr/lib/postgresql/*/bin)")

// BinDir returns the directory holding initdb and postgres: $ANCHORAGE_PG_BIN
// if set, else the newest /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	if d := os.Getenv("ANCHORAGE_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// Server is one running throwaway server. It is safe for concurrent use.
type Server struct {
	Dir  string // data directory; the socket lives here too
	Port int
	cmd  *exec.Cmd
	log  *bytes.Buffer
	cred *syscall.Credential

	schemas atomic.Int64 // names handed out by NewSchema
}

// Start initialises a data directory and starts a server on a Unix socket
// in it. PostgreSQL refuses to run as root, so when the caller is root the
// server runs as the "postgres" system user.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "anchorage-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Port: 5432, log: &bytes.Buffer{}}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	s.cmd = s.command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return s, nil
		}
		if ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("postgres did not start: %v\n%s", err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// DSN returns a connection string for database db on this server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.Dir, s.Port, db)
}

// Socket returns the path of the server's Unix socket.
func (s *Server) Socket() string {
	return filepath.Join(s.Dir, fmt.Sprintf(".s.PGSQL.%d", s.Port))
}

// SchemaFor returns a schema name derived from key (e.g. a test's temp
// dir), so that the same key always names the same store.
func SchemaFor(key string) string {
	h := sha256.Sum256([]byte(key))
	return "s_" + hex.EncodeToString(h[:8])
}

// Stop shuts the server down and removes its directory. Idempotent.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		s.cmd = nil
	}
	os.RemoveAll(s.Dir)
}
