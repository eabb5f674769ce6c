package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// readHlog merges every interval of an HdrHistogram interval log.
func readHlog(path string) (*hdr.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interval log: %w", err)
	}
	defer f.Close()
	r := hdr.NewHistogramLogReader(f)
	var total *hdr.Histogram
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("interval log %s: %w", path, err)
		}
		if h == nil {
			break
		}
		if total == nil {
			total = hdr.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		if dropped := total.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("interval log %s: %d values out of range", path, dropped)
		}
	}
	if total == nil || total.TotalCount() == 0 {
		return nil, fmt.Errorf("interval log %s holds no values", path)
	}
	return total, nil
}

// curve is a histogram's percentile distribution as HdrHistogram plots
// it: x = 1/(1-p) for percentile p, y = latency in µs, from p = 0 to the
// maximum, which sits at 1/(1-p) = the count.
func curve(h *hdr.Histogram) plotter.XYs {
	n := float64(h.TotalCount())
	var xys plotter.XYs
	// Five points per halving of the distance to 100%, as HdrHistogram's
	// percentile output has.
	for i := 0; ; i++ {
		x := math.Pow(2, float64(i)/5)
		if x >= n {
			break
		}
		p := 100 * (1 - 1/x)
		xys = append(xys, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(p)) / 1e3})
	}
	return append(xys, plotter.XY{X: max(n, 1.0001), Y: float64(h.Max()) / 1e3})
}

// percentileTicks label the x axis in percentiles: 0%, 90%, 99%, ...
func percentileTicks(_, hi float64) []plot.Tick {
	ticks := []plot.Tick{{Value: 1, Label: "0%"}}
	for k := 1; math.Pow(10, float64(k)) <= hi*1.0001; k++ {
		// 1/(1-p) = 10^k: p = 90%, 99%, 99.9%, ...
		label := map[int]string{1: "90%", 2: "99%"}[k]
		if k > 2 {
			label = "99." + strings.Repeat("9", k-2) + "%"
		}
		ticks = append(ticks, plot.Tick{Value: math.Pow(10, float64(k)), Label: label})
	}
	return ticks
}

// latencyTicks label the y axis at 1, 2, 5 × powers of ten, in µs or ms.
func latencyTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo/1.0001 || v > hi*1.0001 {
				continue
			}
			label := strconv.FormatFloat(v, 'f', -1, 64) + " µs"
			if v >= 1000 {
				label = strconv.FormatFloat(v/1000, 'f', -1, 64) + " ms"
			}
			if m != 1 && hi/lo > 1e4 {
				label = "" // minor tick: keep a wide axis readable
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}

// series is one system's line in a plot.
type series struct {
	name string
	h    *hdr.Histogram
}

var seriesStyle = map[int]struct {
	c    color.Color
	dash []vg.Length
}{
	0: {color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, []vg.Length{vg.Points(4), vg.Points(2), vg.Points(1), vg.Points(2)}}, // feedbus: orange, dash-dot
	1: {color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, nil},                                                                 // feedbus tuned: red, solid
	2: {color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, []vg.Length{vg.Points(8), vg.Points(2)}},                             // udp://: brown, long dashes
	3: {color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, []vg.Length{vg.Points(3), vg.Points(3)}},                             // udp:// tuned: purple, short dashes
	4: {color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, []vg.Length{vg.Points(6), vg.Points(3)}},                             // bare: blue, dashed
	5: {color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, []vg.Length{vg.Points(2), vg.Points(2)}},                             // wire: green, dotted
}

// plotLatency draws the percentile distributions of ss into a PNG at path.
func plotLatency(path, title string, ss []series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile p (x axis: log scale of 1/(1-p))"
	p.Y.Label.Text = "one-way latency (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(percentileTicks)
	p.Y.Tick.Marker = plot.TickerFunc(latencyTicks)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(12), -vg.Points(40)
	p.Legend.Padding = vg.Points(4)
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = color.Gray{Y: 0xdd}, color.Gray{Y: 0xdd}
	p.Add(grid)
	lo, hi := math.Inf(1), 0.0
	for i, s := range ss {
		xys := curve(s.h)
		for j := range xys {
			xys[j].Y = max(xys[j].Y, 0.001) // a log axis has no 0
			lo, hi = min(lo, xys[j].Y), max(hi, xys[j].Y)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		st := seriesStyle[i%len(seriesStyle)]
		l.LineStyle = draw.LineStyle{Color: st.c, Width: vg.Points(1.6), Dashes: st.dash}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	// Room above the lines for the legend: they rise to the right, so the
	// top left is free.
	p.Y.Min, p.Y.Max = lo/1.2, hi*4
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// drawPlots draws one PNG per latency label, a line per system, from the
// interval logs the subscribers wrote (so the plots also prove the logs
// read back), and checks each log against its run's count.
func drawPlots(res *results) error {
	for _, label := range latencyLabels() {
		var ss []series
		for _, sys := range latencySystems {
			runs := res.latencyRuns(label, sys)
			if len(runs) == 0 {
				continue
			}
			var merged *hdr.Histogram
			for _, r := range runs {
				h, err := readHlog(r.spec.hlog)
				if err != nil {
					return err
				}
				if uint64(h.TotalCount()) != r.lat.Count {
					res.notes = append(res.notes, fmt.Sprintf("%s: the interval log holds %d values, the summary counts %d.",
						filepath.Base(r.spec.hlog), h.TotalCount(), r.lat.Count))
				}
				if merged == nil {
					merged = h
				} else {
					merged.Merge(h)
				}
			}
			name := sys.title()
			if label == "max" {
				name += " at " + thousands(runs[0].spec.rate) + " msg/s"
			}
			if len(runs) > 1 {
				name += fmt.Sprintf(" (%d runs)", len(runs))
			}
			ss = append(ss, series{name: name, h: merged})
		}
		if len(ss) == 0 {
			continue
		}
		title := fmt.Sprintf("%d-byte messages at %s msg/s, not corrected for coordinated omission", latencySize, thousands(labelRate(label)))
		if label == "max" {
			title = fmt.Sprintf("%d-byte messages, each at its highest sustainable rate, not corrected", latencySize)
		}
		path := filepath.Join(res.plotsDir, pngName(label))
		if err := plotLatency(path, title, ss); err != nil {
			return err
		}
		res.pngs = append(res.pngs, path)
	}
	return nil
}
