// Package latency records one-way latencies in HdrHistogram histograms and
// summarises them in the percentiles operators read.
//
// A Recorder belongs to one goroutine (hdrhistogram-go is not safe for
// concurrent use); merge Recorders from several goroutines with Merge.
package latency

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

const (
	lowest  = 1                       // ns
	highest = int64(60 * time.Second) // longer is clamped: a feed that late is dead
	sigfigs = 3
)

// Recorder holds a cumulative histogram and one for the current interval.
type Recorder struct {
	total    *hdr.Histogram
	interval *hdr.Histogram
	negative uint64
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{
		total:    hdr.New(lowest, highest, sigfigs),
		interval: hdr.New(lowest, highest, sigfigs),
	}
}

// Record adds n messages that took d ns. A negative d means the sender's
// clock is ahead of ours; it is counted and recorded as the lowest value.
func (r *Recorder) Record(d int64, n int64) {
	if d < lowest {
		if d < 0 {
			r.negative += uint64(n)
		}
		d = lowest
	} else if d > highest {
		d = highest
	}
	// Values are clamped to the histogram's range, so these cannot fail.
	_ = r.total.RecordValues(d, n)
	_ = r.interval.RecordValues(d, n)
}

// Negative is the number of messages that arrived before they were sent,
// by the clocks' reckoning.
func (r *Recorder) Negative() uint64 { return r.negative }

// Summary returns the cumulative percentiles.
func (r *Recorder) Summary() Percentiles { return summarise(r.total) }

// Interval returns the percentiles since the last call and starts a new interval.
func (r *Recorder) Interval() Percentiles {
	p := summarise(r.interval)
	r.interval.Reset()
	return p
}

// Histogram returns the cumulative histogram, for logs and merging.
func (r *Recorder) Histogram() *hdr.Histogram { return r.total }

// Merge adds o's cumulative counts to r.
func (r *Recorder) Merge(o *Recorder) {
	r.total.Merge(o.total)
	r.negative += o.negative
}

// Percentiles of a latency distribution, in microseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func summarise(h *hdr.Histogram) Percentiles {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: uint64(h.TotalCount()),
		Min:   us(h.Min()),
		Mean:  h.Mean() / 1e3,
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// Format renders a latency in µs with a unit a person reads at a glance.
func Format(us float64) string {
	d := time.Duration(us * 1e3)
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
