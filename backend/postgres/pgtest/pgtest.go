// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// server binaries installed on the machine, listening only on a Unix socket
// in a temporary directory (no network). Tests that need PostgreSQL call
// Shared, which starts one server per test binary and skips, saying why,
// where no server binaries are installed; their TestMain stops it with
// StopAfter. Start starts a server of the caller's own; StartCluster a
// primary with a synchronous streaming standby that a test can fail over
// (Cluster).
package pgtest

import (
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
	Dir  string // the server's directory: its socket, its log, and data/
	Port int
	cmd  *exec.Cmd
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
	s, err := newServer(5432)
	if err != nil {
		return nil, err
	}
	if err := s.initdb(bin); err != nil {
		os.RemoveAll(s.Dir)
		return nil, err
	}
	if err := s.start(bin, "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB"); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newServer makes the directory of a server that will listen on port (a
// Unix socket in that directory: two servers in different directories may
// use the same port), owned by the user the server will run as.
func newServer(port int) (*Server, error) {
	dir, err := os.MkdirTemp("", "anchorage-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Port: port}
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
	return s, nil
}

// data is the server's data directory.
func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// initdb initialises an empty data directory.
func (s *Server) initdb(bin string) error {
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

// start starts the server on its data directory with settings (-c
// name=value arguments), appending its output to postgres.log in its
// directory, and waits until it accepts connections. On error the server
// may still be running: Stop it.
func (s *Server) start(bin string, settings ...string) error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the server has its own descriptor
	args := append([]string{"-D", s.data(), "-k", s.Dir, "-p", strconv.Itoa(s.Port), "-c", "listen_addresses="}, settings...)
	s.cmd = s.command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("postgres did not start: %v\n%s", err, s.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogTail returns the last few kilobytes of the server's log.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b[max(0, len(b)-4096):])
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
	s.halt()
	os.RemoveAll(s.Dir)
}

// halt shuts the server down (fast shutdown; killed if that takes over
// 10 s), keeping its directory. Idempotent.
func (s *Server) halt() {
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
	}
	s.cmd = nil
}
