package racetests

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Operation history and failure artifacts

// maxHistory bounds the lines a history keeps (the latest ones), so a soak
// run does not grow without limit.
const maxHistory = 1 << 18

// history is the operation log of one test: what each walker did, when,
// and what it got back. It is saved with the database when the test fails.
// It is safe for concurrent use.
type history struct {
	mu      sync.Mutex
	start   time.Time
	lines   []string
	dropped int
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) add(who, format string, args ...any) {
	line := fmt.Sprintf("%12.6fs %-14s ", time.Since(h.start).Seconds(), who) + fmt.Sprintf(format, args...)
	h.mu.Lock()
	if len(h.lines) >= maxHistory {
		n := maxHistory / 4
		h.lines = append(h.lines[:0], h.lines[n:]...)
		h.dropped += n
	}
	h.lines = append(h.lines, line)
	h.mu.Unlock()
}

func (h *history) writeTo(w io.Writer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped > 0 {
		if _, err := fmt.Fprintf(w, "(%d earlier lines dropped)\n", h.dropped); err != nil {
			return err
		}
	}
	for _, l := range h.lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// recorder saves a failed test's database files and operation history to a
// directory that outlives the test (under os.TempDir, not t.TempDir) and
// names that directory in the failure output. Create it before opening the
// stores it should save, so its cleanup runs after theirs.
type recorder struct {
	t       testing.TB
	hist    *history
	mu      sync.Mutex
	dirs    []string
	closers []func() error
	files   map[string][]byte
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{t: t, hist: newHistory(), files: make(map[string][]byte)}
	t.Cleanup(r.saveIfFailed)
	return r
}

// addDir registers a directory whose files are saved on failure.
func (r *recorder) addDir(dir string) {
	r.mu.Lock()
	r.dirs = append(r.dirs, dir)
	r.mu.Unlock()
}

// addCloser registers a Close to call before copying (idempotent closes only).
func (r *recorder) addCloser(c func() error) {
	r.mu.Lock()
	r.closers = append(r.closers, c)
	r.mu.Unlock()
}

// addFile registers an extra artifact (a porcupine visualisation, a model dump).
func (r *recorder) addFile(name string, b []byte) {
	r.mu.Lock()
	r.files[name] = b
	r.mu.Unlock()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func (r *recorder) saveIfFailed() {
	if !r.t.Failed() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.closers {
		_ = c() // the database must be closed (flushed) before it is copied
	}
	dir, err := os.MkdirTemp("", "anchorage-race-"+unsafeName.ReplaceAllString(r.t.Name(), "_")+"-")
	if err != nil {
		r.t.Errorf("race_tests: could not save failure artifacts: %v", err)
		return
	}
	var problems []error
	for i, src := range r.dirs {
		problems = append(problems, copyDir(src, filepath.Join(dir, fmt.Sprintf("db%d", i))))
	}
	if f, err := os.Create(filepath.Join(dir, "history.txt")); err != nil {
		problems = append(problems, err)
	} else {
		problems = append(problems, r.hist.writeTo(f), f.Close())
	}
	for name, b := range r.files {
		problems = append(problems, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	if err := errors.Join(problems...); err != nil {
		r.t.Errorf("race_tests: saving failure artifacts to %s: %v", dir, err)
	}
	r.t.Errorf("race_tests: saved the database file(s) and the operation history of this failure in %s", dir)
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// ---------------------------------------------------------------------------
// Saving a failing case

// caseSaver keeps the artifacts of the latest failing rapid case (rapid
// replays the minimal failing case last) in one directory under os.TempDir,
// and names it in the test's failure output.
type caseSaver struct {
	t   *testing.T
	dir string
}

func newCaseSaver(t *testing.T) *caseSaver {
	s := &caseSaver{t: t}
	t.Cleanup(func() {
		if s.dir != "" && t.Failed() {
			t.Errorf("race_tests: saved the database, operation history and model of the last failing case in %s", s.dir)
		}
	})
	return s
}

func (s *caseSaver) save(storeDir string, h *history, files map[string][]byte) {
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "anchorage-race-"+unsafeName.ReplaceAllString(s.t.Name(), "_")+"-")
		if err != nil {
			s.t.Logf("race_tests: could not save failure artifacts: %v", err)
			return
		}
		s.dir = dir
	}
	_ = os.RemoveAll(s.dir)
	err := errors.Join(copyDir(storeDir, s.dir+"/db"), writeHistory(s.dir+"/history.txt", h))
	for name, b := range files {
		err = errors.Join(err, os.WriteFile(s.dir+"/"+name, b, 0o644))
	}
	if err != nil {
		s.t.Logf("race_tests: saving failure artifacts to %s: %v", s.dir, err)
	}
}

func writeHistory(path string, h *history) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(h.writeTo(f), f.Close())
}
