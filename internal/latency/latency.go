// Package latency records one-way latencies in HdrHistogram histograms and
// summarises them in the percentiles operators read.
//
// A Recorder belongs to one goroutine (hdrhistogram-go is not safe for
// concurrent use); merge Recorders from several goroutines with Merge.
package latency

import (
	"fmt"
	"io"
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

	log    *IntervalLog // interval log, if any
	logErr error
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{total: NewHistogram(), interval: NewHistogram()}
}

// NewHistogram returns an empty histogram with a Recorder's range and
// precision: 1 ns to 60 s, 3 significant figures.
func NewHistogram() *hdr.Histogram { return hdr.New(lowest, highest, sigfigs) }

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
func (r *Recorder) Summary() Percentiles { return Summarise(r.total) }

// LogTo writes every interval to w as an HdrHistogram interval log (the
// .hlog format HistogramLogAnalyzer, HdrHistogramVisualizer and
// hdrhistogram-go's reader understand), values in ns. It writes the
// header at once; intervals follow from the next Interval call.
func (r *Recorder) LogTo(w io.Writer, comment string, now time.Time) error {
	l, err := NewIntervalLog(w, comment, now)
	if err != nil {
		return err
	}
	r.log = l
	return nil
}

// LogErr returns the first error writing the interval log, if any.
func (r *Recorder) LogErr() error { return r.logErr }

// Interval returns the percentiles since the last call, logs the interval
// if LogTo was called, and starts a new interval.
func (r *Recorder) Interval(now time.Time) Percentiles {
	p := Summarise(r.interval)
	if r.log != nil && r.logErr == nil {
		r.logErr = r.log.Write(r.interval, now)
	}
	r.interval.Reset()
	return p
}

// SwapInterval hands over the interval histogram and starts a new interval
// in spare, which must be empty and from NewHistogram. It costs no more
// than swapping two pointers, so a hot loop can leave the percentiles and
// the log of the interval to another goroutine (see Summarise and
// IntervalLog), which then resets the histogram and may hand it back as
// the next spare.
func (r *Recorder) SwapInterval(spare *hdr.Histogram) *hdr.Histogram {
	full := r.interval
	r.interval = spare
	return full
}

// IntervalLog writes intervals as an HdrHistogram interval log (.hlog),
// values in ns. It is not safe for concurrent use.
type IntervalLog struct {
	w     *hdr.HistogramLogWriter
	start int64 // ms since the epoch when the next interval began
}

// NewIntervalLog writes the log's header to w; intervals follow from
// Write, the first one starting at now.
func NewIntervalLog(w io.Writer, comment string, now time.Time) (*IntervalLog, error) {
	l := &IntervalLog{w: hdr.NewHistogramLogWriter(w), start: now.UnixMilli()}
	l.w.SetBaseTime(l.start)
	for _, err := range []error{
		l.w.OutputLogFormatVersion(),
		l.w.OutputComment(comment),
		l.w.OutputStartTime(l.start),
		l.w.OutputBaseTime(l.start),
		l.w.OutputLegend(),
	} {
		if err != nil {
			return nil, fmt.Errorf("latency: writing log header: %w", err)
		}
	}
	return l, nil
}

// Write logs h as the interval from the end of the last one to end.
func (l *IntervalLog) Write(h *hdr.Histogram, end time.Time) error {
	e := end.UnixMilli()
	h.SetStartTimeMs(l.start)
	h.SetEndTimeMs(e)
	l.start = e
	return l.w.OutputIntervalHistogram(h)
}

// Corrected returns the cumulative percentiles corrected for coordinated
// omission, for a sender that meant to send one message every
// expectedInterval ns: each value v also stands for the messages that
// would have waited v-interval, v-2*interval, ... while it was held up, as
// HdrHistogram's RecordCorrectedValue does, applied after the fact so the
// receive loop never pays for it.
func (r *Recorder) Corrected(expectedInterval int64) Percentiles {
	if expectedInterval <= 0 {
		return r.Summary()
	}
	c := hdr.New(lowest, highest, sigfigs)
	for _, bar := range r.total.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := bar.To
		_ = c.RecordValues(v, bar.Count)
		for missing := v - expectedInterval; missing >= expectedInterval; missing -= expectedInterval {
			_ = c.RecordValues(missing, bar.Count)
		}
	}
	return Summarise(c)
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

// Summarise returns h's percentiles, in µs.
func Summarise(h *hdr.Histogram) Percentiles {
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
