package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// TestPlotAxisScaledToData: the y-axis ends just above the largest value
// (data under 5,000 is not drawn on an axis to 20,000).
func TestPlotAxisScaledToData(t *testing.T) {
	lo, hi := axisRange([]float64{900, 2400, 4600}, true)
	require.InDelta(t, 720, lo, 1e-9)
	require.InDelta(t, 5750, hi, 1e-9)
	lo, hi = axisRange([]float64{0, 40, 90}, false)
	require.Zero(t, lo)
	require.InDelta(t, 99, hi, 1e-9)
}

// TestPlotLegendBesideThePlot: the legend's box lies right of the plot
// area, so no gridline crosses it, and it is drawn on a background.
func TestPlotLegendBesideThePlot(t *testing.T) {
	pn := newPanel("t", "walkers", "commits/s", []series{
		{"bolt/group", plotter.XYs{{X: 1, Y: 100}, {X: 8, Y: 900}}},
		{"naive/wholedoc", plotter.XYs{{X: 1, Y: 50}, {X: 8, Y: 60}}},
	}, true)
	c := draw.New(vgsvg.New(9*vg.Inch, 4*vg.Inch))
	plotArea, legendArea := pn.layout(c)
	require.LessOrEqual(t, plotArea.Max.X, legendArea.Min.X)
	r := pn.leg.Rectangle(legendArea)
	require.GreaterOrEqual(t, r.Min.X, plotArea.Max.X)
	require.LessOrEqual(t, r.Max.X, c.Max.X)
}

// TestPlotPanels: the figure has the throughput, edges-lost and hub panels.
func TestPlotPanels(t *testing.T) {
	out := benchOutput{Settings: benchSettings{Naive: true, Fsync: true},
		Throughput: []throughputPoint{
			{Backend: "bolt", Mode: "group", Walkers: 1, Commits: 100, CommitsPerSec: 100},
			{Backend: "bolt", Mode: "group", Walkers: 8, Commits: 800, CommitsPerSec: 800},
			{Backend: naiveName, Mode: modeWhole, Walkers: 1, Commits: 100, CommitsPerSec: 100},
			{Backend: naiveName, Mode: modeWhole, Walkers: 8, Commits: 400, EdgesLost: 300, CommitsPerSec: 400},
		},
		Hub: []hubPoint{
			{Backend: "bolt", Mode: "group", HubEdges: 10, P50Ms: 0.5},
			{Backend: "bolt", Mode: "group", HubEdges: 1000, P50Ms: 0.6},
			{Backend: naiveName, Mode: modeWhole, HubEdges: 10, P50Ms: 0.8},
			{Backend: naiveName, Mode: modeWhole, HubEdges: 1000, P50Ms: 9},
		}}
	path := filepath.Join(t.TempDir(), "b.svg")
	require.NoError(t, plotBench(path, out))
	svg, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{"Commits/s by concurrent walkers", "Edges lost", "hub", "naive/wholedoc", "bolt/group"} {
		require.Contains(t, string(svg), want)
	}
	png := filepath.Join(t.TempDir(), "b.png")
	require.NoError(t, plotBench(png, out))
}
