package crash_tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

// TestCrashLoop kills a committing child process with SIGKILL at random
// moments, at least 50 times per backend (ANCHORAGE_SOAK: for that long),
// and after each kill checks that the store is consistent, holds every
// acknowledged commit, and holds the in-flight commit completely or not at
// all (see the package documentation).
func TestCrashLoop(t *testing.T) {
	if _, ok := childproc.Role(); ok {
		t.Skip("running as a child")
	}
	var soak time.Duration
	if v := os.Getenv(envSoak); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "%s must be a Go duration", envSoak)
		soak = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "%s must be an unsigned integer", envSeed)
		seed = s
	}
	for _, d := range durables {
		t.Run(d.name, func(t *testing.T) {
			var pg *pgtest.Server
			if d.name == "postgres" {
				pg = pgtest.Shared(t)
				t.Setenv(envPG, pg.DSN("postgres")) // for the parent's own checks
			}
			t.Logf("seed %d (replay the choices with %s=%d)", seed, envSeed, seed)
			newLoop(t, d, seed, pg).run(soak)
		})
	}
}

// loop is one backend's kill loop.
type loop struct {
	t     *testing.T
	ft    *saving // t, with failure messages naming the saved artifacts
	d     durable
	pg    *pgtest.Server // the server of the postgres backend, else nil
	rng   *rand.Rand
	dir   string // everything of this test: store/, children.log, children.err
	path  string // the store file
	model *model

	// statistics
	kills, acked, inflightLanded, inflightLost, idle int
}

func newLoop(t *testing.T, d durable, seed uint64, pg *pgtest.Server) *loop {
	l := &loop{t: t, d: d, pg: pg, rng: rand.New(rand.NewPCG(seed, uint64(len(d.name)))), dir: t.TempDir()}
	l.ft = &saving{TB: t, save: l.save}
	require.NoError(t, os.Mkdir(filepath.Join(l.dir, "store"), 0o755))
	l.path = filepath.Join(l.dir, "store", d.file)
	return l
}

func (l *loop) run(soak time.Duration) {
	t, ft := l.t, l.ft
	s, err := l.d.open(l.path)
	require.NoError(ft, err)
	root := backendtest.NewRootNode(ft, s, anchor.Access{})
	require.NoError(ft, s.Close())
	l.model = newModel(root)

	start := time.Now()
	for l.kills < minKills || soak > 0 && time.Since(start) < soak {
		l.once()
	}
	t.Logf("%s: %d kills in %s, %d acknowledged commits; in-flight commit at the kill: landed %d, absent %d, none %d",
		l.d.name, l.kills, time.Since(start).Round(time.Millisecond), l.acked, l.inflightLanded, l.inflightLost, l.idle)
	// A loop that never committed, or never caught a commit in flight,
	// checked little: make that a failure, not a silent pass.
	require.GreaterOrEqual(ft, 2*l.acked, l.kills, "the children acknowledged too few commits for the loop to mean anything")
	require.Positive(ft, l.inflightLanded+l.inflightLost, "no kill ever caught a commit in flight")
}

// once runs one child, kills it, and checks the store.
func (l *loop) once() {
	ft := l.ft
	run := l.kills + 1
	childSeed := l.rng.Uint64()
	logf, err := os.OpenFile(filepath.Join(l.dir, "children.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(ft, err)
	defer logf.Close()
	errf, err := os.OpenFile(filepath.Join(l.dir, "children.err"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(ft, err)
	defer errf.Close()
	errStart, err := errf.Seek(0, io.SeekEnd)
	require.NoError(ft, err)
	fmt.Fprintf(logf, "=== run %d, child seed %d\n", run, childSeed)
	fmt.Fprintf(errf, "=== run %d\n", run)

	env := []string{envPath + "=" + l.path, envRoot + "=" + l.model.root.String(), envChildSeed + "=" + strconv.FormatUint(childSeed, 10)}
	var app string // the application_name of the child's PostgreSQL sessions
	if l.pg != nil {
		app = fmt.Sprintf("crash-%s-%d", pgtest.SchemaFor(l.path), run)
		env = append(env, envPG+"="+l.pg.DSN("postgres")+" application_name="+app)
	}
	cmd := childproc.Command(l.t, "TestCrashChild", l.d.name, env...)
	cmd.Stderr = errf
	stdin, err := cmd.StdinPipe() // held open: the child exits when we die
	require.NoError(ft, err)
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	require.NoError(ft, err)
	require.NoError(ft, cmd.Start())

	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if line != "" {
					fmt.Fprintf(logf, "(torn, ignored) %s\n", line)
				}
				return
			}
			fmt.Fprint(logf, line)
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	// Kill the child a random delay after it is ready, or after its first
	// acknowledged commit (so that slow machines still see commits land
	// between kills), or, now and then, while it is still opening the store.
	var got []string
	var kill <-chan time.Time
	delay := func() <-chan time.Time { return time.After(time.Duration(l.rng.IntN(100_000)) * time.Microsecond) }
	afterAck := l.rng.IntN(2) == 0
	if l.rng.IntN(10) == 0 {
		kill = time.After(time.Duration(l.rng.IntN(30)) * time.Millisecond)
	}
	startTimeout := time.After(time.Minute)
	exited, timedOut := false, false
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				exited = true
				break wait
			}
			got = append(got, line)
			if kill == nil && strings.HasPrefix(line, linePfx+"READY ") && !afterAck ||
				kill == nil && strings.HasPrefix(line, linePfx+"ACK ") {
				kill = delay()
			}
		case <-kill:
			break wait
		case <-startTimeout:
			timedOut = true
			break wait
		}
	}
	_ = cmd.Process.Kill() // SIGKILL
	for line := range lines {
		got = append(got, line)
	}
	werr := cmd.Wait()
	l.kills++
	if l.pg != nil {
		l.awaitSessions(run, app)
	}
	if timedOut {
		ft.Fatalf("run %d: the child was not killed within a minute of its start (never ready?); its output:\n%s", run, tail(got))
	}
	if exited {
		ft.Fatalf("run %d: the child exited on its own before the kill (%v); its output:\n%s", run, werr, tail(got))
	}
	if stderr := l.stderrSince(errStart); strings.Contains(stderr, "DATA RACE") || strings.Contains(stderr, "panic:") || strings.Contains(stderr, "fatal error") {
		ft.Fatalf("run %d: the child reported on stderr:\n%s", run, stderr)
	}
	l.check(run, got)
}

// awaitSessions waits until the killed child's PostgreSQL sessions have
// ended. The server outlives its client: a session that had received the
// child's COMMIT before the kill completes it, and only then finds the
// client gone. Checked earlier, the store could lack a commit that lands
// during the check, and the next child would resume after it (the flaky
// "run 5: the child resumed after commit 73, but the store was checked to
// hold commits up to 72").
func (l *loop) awaitSessions(run int, app string) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionsGone)
	defer cancel()
	if err := l.pg.AwaitSessionsEnded(ctx, app); err != nil {
		l.ft.Fatalf("run %d: the killed child's PostgreSQL sessions did not end within %s of the kill, so the store cannot be checked yet: %v",
			run, sessionsGone, err)
	}
}

// check replays the child's lines into the model and compares the store with
// it: all acknowledged commits exactly, and the in-flight one all or nothing.
func (l *loop) check(run int, lines []string) {
	ft := l.ft
	ready := false
	var inflight *commitRec
	for _, line := range lines {
		verb, arg, _ := strings.Cut(strings.TrimPrefix(line, linePfx), " ")
		switch {
		case !strings.HasPrefix(line, linePfx):
			continue // not ours (the testing package's own output)
		case verb == "READY":
			n, err := strconv.Atoi(arg)
			require.NoError(ft, err, "run %d: %q", run, line)
			require.Equal(ft, l.model.rootN, n, "run %d: the child resumed after commit %d, but the store was checked to hold commits up to %d", run, n, l.model.rootN)
			ready = true
		case !ready:
			ft.Fatalf("run %d: %q before READY", run, line)
		case verb == "BEGIN":
			if inflight != nil {
				ft.Fatalf("run %d: BEGIN while commit %d is not acknowledged", run, inflight.I)
			}
			var r commitRec
			require.NoError(ft, json.Unmarshal([]byte(arg), &r), "run %d: %q", run, line)
			inflight = &r
		case verb == "ACK":
			i, err := strconv.Atoi(arg)
			require.NoError(ft, err, "run %d: %q", run, line)
			require.True(ft, inflight != nil && inflight.I == i, "run %d: ACK %d without its BEGIN", run, i)
			require.NoError(ft, l.model.apply(*inflight), "run %d", run)
			inflight = nil
			l.acked++
		case verb == "FAIL":
			ft.Fatalf("run %d: the child failed: %s", run, arg)
		default:
			ft.Fatalf("run %d: unknown line %q", run, line)
		}
	}

	s, err := l.d.open(l.path)
	require.NoError(ft, err, "run %d: reopen after the kill", run)
	defer s.Close()
	backendtest.RequireClean(ft, s)
	var without, with []string
	var landed *model
	require.NoError(ft, s.View(context.Background(), func(v backend.View) error {
		without = l.model.diff(v)
		if len(without) == 0 || inflight == nil {
			return nil
		}
		landed = l.model.clone()
		if err := landed.apply(*inflight); err != nil {
			return err
		}
		with = landed.diff(v)
		return nil
	}))
	switch {
	case inflight == nil && len(without) == 0:
		l.idle++
	case inflight == nil:
		ft.Fatalf("run %d: after the kill (no commit in flight, last acknowledged %d) the store differs from the acknowledged commits:\n  %s",
			run, l.model.rootN, strings.Join(without, "\n  "))
	case len(without) == 0:
		l.inflightLost++
	case len(with) == 0:
		l.inflightLanded++
		l.model = landed
	default:
		ft.Fatalf("run %d: killed with commit %d in flight (last acknowledged %d); the store matches neither outcome.\n"+
			"Against the acknowledged commits only:\n  %s\nAgainst those plus all of commit %d:\n  %s",
			run, inflight.I, l.model.rootN, strings.Join(without, "\n  "), inflight.I, strings.Join(with, "\n  "))
	}
	require.NoError(ft, s.Close())
}

func (l *loop) stderrSince(off int64) string {
	b, err := os.ReadFile(filepath.Join(l.dir, "children.err"))
	if err != nil || int64(len(b)) < off {
		return ""
	}
	return strings.TrimSpace(string(b[off:]))
}

func tail(lines []string) string {
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// save copies the store directory and the children's output to a new
// directory under os.TempDir() and returns its path.
func (l *loop) save() string {
	dst, err := os.MkdirTemp("", "anchorage-crash-"+l.d.name+"-")
	if err != nil {
		return "(saving failed: " + err.Error() + ")"
	}
	err = filepath.WalkDir(l.dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.dir, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		return dst + " (incomplete: " + err.Error() + ")"
	}
	return dst
}

// saving is a testing.TB whose failures first save the test's artifacts
// (once) and then name where they are.
type saving struct {
	testing.TB
	save  func() string
	saved string
}

func (s *saving) where() string {
	if s.saved == "" {
		s.saved = s.save()
	}
	return "\n(store and children's output saved in " + s.saved + ")"
}

func (s *saving) Errorf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Errorf("%s%s", fmt.Sprintf(format, args...), s.where())
}

func (s *saving) Fatalf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Fatalf("%s%s", fmt.Sprintf(format, args...), s.where())
}

func (s *saving) Error(args ...any) {
	s.TB.Helper()
	s.TB.Error(fmt.Sprint(args...) + s.where())
}

func (s *saving) Fatal(args ...any) {
	s.TB.Helper()
	s.TB.Fatal(fmt.Sprint(args...) + s.where())
}
