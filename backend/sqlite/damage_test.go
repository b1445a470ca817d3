package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/internal/childproc"
)

// The random-damage test: a store built from a seed is damaged at random,
// then a child process opens it and reads everything (readAll), and the
// parent compares every answer with the undamaged store's. A child that
// dies is a crash, one that does not finish in time a hang; a read that
// answers differently from the original without an error, in a store
// Verify calls clean, is a silent wrong answer. All three must be zero.

const (
	roleDamage  = "damage-read"
	envDamage   = "ANCHORAGE_DAMAGE_FILE"   // the damaged store
	envOriginal = "ANCHORAGE_DAMAGE_ORIG"   // JSON answers of the original
	envOut      = "ANCHORAGE_DAMAGE_OUT"    // where the child writes its answers
	envTrials   = "ANCHORAGE_DAMAGE_TRIALS" // trials per damage mode (default: 12, 500 under ANCHORAGE_SOAK)
	envSeed     = "ANCHORAGE_DAMAGE_SEED"   // first trial's seed (default 1)
	hangAfter   = 60 * time.Second
	samplesDir  = "testdata/damaged"
)

// verdict is the parent's judgement of one trial.
type verdict struct {
	crash, hang, silent bool
	refused             bool // Open refused the file
	detected            bool // some read failed or Verify reported a problem
	wrongFlagged        int  // reads that answered wrongly without an error, in a store Verify flags
	untyped             bool // some error wrapped no sentinel of package anchor
	detail              string
}

// runChild reads the damaged store at path in a child process and judges
// its answers against orig (the original's answers, stored at origPath).
func runChild(t *testing.T, path, origPath string, orig *answers) verdict {
	out := path + ".answers.json"
	ctx, cancel := context.WithTimeout(context.Background(), hangAfter)
	defer cancel()
	cmd := childproc.Command(t, "TestRandomDamage", roleDamage, envDamage+"="+path, envOriginal+"="+origPath, envOut+"="+out)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return verdict{hang: true, detail: "no answer within " + hangAfter.String()}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return verdict{crash: true, detail: tail(stderr.String(), 2000)}
	}
	var got answers
	require.NoError(t, json.Unmarshal(b, &got))
	return judge(orig, &got)
}

func judge(orig, got *answers) verdict {
	v := verdict{untyped: !got.Typed}
	if v.untyped {
		v.detail = fmt.Sprintf("untyped errors: %q", got.Untyped)
	}
	if got.Open != "" {
		v.refused, v.detected = true, true
		return v
	}
	v.detected = len(got.Errs) > 0 || len(got.Problems) > 0
	var wrong []string
	for name, want := range orig.Reads {
		if _, failed := got.Errs[name]; !failed && got.Reads[name] != want {
			wrong = append(wrong, name)
		}
	}
	if len(wrong) > 0 && len(got.Problems) == 0 {
		v.silent = true
		v.detail = fmt.Sprintf("wrong answers to %v, and Verify is clean", wrong)
	} else {
		v.wrongFlagged = len(wrong)
	}
	return v
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// TestRandomDamage flips 1 to 4 random bytes of a 1 MiB store, anywhere in
// the file ("bytes") or only inside row payloads ("cells"), and reads the
// result in a child process: 12 trials per mode (3 under the race
// detector), 500 with ANCHORAGE_SOAK set, or ANCHORAGE_DAMAGE_TRIALS.
func TestRandomDamage(t *testing.T) {
	if role, ok := childproc.Role(); ok {
		if role == roleDamage {
			damageChild(t)
		}
		return
	}
	trials := 12
	if raceEnabled {
		trials = 3
	}
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		trials = 500
	}
	if n, err := strconv.Atoi(os.Getenv(envTrials)); err == nil {
		trials = n
	}
	seed := uint64(1)
	if n, err := strconv.ParseUint(os.Getenv(envSeed), 10, 64); err == nil {
		seed = n
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "orig.sqlite")
	buildDamageStore(t, path, seed)
	orig := readAll(path, nil)
	orig = readAll(path, orig.IDs)
	require.Empty(t, orig.Errs)
	require.Empty(t, orig.Problems)
	origPath := filepath.Join(dir, "orig.json")
	writeJSON(t, origPath, orig)
	pristine, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = os.Stat(path + "-wal")
	require.ErrorIs(t, err, os.ErrNotExist, "the original must be one file")
	t.Logf("store: %d bytes, %d anchors", len(pristine), len(orig.IDs))
	cells := payloadRanges(pristine)
	require.NotEmpty(t, cells)

	for _, mode := range []string{"bytes", "cells"} {
		t.Run(mode, func(t *testing.T) {
			var mu sync.Mutex
			var counts struct{ refused, detected, unaffected, flaggedWrong, untyped, crash, hang, silent int }
			jobs := make(chan uint64)
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for s := range jobs {
						rng := rand.New(rand.NewPCG(s, 2))
						b := append([]byte(nil), pristine...)
						ranges := cells
						if mode == "bytes" {
							ranges = nil
						}
						flipBytes(b, rng, ranges)
						p := filepath.Join(dir, fmt.Sprintf("%s-%d.sqlite", mode, s))
						require.NoError(t, os.WriteFile(p, b, 0o600))
						v := runChild(t, p, origPath, &orig)
						mu.Lock()
						switch {
						case v.crash:
							counts.crash++
						case v.hang:
							counts.hang++
						case v.silent:
							counts.silent++
						case v.refused:
							counts.refused++
						case v.detected:
							counts.detected++
						default:
							counts.unaffected++
						}
						if v.wrongFlagged > 0 {
							counts.flaggedWrong++
						}
						if v.untyped {
							counts.untyped++
						}
						mu.Unlock()
						if v.crash || v.hang || v.silent || v.untyped {
							keepSample(t, mode, s, b, &orig)
							t.Errorf("seed %d: crash=%v hang=%v silent=%v untyped=%v: %s", s, v.crash, v.hang, v.silent, v.untyped, v.detail)
						}
						os.Remove(p)
						os.Remove(p + ".answers.json")
					}
				})
			}
			for i := range uint64(trials) {
				jobs <- seed*1_000_000 + i
			}
			close(jobs)
			wg.Wait()
			t.Logf("%s: %d trials: %d refused at Open, %d detected by a read or Verify, %d unaffected; "+
				"%d with wrong answers that Verify flagged, %d with untyped errors; crashes %d, hangs %d, silent wrong answers %d",
				mode, trials, counts.refused, counts.detected, counts.unaffected, counts.flaggedWrong, counts.untyped,
				counts.crash, counts.hang, counts.silent)
		})
	}
}

// damageChild is the child's side: read the damaged store, write the
// answers. A crash or hang here is what the parent counts.
func damageChild(t *testing.T) {
	var orig answers
	b, err := os.ReadFile(os.Getenv(envOriginal))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &orig))
	writeJSON(t, os.Getenv(envOut), readAll(os.Getenv(envDamage), orig.IDs))
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// keepSample stores a damaged file that failed, with the original's
// answers, in testdata/damaged for TestDamagedSamples.
func keepSample(t *testing.T, mode string, seed uint64, b []byte, orig *answers) {
	name := filepath.Join(samplesDir, fmt.Sprintf("%s-%d", mode, seed))
	if err := os.MkdirAll(samplesDir, 0o755); err == nil {
		os.WriteFile(name+".sqlite", b, 0o644)
		writeJSON(t, name+".json", orig)
	}
	t.Logf("kept %s.sqlite", name)
}

// TestDamagedSamples replays every damaged file that ever failed
// TestRandomDamage: no crash, no hang, no silent wrong answer.
func TestDamagedSamples(t *testing.T) {
	if _, ok := childproc.Role(); ok {
		return
	}
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.sqlite"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := t.TempDir()
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			p := filepath.Join(dir, "d.sqlite")
			require.NoError(t, os.WriteFile(p, b, 0o600))
			var orig answers
			jb, err := os.ReadFile(strings.TrimSuffix(f, ".sqlite") + ".json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(jb, &orig))
			origPath := filepath.Join(dir, "orig.json")
			require.NoError(t, os.WriteFile(origPath, jb, 0o600))
			v := runChild(t, p, origPath, &orig)
			require.False(t, v.crash || v.hang || v.silent, "crash=%v hang=%v silent=%v: %s", v.crash, v.hang, v.silent, v.detail)
		})
	}
}
