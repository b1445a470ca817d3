package main

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// panel is one chart of the bench figure: a plot and its legend, drawn
// beside the plot on a white background so that no gridline crosses it.
type panel struct {
	p   *plot.Plot
	leg plot.Legend
}

// series is one line of a panel.
type series struct {
	name string
	xy   plotter.XYs
}

// plotBench draws the bench results to path (format from its extension):
// commits/s against walkers; if measured, the cost of one edge added to a
// hub against its size; and if the naive writer ran, the share of commits
// whose edge was lost, against walkers.
func plotBench(path string, out benchOutput) error {
	fsync := "fsync"
	if !out.Settings.Fsync {
		fsync = "no fsync"
	}
	var panels []panel
	if len(out.Throughput) == 0 && len(out.Hub) == 0 {
		return fmt.Errorf("plot: no points to draw")
	}
	if len(out.Throughput) > 0 {
		var ss []series
		for _, k := range seriesOrder(out.Throughput, func(t throughputPoint) string { return t.Backend + "/" + t.Mode }) {
			ss = append(ss, series{k, collect(out.Throughput, k, func(t throughputPoint) (string, float64, float64) {
				return t.Backend + "/" + t.Mode, float64(t.Walkers), t.CommitsPerSec
			})})
		}
		panels = append(panels, newPanel(fmt.Sprintf("Commits/s by concurrent walkers (%s, %d CPUs)", fsync, out.Machine.CPUs),
			"walkers", "commits/s", ss, true))
		if out.Settings.Naive {
			var lost []series
			for _, s := range ss {
				lost = append(lost, series{s.name, collect(out.Throughput, s.name, func(t throughputPoint) (string, float64, float64) {
					return t.Backend + "/" + t.Mode, float64(t.Walkers), 100 * float64(t.EdgesLost) / float64(max(t.Commits, 1))
				})})
			}
			lp := newPanel("Edges lost: share of acknowledged commits whose edge is missing", "walkers", "edges lost (%)", lost, false)
			lp.p.Y.Min, lp.p.Y.Max = 0, 100
			panels = append(panels, lp)
		}
	}
	if len(out.Hub) > 0 {
		var ss []series
		for _, k := range seriesOrder(out.Hub, func(h hubPoint) string { return h.Backend + "/" + h.Mode }) {
			ss = append(ss, series{k, collect(out.Hub, k, func(h hubPoint) (string, float64, float64) {
				return h.Backend + "/" + h.Mode, float64(h.HubEdges), h.P50Ms
			})})
		}
		panels = append(panels, newPanel("Adding one edge to a hub node: p50 latency by the hub's edges", "edges on the hub", "p50 ms", ss, true))
	}
	const w, rowH = 9 * vg.Inch, 4 * vg.Inch
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	c, err := draw.NewFormattedCanvas(w, rowH*vg.Length(len(panels)), format)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	for i, pn := range panels {
		pn.draw(tiles.At(dc, 0, i))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// seriesOrder lists the series keys of pts in order of first appearance.
func seriesOrder[T any](pts []T, key func(T) string) []string {
	var keys []string
	for _, p := range pts {
		if k := key(p); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// collect returns the points of series k, sorted by x.
func collect[T any](pts []T, k string, xy func(T) (string, float64, float64)) plotter.XYs {
	var out plotter.XYs
	for _, p := range pts {
		if name, x, y := xy(p); name == k {
			out = append(out, plotter.XY{X: x, Y: y})
		}
	}
	slices.SortFunc(out, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	return out
}

// newPanel draws the series as lines with points; logY puts y on a log
// scale when every value is positive. Both axes are scaled to the data.
func newPanel(title, xLabel, yLabel string, ss []series, logY bool) panel {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = vg.Points(24)
	var xs, ys []float64
	for i, s := range ss {
		line, points, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			continue // NaN or infinite values: leave the series out
		}
		line.Color, line.Width = plotutil.Color(i), vg.Points(1.5)
		points.Color, points.Shape = plotutil.Color(i), plotutil.Shape(i)
		if strings.HasPrefix(s.name, naiveName+"/") {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Color = color.Gray{Y: 90}
			points.Color = line.Color
		}
		p.Add(line, points)
		leg.Add(s.name, line, points)
		for _, q := range s.xy {
			xs, ys = append(xs, q.X), append(ys, q.Y)
		}
	}
	if len(xs) == 0 {
		return panel{p, leg}
	}
	if positive(xs) && distinct(xs) > 1 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = valueTicks(xs)
	}
	lo, hi := axisRange(ys, logY && positive(ys))
	p.Y.Min, p.Y.Max = lo, hi
	if logY && positive(ys) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks125{}
		p.Y.Label.Text += " (log)"
	}
	return panel{p, leg}
}

// axisRange is the y range that shows values with a margin and nothing
// more: a log axis from lo/1.25 to hi*1.25, a linear one from 0 (or the
// lowest value, if negative) to hi plus 10%.
func axisRange(values []float64, log bool) (float64, float64) {
	lo, hi := slices.Min(values), slices.Max(values)
	if log {
		return lo / 1.25, hi * 1.25
	}
	lo = math.Min(lo, 0)
	if hi <= lo {
		return lo, lo + 1
	}
	return lo, hi + (hi-lo)*0.1
}

func positive(v []float64) bool {
	return !slices.ContainsFunc(v, func(x float64) bool { return x <= 0 })
}

func distinct(v []float64) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return len(slices.Compact(s))
}

// valueTicks labels an axis at exactly the measured values.
func valueTicks(v []float64) plot.ConstantTicks {
	s := slices.Clone(v)
	slices.Sort(s)
	var ticks plot.ConstantTicks
	for _, x := range slices.Compact(s) {
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	return ticks
}

// layout splits a panel's canvas: the plot on the left, the legend's box
// on the right, side by side (they never overlap).
func (pn panel) layout(c draw.Canvas) (plotArea, legendArea draw.Canvas) {
	r := pn.leg.Rectangle(c)
	pad := vg.Points(8)
	lw := r.Max.X - r.Min.X + 2*pad
	plotArea = draw.Crop(c, 0, -lw, 0, 0)
	legendArea = draw.Crop(c, c.Max.X-c.Min.X-lw+pad/2, 0, 0, -vg.Points(24))
	return plotArea, legendArea
}

// draw draws the panel: the plot, then the legend in a white box with a
// thin border.
func (pn panel) draw(c draw.Canvas) {
	plotArea, legendArea := pn.layout(c)
	pn.p.Draw(plotArea)
	r := pn.leg.Rectangle(legendArea)
	pad := vg.Points(4)
	box := vg.Rectangle{Min: vg.Point{X: r.Min.X - pad, Y: r.Min.Y - pad}, Max: vg.Point{X: r.Max.X + pad, Y: r.Max.Y + pad}}
	legendArea.SetColor(color.White)
	legendArea.Fill(box.Path())
	legendArea.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 160}, Width: vg.Points(0.5)},
		[]vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}, box.Min})
	pn.leg.Draw(legendArea)
}

// logTicks125 labels a log axis at 1, 2 and 5 times each power of ten.
type logTicks125 struct{}

func (logTicks125) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
			}
		}
	}
	return ticks
}
