package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway primary with one synchronous streaming standby,
// both on this machine, each a Server of its own (own directory and Unix
// socket, ports 5432 and 5433 so the two hosts of a DSN differ in both).
// Every commit on the primary waits until the standby has the commit's WAL
// (synchronous_standby_names = '*', synchronous_commit = on), so a commit
// acknowledged to a client survives the primary's death.
//
// Failover is three steps, each of which the caller may interleave with
// load: KillPrimary (SIGKILL to the postmaster and every backend, as a
// machine crash would), Promote (pg_ctl promote on the standby), Rejoin
// (the dead node's data directory is re-made by pg_basebackup from the
// new primary and started as its synchronous standby). After Rejoin the
// cluster can fail over again. Between Promote and Rejoin the new primary
// has no standby: its commits wait, unacknowledged, until Rejoin ends.
//
// A Cluster is driven from one goroutine; DSN may be called from any.
type Cluster struct {
	bin     string
	nodes   [2]*Server
	primary int // index into nodes
	dead    bool
}

// clusterSettings are the servers' settings, the same on both nodes: each
// may become primary. fsync is off because the tests kill processes, not
// the machine: what a killed server wrote is still in the OS's cache.
var clusterSettings = []string{
	"-c", "wal_level=replica", "-c", "max_wal_senders=5", "-c", "hot_standby=on",
	"-c", "synchronous_standby_names=*", "-c", "synchronous_commit=on",
	"-c", "fsync=off", "-c", "max_connections=100", "-c", "shared_buffers=32MB",
	"-c", "wal_retrieve_retry_interval=200ms", "-c", "wal_receiver_status_interval=1s",
}

// StartCluster starts a primary and its synchronous standby and waits
// until the standby streams synchronously. It returns ErrNoBinaries where
// no server binaries are installed.
func StartCluster() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	for i := range c.nodes {
		if c.nodes[i], err = newServer(5432 + i); err != nil {
			c.Stop()
			return nil, err
		}
	}
	p := c.nodes[0]
	if err := p.initdb(bin); err != nil {
		c.Stop()
		return nil, err
	}
	if err := p.start(bin, clusterSettings...); err != nil {
		c.Stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.startStandby(ctx, c.nodes[1]); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// DSN returns the multi-host connection string of database db: both nodes,
// target_session_attrs=read-write, so a client connects to whichever is
// the primary.
func (c *Cluster) DSN(db string) string {
	a, b := c.nodes[0], c.nodes[1]
	return fmt.Sprintf("host=%s,%s port=%d,%d user=postgres dbname=%s sslmode=disable target_session_attrs=read-write",
		a.Dir, b.Dir, a.Port, b.Port, db)
}

// Primary returns the node that is (or, once promoted, will be) primary.
func (c *Cluster) Primary() *Server { return c.nodes[c.primary] }

// Standby returns the other node: the standby, or the killed primary
// before Promote, or the dead node before Rejoin.
func (c *Cluster) Standby() *Server { return c.nodes[1-c.primary] }

// Failover kills the primary, promotes the standby and rejoins the dead
// node as the new primary's standby.
func (c *Cluster) Failover(ctx context.Context) error {
	if err := c.KillPrimary(); err != nil {
		return err
	}
	if err := c.Promote(ctx); err != nil {
		return err
	}
	return c.Rejoin(ctx)
}

// KillPrimary kills the primary's postmaster and every process it started
// with SIGKILL, at once: no shutdown checkpoint, no goodbye to clients or
// to the standby. (PostgreSQL puts each backend in a session of its own,
// so killing the process group would miss them: the postmaster is stopped
// first, so that it forks nothing more, and its children are found by
// their parent.)
func (c *Cluster) KillPrimary() error {
	p := c.Primary()
	if c.dead || p.cmd == nil {
		return errors.New("pgtest: KillPrimary: the primary is not running")
	}
	pm := p.cmd.Process.Pid
	shm := shmID(p.data())
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pgtest: stopping the postmaster: %w", err)
	}
	kids := children(pm)
	syscall.Kill(pm, syscall.SIGKILL)
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
	p.cmd.Wait() //nolint:errcheck // killed: the error says so
	p.cmd = nil
	c.dead = true
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range kids {
		for alive(k) {
			if time.Now().After(deadline) {
				return fmt.Errorf("pgtest: backend %d of the killed primary outlived SIGKILL", k)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if shm >= 0 {
		// A killed postmaster leaves its small System V segment behind.
		syscall.Syscall(syscall.SYS_SHMCTL, uintptr(shm), ipcRMID, 0) //nolint:errcheck // best effort
	}
	return nil
}

const ipcRMID = 0 // IPC_RMID

// shmID returns the System V shared memory segment ID that the postmaster
// of data recorded in postmaster.pid, or -1.
func shmID(data string) int {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return -1
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return -1
	}
	f := strings.Fields(lines[6]) // "key shmid"
	if len(f) != 2 {
		return -1
	}
	id, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return id
}

// Promote promotes the standby of a killed primary and waits until it
// accepts writes. From then on it is Primary.
func (c *Cluster) Promote(ctx context.Context) error {
	if !c.dead {
		return errors.New("pgtest: Promote: the primary is alive (KillPrimary first)")
	}
	s := c.Standby()
	out, err := s.command(filepath.Join(c.bin, "pg_ctl"), "promote", "-w", "-t", "60", "-D", s.data()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl promote: %v: %s\n%s", err, out, s.LogTail())
	}
	c.primary = 1 - c.primary
	return awaitQuery(ctx, s, `SELECT NOT pg_is_in_recovery()`)
}

// Rejoin re-makes the killed node's data directory as a base backup of the
// new primary (pg_basebackup -R: a standby of it), starts it, and waits
// until it streams synchronously, so that the cluster can fail over again.
func (c *Cluster) Rejoin(ctx context.Context) error {
	if !c.dead {
		return errors.New("pgtest: Rejoin: no dead node")
	}
	if err := os.RemoveAll(c.Standby().data()); err != nil {
		return err
	}
	if err := c.startStandby(ctx, c.Standby()); err != nil {
		return err
	}
	c.dead = false
	return nil
}

// startStandby makes s a base backup of the primary, starts it as a
// streaming standby and waits until the primary sees it as synchronous.
func (c *Cluster) startStandby(ctx context.Context, s *Server) error {
	p := c.Primary()
	bb := s.command(filepath.Join(c.bin, "pg_basebackup"), "-D", s.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync",
		"-h", p.Dir, "-p", strconv.Itoa(p.Port), "-U", "postgres")
	if out, err := bb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: pg_basebackup: %v: %s", err, out)
	}
	if err := s.start(c.bin, clusterSettings...); err != nil {
		return fmt.Errorf("pgtest: starting the standby: %w", err)
	}
	return awaitQuery(ctx, p, syncStreaming)
}

// HaltStandby shuts the standby down (fast shutdown, its data kept): until
// ResumeStandby, every commit on the primary waits for it.
func (c *Cluster) HaltStandby() { c.Standby().halt() }

// ResumeStandby starts the halted standby again and waits until it streams
// synchronously.
func (c *Cluster) ResumeStandby(ctx context.Context) error {
	if err := c.Standby().start(c.bin, clusterSettings...); err != nil {
		return fmt.Errorf("pgtest: restarting the standby: %w", err)
	}
	return awaitQuery(ctx, c.Primary(), syncStreaming)
}

// syncStreaming holds once the primary has a synchronous standby.
const syncStreaming = `SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'`

// Stop shuts both nodes down and removes their directories. Idempotent.
func (c *Cluster) Stop() {
	for _, s := range c.nodes {
		if s != nil {
			s.Stop()
		}
	}
}

// awaitQuery polls s with q (one boolean) until it answers true.
func awaitQuery(ctx context.Context, s *Server, q string) error {
	var last error
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			var ok bool
			err = conn.QueryRow(ctx, q).Scan(&ok)
			conn.Close(context.Background())
			if err == nil && ok {
				return nil
			}
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: %s never held on %s (last error: %v): %w\n%s", q, s.Dir, last, ctx.Err(), s.LogTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// children returns the processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		k, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(k); ok && ppid == pid {
			out = append(out, k)
		}
	}
	return out
}

// alive reports whether pid is a process that has not exited (a zombie
// has).
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// procStat reads pid's parent and state from /proc/pid/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}
