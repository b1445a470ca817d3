package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBench(t *testing.T) {
	dir := t.TempDir()
	csvPath, svgPath := filepath.Join(dir, "bench.csv"), filepath.Join(dir, "bench.svg")
	r := cli(t, "bench", "--walkers", "1,8", "--duration", "100ms", "--hub-sizes", "10,1000", "--min-ops", "2",
		"--naive", "--no-sync", "--json", "--csv", csvPath, "--plot", svgPath, "-q", "--dir", dir)
	requireOK(t, r)
	var out benchOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.False(t, out.Settings.Fsync)

	series := map[string]int{}
	for _, p := range out.Throughput {
		series[p.Backend+"/"+p.Mode]++
		require.Positive(t, p.Commits, "%+v", p)
		require.Zero(t, p.Errors, "%+v", p)
		require.Positive(t, p.CommitsPerSec)
		require.LessOrEqual(t, p.P50Ms, p.P99Ms)
		if runtime.GOOS == "linux" {
			require.Positive(t, p.Cores, "the CPU the point used: %+v", p)
		}
		if p.Backend != naiveName {
			require.Zero(t, p.EdgesLost, "%+v", p)
		}
	}
	want := map[string]int{"naive/wholedoc": 2}
	for _, b := range backendNames() {
		want[b+"/group"], want[b+"/nogroup"] = 2, 2
	}
	require.Equal(t, want, series)

	hub := map[string][]int{}
	for _, p := range out.Hub {
		hub[p.Backend] = append(hub[p.Backend], p.HubEdges)
		require.GreaterOrEqual(t, p.Adds, 2)
	}
	require.Len(t, hub, len(backendNames())+1)
	for _, b := range backendNames() {
		require.Equal(t, 10, hub[b][0], b)
		require.GreaterOrEqual(t, hub[b][1], 1000, b)
	}

	f, err := os.Open(csvPath)
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(out.Throughput)+len(out.Hub))
	require.Equal(t, "section", rows[0][0])

	svg, err := os.ReadFile(svgPath)
	require.NoError(t, err)
	require.Contains(t, string(svg), "<svg")
	require.Contains(t, string(svg), "bolt/group")

	// The temporary stores are removed.
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 2, "bench left files behind: %v", left)

	// Table output.
	r = cli(t, "bench", "--walkers", "2", "--duration", "50ms", "--hub-sizes", "", "--modes", "group", "--no-sync", "-q")
	requireOK(t, r)
	require.Contains(t, r.stdout, "commits/s")
	require.Contains(t, r.stdout, "p99 ms")
	require.Contains(t, r.stdout, "cores")
	require.NotContains(t, r.stdout, "hub:")
}
