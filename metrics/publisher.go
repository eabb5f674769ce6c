package metrics

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
)

// PublisherSource is what a PublisherCollector reads: a
// *feedbus.Publisher.
type PublisherSource interface {
	Stats() feedbus.PublisherStats
	Stream() uint32
}

// PublisherCollector is a prometheus.Collector of a publisher's counters:
// feedbus_pub_*, labelled by stream, and by line where they apply.
type PublisherCollector struct {
	src   PublisherSource
	feed  []family[*feedbus.PublisherStats]
	lines []family[pubLine]
	info  *prometheus.Desc
}

// pubLine is one line's counts with the publisher's, which a line's
// message count is worked out from.
type pubLine struct {
	pub  *feedbus.PublisherStats
	line *feedbus.LineStats
}

const pubPrefix = "feedbus_pub_"

var pubFeed = []family[*feedbus.PublisherStats]{
	{name: "messages_total", help: "Messages published, in data frames sent.", kind: counter, value: func(s *feedbus.PublisherStats) float64 { return float64(s.Messages) }},
	{name: "frames_total", help: "Data frames sent (each on every line).", kind: counter, value: func(s *feedbus.PublisherStats) float64 { return float64(s.Frames) }},
	{name: "heartbeats_total", help: "Heartbeat frames sent (each on every line).", kind: counter, value: func(s *feedbus.PublisherStats) float64 { return float64(s.Heartbeats) }},
	{name: "wire_bytes_total", help: "Bytes of data frames sent, after compression, on each line.", kind: counter, value: func(s *feedbus.PublisherStats) float64 { return float64(s.WireBytes) }},
}

var pubLines = []family[pubLine]{
	{name: "line_frames_total", help: "Frames the line's socket took, data and heartbeats.", kind: counter, value: func(l pubLine) float64 { return float64(l.line.Sent) }},
	{name: "line_messages_total", help: "Messages the line carried: those published less those in frames it dropped.", kind: counter, value: func(l pubLine) float64 { return float64(l.pub.Messages - l.line.DroppedMessages) }},
	{name: "line_dropped_frames_total", help: "Frames dropped because the line's queue was full (--on-full drop).", kind: counter, value: func(l pubLine) float64 { return float64(l.line.Dropped) }},
	{name: "line_dropped_messages_total", help: "Messages in the frames dropped because the line's queue was full.", kind: counter, value: func(l pubLine) float64 { return float64(l.line.DroppedMessages) }},
	{name: "line_waits_total", help: "Times a send waited for the line's full queue (--on-full block).", kind: counter, value: func(l pubLine) float64 { return float64(l.line.Waits) }},
}

// NewPublisherCollector returns a collector of src's counters
// (feedbus.Publisher.Stats), read at each scrape.
func NewPublisherCollector(src PublisherSource, opts ...Option) (*PublisherCollector, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil publisher", ErrOption)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return &PublisherCollector{
		src:   src,
		feed:  describe(pubFeed, pubPrefix, []string{"stream"}, o),
		lines: describe(pubLines, pubPrefix, []string{"stream", "line"}, o),
		info:  prometheus.NewDesc(pubPrefix+"info", "The publisher's session (1).", []string{"stream", "session"}, o.labels),
	}, nil
}

// Describe sends every metric's description.
func (c *PublisherCollector) Describe(ch chan<- *prometheus.Desc) {
	sendDescs(c.feed, ch)
	sendDescs(c.lines, ch)
	ch <- c.info
}

// Collect reads the publisher's counters once and sends them.
func (c *PublisherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	stream := strconv.FormatUint(uint64(c.src.Stream()), 10)
	collect(c.feed, &st, ch, stream)
	for i := range st.Lines {
		collect(c.lines, pubLine{pub: &st, line: &st.Lines[i]}, ch, stream, bus.LineName(i))
	}
	ch <- prometheus.MustNewConstMetric(c.info, gauge, 1, stream, fmt.Sprintf("%016x", st.Session))
}

// InputErrors counts the bad records of a publisher's input (feedpub
// --input) as they are skipped, off the per-message path: Add is called
// per bad record only. It is a prometheus.Collector of
// feedbus_pub_input_errors_total.
type InputErrors struct {
	n      atomic.Uint64
	metric prometheus.Collector
}

// NewInputErrors returns a counter of stream's bad input records.
func NewInputErrors(stream uint32, opts ...Option) (*InputErrors, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	labels := prometheus.Labels{"stream": strconv.FormatUint(uint64(stream), 10)}
	for k, v := range o.labels {
		labels[k] = v
	}
	e := &InputErrors{}
	e.metric = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: pubPrefix + "input_errors_total", Help: "Bad input records (feedpub --input lines) skipped.", ConstLabels: labels,
	}, func() float64 { return float64(e.n.Load()) })
	return e, nil
}

// Add counts one bad record; safe from any goroutine.
func (e *InputErrors) Add() { e.n.Add(1) }

// Load returns the count.
func (e *InputErrors) Load() uint64 { return e.n.Load() }

// Describe sends the metric's description.
func (e *InputErrors) Describe(ch chan<- *prometheus.Desc) { e.metric.Describe(ch) }

// Collect sends the count.
func (e *InputErrors) Collect(ch chan<- prometheus.Metric) { e.metric.Collect(ch) }

// publisherNames lists every metric the publisher's collectors may send.
func publisherNames() []string {
	out := names(pubPrefix, pubFeed)
	out = append(out, names(pubPrefix, pubLines)...)
	return append(out, pubPrefix+"info", pubPrefix+"input_errors_total")
}
