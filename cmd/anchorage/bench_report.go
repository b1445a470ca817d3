package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

func printBench(w io.Writer, out benchOutput) {
	m := out.Machine
	mem := ""
	if m.MemBytes > 0 {
		mem = ", " + humanize.IBytes(uint64(m.MemBytes))
	}
	fsync := "fsync on every commit"
	if !out.Settings.Fsync {
		fsync = "no fsync (--nosync)"
	}
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs%s, %s; %s; %s per point\n", m.GOOS, m.GOARCH, m.CPUs, mem, m.Go, fsync, out.Settings.Duration)
	if len(out.Throughput) > 0 {
		fmt.Fprintln(w, "\nthroughput: each commit adds one node and one edge to a shared user root")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "backend\tmode\twalkers\tcommits\tcommits/s\tp50 ms\tp99 ms\tedges lost\terrors\tcores\t")
		for _, p := range out.Throughput {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%d\t%d\t%.2f\t\n", p.Backend, p.Mode, p.Walkers, p.Commits,
				p.CommitsPerSec, p.P50Ms, p.P99Ms, p.EdgesLost, p.Errors, p.Cores)
		}
		tw.Flush()
	}
	if len(out.Hub) > 0 {
		fmt.Fprintln(w, "\nhub: one walker adds one edge per commit to a node that already has N edges")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "backend\tmode\thub edges\tadds\tadds/s\tp50 ms\tp99 ms\tgrow s\t")
		for _, p := range out.Hub {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t\n", p.Backend, p.Mode, p.HubEdges, p.Adds,
				p.AddsPerSec, p.P50Ms, p.P99Ms, p.BuildSeconds)
		}
		tw.Flush()
	}
}

func writeBenchCSV(path string, out benchOutput) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"section", "backend", "mode", "walkers", "hub_edges", "ops", "errors", "edges_lost",
		"seconds", "ops_per_sec", "p50_ms", "p99_ms", "grow_seconds", "cores"})
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, p := range out.Throughput {
		_ = cw.Write([]string{"throughput", p.Backend, p.Mode, strconv.Itoa(p.Walkers), "",
			strconv.FormatInt(p.Commits, 10), strconv.FormatInt(p.Errors, 10), strconv.FormatInt(p.EdgesLost, 10),
			ff(p.Seconds), ff(p.CommitsPerSec), ff(p.P50Ms), ff(p.P99Ms), "", ff(p.Cores)})
	}
	for _, p := range out.Hub {
		_ = cw.Write([]string{"hub", p.Backend, p.Mode, "1", strconv.Itoa(p.HubEdges),
			strconv.Itoa(p.Adds), strconv.Itoa(p.Errors), "",
			ff(p.Seconds), ff(p.AddsPerSec), ff(p.P50Ms), ff(p.P99Ms), ff(p.BuildSeconds), ""})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
