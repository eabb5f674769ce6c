package metrics

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/cache"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

type fakeSubscriber struct{ c feedbus.Counters }

func (f *fakeSubscriber) Counters() feedbus.Counters { return f.c }

type fakePublisher struct{ st feedbus.PublisherStats }

func (f *fakePublisher) Stats() feedbus.PublisherStats { return f.st }
func (f *fakePublisher) Stream() uint32                { return 9 }

type fakeCache struct{ st cache.Stats }

func (f *fakeCache) Stats() cache.Stats { return f.st }

// subscriberCounters has a distinct value in every counter, a ZeroMQ line
// and a udp:// one, two workers, recovery, and latency in three buckets.
func subscriberCounters() feedbus.Counters {
	return feedbus.Counters{
		Stream: 7, StreamKnown: true, Session: 0xabc,
		Received: 1000, Filtered: 2, Skipped: 3, Gaps: 40, GapsDeclared: 45, GapEvents: 4, Late: 5, Pending: 6,
		Duplicates: 900, Reordered: 7, Implausible: 8, Sessions: 1, Malformed: 9, AuthFailed: 10, BadStamps: 11, Restarts: 12,
		Frames: 100, Heartbeats: 13, NegativeLatency: 14, EventsDropped: 15,
		Lines: []feedbus.LineCounters{
			{Name: "A", AllFrames: 60, DataFrames: 55, Heartbeats: 5, Received: 950, Won: 600, Gaps: 20, GapsDeclared: 21, Late: 1, Rejoins: 1, LastFrame: time.Unix(1700000000, 500_000_000)},
			{Name: "B", UDP: true, AllFrames: 50, DataFrames: 45, Received: 950, Won: 400, KernelDrops: 16, Truncated: 17},
		},
		Workers: []fanout.WorkerStats{
			{Worker: 0, Dispatched: 600, Processed: 500, Dropped: 30, Conflated: 20, QueueMax: 64, QueueLen: 16384, MaxLagUs: 1500},
			{Worker: 1, Dispatched: 400, Processed: 400},
		},
		Snail:    snail.Stats{Trips: 2},
		Recovery: &feedbus.RecoveryStats{Recovered: 18, Requests: 19, HeldMax: 4096, Client: recovery.ClientStats{Timeouts: 20}},
		Latency: feedbus.LatencyHistogram{
			Count: 1000, Sum: 0.25,
			Bounds:     []float64{0.000001024, 0.000002048, 0.000004096},
			Cumulative: []uint64{100, 700, 990},
		},
	}
}

func gather(t *testing.T, cs ...prometheus.Collector) metricstest.Families {
	t.Helper()
	reg := prometheus.NewPedanticRegistry() // also checks Collect against Describe
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	fams, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

type want struct {
	name   string
	labels []string
	value  float64
}

func checkValues(t *testing.T, fams metricstest.Families, wants []want) {
	t.Helper()
	for _, w := range wants {
		got, ok := fams.Value(w.name, w.labels...)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
}

func TestSubscriberCollector(t *testing.T) {
	src := &fakeSubscriber{c: subscriberCounters()}
	c, err := NewSubscriberCollector(src)
	if err != nil {
		t.Fatal(err)
	}
	fams := gather(t, c)
	for _, name := range subscriberNames() {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from a scrape of a subscriber with every kind of line, worker and recovery", name)
		}
	}
	s := []string{"stream", "7"}
	checkValues(t, fams, []want{
		{"feedbus_sub_received_total", s, 1000},
		{"feedbus_sub_gaps_total", s, 45}, // declared: never lowered by the 5 late
		{"feedbus_sub_late_total", s, 5},
		{"feedbus_sub_pending", s, 6},
		{"feedbus_sub_duplicates_total", s, 900},
		{"feedbus_sub_snail_trips_total", s, 2},
		{"feedbus_sub_line_won_total", []string{"stream", "7", "line", "A"}, 600},
		{"feedbus_sub_line_won_total", []string{"line", "B"}, 400},
		{"feedbus_sub_line_gaps_total", []string{"line", "A"}, 21},
		{"feedbus_sub_line_last_frame_timestamp_seconds", []string{"line", "A"}, 1700000000.5},
		{"feedbus_sub_line_kernel_drops_total", []string{"line", "B"}, 16},
		{"feedbus_sub_worker_handled_total", []string{"worker", "0"}, 500},
		{"feedbus_sub_worker_queue_depth", []string{"worker", "0"}, 50}, // 600 - 500 - 30 - 20
		{"feedbus_sub_worker_queue_depth", []string{"worker", "1"}, 0},
		{"feedbus_sub_worker_max_lag_seconds", []string{"worker", "0"}, 0.0015},
		{"feedbus_sub_recovered_total", s, 18},
		{"feedbus_sub_recovery_timeouts_total", s, 20},
		{"feedbus_sub_recovery_held_max_bytes", s, 4096},
		{"feedbus_sub_info", []string{"stream", "7", "session", "0000000000000abc"}, 1},
	})
	if _, ok := fams.Metric("feedbus_sub_line_kernel_drops_total", "line", "A"); ok {
		t.Error("a ZeroMQ line has udp:// counters")
	}
	m, ok := fams.Metric("feedbus_sub_latency_seconds", s...)
	if !ok || m.Histogram == nil {
		t.Fatal("no latency histogram")
	}
	h := m.Histogram
	if h.GetSampleCount() != 1000 || h.GetSampleSum() != 0.25 {
		t.Errorf("latency count %d sum %v, want 1000 and 0.25", h.GetSampleCount(), h.GetSampleSum())
	}
	var got []uint64
	for _, b := range h.GetBucket() {
		got = append(got, b.GetCumulativeCount())
	}
	if !slices.Equal(got, []uint64{100, 700, 990}) || h.GetBucket()[0].GetUpperBound() != 0.000001024 {
		t.Errorf("latency buckets %v, want cumulative 100, 700, 990 from 1.024µs", h.GetBucket())
	}

	// Before the first session: no stream yet, no info, no recovery.
	src.c = feedbus.Counters{Lines: []feedbus.LineCounters{{Name: "A"}}}
	fams = gather(t, c)
	if _, ok := fams.Value("feedbus_sub_received_total", "stream", ""); !ok {
		t.Error("before a stream is heard, the counters should carry an empty stream")
	}
	for _, name := range []string{"feedbus_sub_info", "feedbus_sub_recovered_total"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s before a session, or without recovery", name)
		}
	}
}

func TestPublisherCollector(t *testing.T) {
	src := &fakePublisher{st: feedbus.PublisherStats{Session: 0x1234, Messages: 1000, Frames: 100, Heartbeats: 5, WireBytes: 140000,
		Lines: []feedbus.LineStats{
			{LineStats: bus.LineStats{Sent: 105}},
			{LineStats: bus.LineStats{Sent: 95, Dropped: 10, Waits: 3, DroppedMessages: 100}},
		}}}
	c, err := NewPublisherCollector(src)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := NewInputErrors(9)
	if err != nil {
		t.Fatal(err)
	}
	bad.Add()
	bad.Add()
	fams := gather(t, c, bad)
	for _, name := range publisherNames() {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	s := []string{"stream", "9"}
	checkValues(t, fams, []want{
		{"feedbus_pub_messages_total", s, 1000},
		{"feedbus_pub_frames_total", s, 100},
		{"feedbus_pub_heartbeats_total", s, 5},
		{"feedbus_pub_wire_bytes_total", s, 140000},
		{"feedbus_pub_line_frames_total", []string{"stream", "9", "line", "A"}, 105},
		{"feedbus_pub_line_messages_total", []string{"line", "A"}, 1000},
		{"feedbus_pub_line_dropped_frames_total", []string{"line", "A"}, 0},
		{"feedbus_pub_line_messages_total", []string{"line", "B"}, 900},
		{"feedbus_pub_line_dropped_frames_total", []string{"line", "B"}, 10},
		{"feedbus_pub_line_dropped_messages_total", []string{"line", "B"}, 100},
		{"feedbus_pub_line_waits_total", []string{"line", "B"}, 3},
		{"feedbus_pub_input_errors_total", s, 2},
		{"feedbus_pub_info", []string{"stream", "9", "session", "0000000000001234"}, 1},
	})
}

func TestCacheCollector(t *testing.T) {
	src := &fakeCache{st: cache.Stats{Heard: true, Session: 0x55, Stream: 4, Ready: true, LastSeq: 5000, Received: 4990, Missed: 10,
		FeedGaps: 10, Symbols: 100, HistoryCount: 5000, HistoryAge: 1500 * time.Millisecond, Requests: 7, Snapshots: 2, Retransmits: 4,
		BadRequests: 1, MessagesSent: 300, Busy: 1, InProgress: 1}}
	c, err := NewCacheCollector(src)
	if err != nil {
		t.Fatal(err)
	}
	fams := gather(t, c)
	for _, name := range cacheNames() {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	s := []string{"stream", "4"}
	checkValues(t, fams, []want{
		{"feedbus_cache_ready", s, 1},
		{"feedbus_cache_complete", s, 0},
		{"feedbus_cache_last_seq", s, 5000},
		{"feedbus_cache_received_total", s, 4990},
		{"feedbus_cache_missed_total", s, 10},
		{"feedbus_cache_feed_gaps", s, 10},
		{"feedbus_cache_symbols", s, 100},
		{"feedbus_cache_history_messages", s, 5000},
		{"feedbus_cache_history_age_seconds", s, 1.5},
		{"feedbus_cache_requests_total", s, 7},
		{"feedbus_cache_snapshot_requests_total", s, 2},
		{"feedbus_cache_retransmit_requests_total", s, 4},
		{"feedbus_cache_messages_sent_total", s, 300},
		{"feedbus_cache_in_progress", s, 1},
		{"feedbus_cache_info", []string{"stream", "4", "session", "0000000000000055"}, 1},
	})
}

// The names follow Prometheus's conventions (promlint): counters end in
// _total, units are base units.
func TestCollectorsLint(t *testing.T) {
	sub, _ := NewSubscriberCollector(&fakeSubscriber{c: subscriberCounters()})
	pub, _ := NewPublisherCollector(&fakePublisher{st: feedbus.PublisherStats{Lines: make([]feedbus.LineStats, 2)}})
	bad, _ := NewInputErrors(1)
	cc, _ := NewCacheCollector(&fakeCache{st: cache.Stats{Heard: true}})
	for _, c := range []prometheus.Collector{sub, pub, bad, cc} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestLabelsOption(t *testing.T) {
	c, err := NewSubscriberCollector(&fakeSubscriber{c: subscriberCounters()}, WithLabels(prometheus.Labels{"feed": "equities"}))
	if err != nil {
		t.Fatal(err)
	}
	fams := gather(t, c)
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == "feed" && lp.GetValue() == "equities"
			}
			if !found {
				t.Fatalf("%s lacks the constant label feed=equities", name)
			}
		}
	}
	for _, bad := range []prometheus.Labels{{"line": "x"}, {"stream": "1"}, {"__name": "x"}, {"1feed": "x"}, {"a-b": "x"}} {
		if _, err := NewSubscriberCollector(&fakeSubscriber{}, WithLabels(bad)); !errors.Is(err, ErrOption) || strings.Contains(err.Error(), "\n") {
			t.Errorf("WithLabels(%v): %v, want a one-line ErrOption", bad, err)
		}
	}
	if _, err := NewPublisherCollector(nil); !errors.Is(err, ErrOption) {
		t.Errorf("a nil publisher: %v, want ErrOption", err)
	}
	if _, err := NewCacheCollector(&fakeCache{}, nil); !errors.Is(err, ErrOption) {
		t.Errorf("a nil option: %v, want ErrOption", err)
	}
}
