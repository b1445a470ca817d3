package bolt_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

const damageRole = "damage-read"

// damageCase is what a child needs to read a damaged file and the parent
// to judge it; failed samples keep it beside the file (testdata/damaged).
type damageCase struct {
	Nodes, All []anchor.ID
	ReadOnly   bool
	Want       map[string]string // read -> digest of the undamaged store
	Damage     string
}

// TestRandomDamage damages a copy of a ~1 MiB store (1–4 flipped bytes, or
// one page overwritten with random bytes, zeros or another page), then
// opens and reads all of it in a child process, and compares every read
// with the undamaged store's. Required: no crash (the child dies or
// panics), no hang (killed after 30 s), no silent wrong answer (a read
// giving other data with no error), and every error typed. Trials: 24, or
// 500 with ANCHORAGE_SOAK set (ANCHORAGE_DAMAGE_SEED picks the store and
// damage; default 1). A failing sample is saved to testdata/damaged,
// which TestReplayDamaged replays.
//
//	ANCHORAGE_SOAK=1 go test -run TestRandomDamage -v ./backend/bolt/
func TestRandomDamage(t *testing.T) {
	if _, ok := childproc.Role(); ok {
		damageChild(t)
		return
	}
	trials, seed := 24, uint64(1)
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		trials = 500
	}
	if s := os.Getenv("ANCHORAGE_DAMAGE_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	dir := t.TempDir()
	path, nodes, all := damageStore(t, dir, seed)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range readEverything(path, true, nodes, all) {
		if r.err != nil && r.key != "verify" {
			t.Fatalf("undamaged store: %s: %v", r.key, r.err)
		}
		want[r.key] = r.digest
	}
	t.Logf("store of %d bytes, %d anchors, %d nodes, %d trials from seed %d", len(orig), len(all), len(nodes), trials, seed)

	var mu sync.Mutex
	counts := map[string]int{}
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(2, runtime.NumCPU()) {
		wg.Go(func() {
			for i := range work {
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				file, what := damage(bytes.Clone(orig), r)
				c := &damageCase{Nodes: nodes, All: all, ReadOnly: i%3 == 0, Want: want, Damage: what}
				verdict, detail := runDamaged(t, filepath.Join(dir, fmt.Sprintf("trial%d.db", i)), file, c)
				mu.Lock()
				counts[verdict]++
				mu.Unlock()
				if verdict != "ok" {
					saveDamaged(t, fmt.Sprintf("seed%d-trial%d", seed, i), file, c)
					t.Errorf("trial %d (%s, read-only %v): %s: %s", i, what, c.ReadOnly, verdict, detail)
				}
			}
		})
	}
	for i := range trials {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("trials %d: ok %d, crashes %d, hangs %d, silent wrong answers %d, untyped errors %d",
		trials, counts["ok"], counts["crash"], counts["hang"], counts["silent wrong answer"], counts["untyped error"])
}

// damage flips 1–4 random bytes of file or overwrites one of its pages.
func damage(file []byte, r *rand.Rand) ([]byte, string) {
	const page = 4096
	if r.IntN(2) == 0 {
		var at []string
		for range 1 + r.IntN(4) {
			i := r.IntN(len(file))
			file[i] ^= byte(1 + r.IntN(255))
			at = append(at, fmt.Sprint(i))
		}
		return file, "flipped bytes at " + strings.Join(at, ",")
	}
	p := r.IntN(len(file) / page)
	dst := file[p*page : (p+1)*page]
	switch r.IntN(3) {
	case 0:
		for i := range dst {
			dst[i] = byte(r.Uint32())
		}
		return file, fmt.Sprintf("page %d random", p)
	case 1:
		clear(dst)
		return file, fmt.Sprintf("page %d zeroed", p)
	}
	src := r.IntN(len(file) / page)
	copy(dst, file[src*page:(src+1)*page])
	return file, fmt.Sprintf("page %d overwritten with page %d", p, src)
}

// runDamaged writes file to path, reads it in a child and judges the
// answers: "ok", "crash", "hang", "silent wrong answer" or "untyped error".
func runDamaged(t *testing.T, path string, file []byte, c *damageCase) (verdict, detail string) {
	spec, _ := json.Marshal(c)
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".json", spec, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer os.Remove(path + ".json")
	cmd := childproc.Command(t, "TestRandomDamage", damageRole, "ANCHORAGE_DAMAGE_FILE="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		return "hang", "killed after 30s"
	}
	text := out.String()
	if err != nil || strings.Contains(text, "panic:") || strings.Contains(text, "fatal error:") || !strings.Contains(text, "READ\tdone") {
		return "crash", fmt.Sprintf("%v: %s", err, tail(text))
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 4)
		if len(f) != 4 || f[0] != "READ" {
			continue
		}
		switch key, class, val := f[1], f[2], f[3]; {
		case class == "untyped":
			return "untyped error", key + ": " + val
		case class == "ok" && key != "verify" && key != "write" && val != c.Want[key]:
			return "silent wrong answer", fmt.Sprintf("%s: got %s, want %s", key, val, c.Want[key])
		}
	}
	return "ok", ""
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// damageChild is the child's side: read everything of the damaged file
// and print one line per read: READ, key, ok|corrupt|untyped, digest or error.
func damageChild(t *testing.T) {
	path := os.Getenv("ANCHORAGE_DAMAGE_FILE")
	spec, err := os.ReadFile(path + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var c damageCase
	if err := json.Unmarshal(spec, &c); err != nil {
		t.Fatal(err)
	}
	for _, r := range readEverything(path, c.ReadOnly, c.Nodes, c.All) {
		class, val := "ok", r.digest
		switch {
		case r.err == nil:
		case errors.Is(r.err, anchor.ErrCorrupt), errors.Is(r.err, anchor.ErrVersion), r.key == "open" && (errors.Is(r.err, anchor.ErrNotStore) || errors.Is(r.err, anchor.ErrVersion)),
			r.key == "write" && !strings.HasPrefix(r.err.Error(), "untyped"):
			class, val = "corrupt", strings.ReplaceAll(r.err.Error(), "\n", " ")
		default:
			class, val = "untyped", strings.ReplaceAll(r.err.Error(), "\n", " ")
		}
		fmt.Printf("READ\t%s\t%s\t%s\n", r.key, class, val)
	}
	fmt.Printf("READ\tdone\tok\t\n")
}

// saveDamaged keeps a failed sample in testdata/damaged: the file and its
// case (IDs, expected digests, damage), each gzipped.
func saveDamaged(t *testing.T, name string, file []byte, c *damageCase) {
	dir := filepath.Join("testdata", "damaged")
	spec, _ := json.Marshal(c)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	for ext, b := range map[string][]byte{".db.gz": file, ".json.gz": spec} {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b)
		w.Close()
		if err := os.WriteFile(filepath.Join(dir, name+ext), z.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Logf("saved the damaged sample as %s/%s.db.gz", dir, name)
}

func gunzipFile(t *testing.T, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplayDamaged reads every sample saved in testdata/damaged (a
// gzipped file and its case) in a child, as TestRandomDamage does, and
// requires the same: no crash, hang, silent wrong answer or untyped error.
func TestReplayDamaged(t *testing.T) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "damaged", "*.db.gz"))
	for _, s := range samples {
		name := strings.TrimSuffix(filepath.Base(s), ".db.gz")
		t.Run(name, func(t *testing.T) {
			var c damageCase
			if err := json.Unmarshal(gunzipFile(t, strings.TrimSuffix(s, ".db.gz")+".json.gz"), &c); err != nil {
				t.Fatal(err)
			}
			if v, d := runDamaged(t, filepath.Join(t.TempDir(), "replay.db"), gunzipFile(t, s), &c); v != "ok" {
				t.Errorf("%s (%s): %s: %s", s, c.Damage, v, d)
			}
		})
	}
}
