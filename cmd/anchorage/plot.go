package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotThroughput draws commits/s against walkers, one line per
// backend/mode, to path (format from its extension: .svg, .png, .pdf, ...).
func plotThroughput(path string, out benchOutput) error {
	p := plot.New()
	fsync := "fsync"
	if !out.Settings.Fsync {
		fsync = "no fsync"
	}
	p.Title.Text = fmt.Sprintf("Anchorage: commits/s by concurrent walkers (%s, %d CPUs)", fsync, out.Machine.CPUs)
	p.X.Label.Text = "walkers"
	p.Y.Label.Text = "commits/s (log)"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	type key struct{ backend, mode string }
	var order []key
	pts := map[key]plotter.XYs{}
	positive := true
	for _, t := range out.Throughput {
		k := key{t.Backend, t.Mode}
		if _, ok := pts[k]; !ok {
			order = append(order, k)
		}
		pts[k] = append(pts[k], plotter.XY{X: float64(t.Walkers), Y: t.CommitsPerSec})
		if t.CommitsPerSec <= 0 {
			positive = false
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("plot: no throughput points to draw")
	}
	var walkers []int
	for _, t := range out.Throughput {
		if !slices.Contains(walkers, t.Walkers) {
			walkers = append(walkers, t.Walkers)
		}
	}
	slices.Sort(walkers)
	if walkers[0] > 0 && len(walkers) > 1 {
		p.X.Scale = plot.LogScale{}
	}
	var ticks plot.ConstantTicks
	for _, w := range walkers {
		ticks = append(ticks, plot.Tick{Value: float64(w), Label: strconv.Itoa(w)})
	}
	p.X.Tick.Marker = ticks
	if positive {
		lo, hi := math.Inf(1), 0.0
		for _, t := range out.Throughput {
			lo, hi = math.Min(lo, t.CommitsPerSec), math.Max(hi, t.CommitsPerSec)
		}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks125{}
		// Room above the lines for the legend.
		p.Y.Min, p.Y.Max = lo/1.5, hi*math.Pow(hi/lo, 0.6)*2
	} else {
		p.Y.Label.Text = "commits/s"
	}
	for i, k := range order {
		xy := pts[k]
		slices.SortFunc(xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		if k.backend == naiveName {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Color = color.Gray{Y: 90}
			points.Color = line.Color
		}
		p.Add(line, points)
		p.Legend.Add(k.backend+"/"+k.mode, line, points)
	}
	p.Legend.ThumbnailWidth = vg.Points(24)
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
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
