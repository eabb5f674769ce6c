package metrics

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/fanout"
)

// SubscriberSource is what a SubscriberCollector reads: a
// *feedbus.Subscriber.
type SubscriberSource interface {
	Counters() feedbus.Counters
}

// SubscriberCollector is a prometheus.Collector of a subscriber's
// counters: feedbus_sub_*, labelled by stream, and by line and worker
// where they apply.
type SubscriberCollector struct {
	src      SubscriberSource
	feed     []family[*feedbus.Counters]
	lines    []family[*feedbus.LineCounters]
	udpLines []family[*feedbus.LineCounters]
	workers  []family[*fanout.WorkerStats]
	recovery []family[*feedbus.RecoveryStats]
	latency  *prometheus.Desc
	info     *prometheus.Desc
}

const subPrefix = "feedbus_sub_"

var subFeed = []family[*feedbus.Counters]{
	{name: "received_total", help: "Messages delivered: first copies of the topics followed (the summary's received).", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Received) }},
	{name: "gaps_total", help: "Messages declared missing; never lowered, so the summary's gaps are this less late_total.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.GapsDeclared) }},
	{name: "late_total", help: "Messages of declared gaps that came after all.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Late) }},
	{name: "gap_events_total", help: "Holes declared gaps.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.GapEvents) }},
	{name: "pending", help: "Messages missing that are not yet declared gaps (waiting for another line or a recovery server).", kind: gauge, value: func(c *feedbus.Counters) float64 { return float64(c.Pending) }},
	{name: "duplicates_total", help: "Second copies of messages, dropped.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Duplicates) }},
	{name: "reordered_total", help: "Messages that filled a hole before it was declared a gap.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Reordered) }},
	{name: "filtered_total", help: "Messages sequenced but not delivered: not of the topics followed.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Filtered) }},
	{name: "skipped_total", help: "Messages sequenced but not delivered: of a kind this subscriber does not know.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Skipped) }},
	{name: "malformed_total", help: "Frames that did not decode.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Malformed) }},
	{name: "auth_failed_total", help: "Frames refused because they were not signed with a group key.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.AuthFailed) }},
	{name: "implausible_total", help: "Frames refused because they started implausibly far ahead of the feed.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Implausible) }},
	{name: "bad_stamps_total", help: "Frames whose send time was too far from the receive time, kept out of the latency.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.BadStamps) }},
	{name: "restarts_total", help: "Restarts of the followed publisher (a new session of its stream).", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Restarts) }},
	{name: "sessions_total", help: "Publisher sessions seen.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Sessions) }},
	{name: "frames_total", help: "Data frames of the followed feed.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Frames) }},
	{name: "heartbeats_total", help: "Heartbeat frames of the followed feed.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Heartbeats) }},
	{name: "negative_latency_total", help: "Messages that arrived before they were sent, by the two clocks.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.NegativeLatency) }},
	{name: "events_dropped_total", help: "Events dropped because the event callback was behind.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.EventsDropped) }},
	{name: "snail_trips_total", help: "Times a snail probe tripped: the receive loop or a worker could not keep up.", kind: counter, value: func(c *feedbus.Counters) float64 { return float64(c.Snail.Trips) }},
}

var subLines = []family[*feedbus.LineCounters]{
	{name: "line_frames_total", help: "Frames the line brought, good or bad.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.AllFrames) }},
	{name: "line_data_frames_total", help: "Data frames of the followed feed the line brought.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.DataFrames) }},
	{name: "line_heartbeats_total", help: "Heartbeat frames of the followed feed the line brought.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Heartbeats) }},
	{name: "line_received_total", help: "Messages the line brought, second copies included.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Received) }},
	{name: "line_won_total", help: "Messages the line brought first.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Won) }},
	{name: "line_gaps_total", help: "Messages missing from the line alone, declared; never lowered (the summary's line gaps are this less line_late_total).", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.GapsDeclared) }},
	{name: "line_late_total", help: "Messages of the line's declared gaps that it brought after all.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Late) }},
	{name: "line_foreign_total", help: "Frames of another stream or publisher session, dropped.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Foreign) }},
	{name: "line_auth_failed_total", help: "Frames refused because they were not signed with a group key.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.AuthFailed) }},
	{name: "line_implausible_total", help: "Frames refused because they started implausibly far ahead of the feed.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Implausible) }},
	{name: "line_conflicts_total", help: "Message copies that differed from the copy that won.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Conflicts) }},
	{name: "line_rejoins_total", help: "Times the line was rejoined after a silence.", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Rejoins) }},
	{name: "line_last_frame_timestamp_seconds", help: "When the line last brought a frame, or was (re)joined, in seconds since the epoch.", kind: gauge, value: func(l *feedbus.LineCounters) float64 { return float64(l.LastFrame.UnixNano()) / 1e9 }},
}

var subUDPLines = []family[*feedbus.LineCounters]{
	{name: "line_kernel_drops_total", help: "Datagrams the kernel dropped for want of socket buffer (udp:// lines).", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.KernelDrops) }},
	{name: "line_truncated_total", help: "Datagrams larger than --max-datagram, dropped (udp:// lines).", kind: counter, value: func(l *feedbus.LineCounters) float64 { return float64(l.Truncated) }},
}

var subWorkers = []family[*fanout.WorkerStats]{
	{name: "worker_dispatched_total", help: "Messages given to the worker.", kind: counter, value: func(w *fanout.WorkerStats) float64 { return float64(w.Dispatched) }},
	{name: "worker_handled_total", help: "Messages the worker's handler took.", kind: counter, value: func(w *fanout.WorkerStats) float64 { return float64(w.Processed) }},
	{name: "worker_dropped_total", help: "Messages dropped on the worker's full queue.", kind: counter, value: func(w *fanout.WorkerStats) float64 { return float64(w.Dropped) }},
	{name: "worker_conflated_total", help: "Messages replaced in the worker's queue by a newer one of the same symbol and kind (--overflow conflate).", kind: counter, value: func(w *fanout.WorkerStats) float64 { return float64(w.Conflated) }},
	{name: "worker_abandoned_total", help: "Messages left in the worker's queue at the end.", kind: counter, value: func(w *fanout.WorkerStats) float64 { return float64(w.Abandoned) }},
	{name: "worker_queue_depth", help: "Messages in the worker's queue.", kind: gauge, value: queueDepth},
	{name: "worker_queue_max", help: "The most messages the worker's queue has held.", kind: gauge, value: func(w *fanout.WorkerStats) float64 { return float64(w.QueueMax) }},
	{name: "worker_queue_capacity", help: "The worker's queue length (--queue-len).", kind: gauge, value: func(w *fanout.WorkerStats) float64 { return float64(w.QueueLen) }},
	{name: "worker_max_lag_seconds", help: "The largest time from a message's send to the worker taking it.", kind: gauge, value: func(w *fanout.WorkerStats) float64 { return w.MaxLagUs / 1e6 }},
}

// queueDepth is what was dispatched and not yet taken, dropped, conflated
// or abandoned. The counters are read one at a time, so it may be off by
// what moved meanwhile, and never below 0.
func queueDepth(w *fanout.WorkerStats) float64 {
	out := w.Processed + w.Dropped + w.Conflated + w.Abandoned
	if w.Dispatched <= out {
		return 0
	}
	return float64(w.Dispatched - out)
}

var subRecovery = []family[*feedbus.RecoveryStats]{
	{name: "recovered_total", help: "Messages delivered from a recovery server.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Recovered) }},
	{name: "unrecovered_total", help: "Messages of holes no recovery server filled in time (gaps too).", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Unrecovered) }},
	{name: "recovery_requests_total", help: "Retransmission requests to the recovery servers.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Requests) }},
	{name: "recovery_snapshots_total", help: "Snapshot requests to the recovery servers.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Snapshots) }},
	{name: "recovery_snapshot_records_total", help: "Records delivered from snapshots.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.SnapshotRecords) }},
	{name: "recovery_failures_total", help: "Requests given up: no server answered, or one could not serve them.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Failed) }},
	{name: "recovery_timeouts_total", help: "Tries a recovery server did not answer in time.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Client.Timeouts) }},
	{name: "recovery_failovers_total", help: "Tries sent to the next recovery server after a timeout or a busy reply.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Client.Failovers) }},
	{name: "recovery_unavailable_total", help: "Requests no recovery server answered.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Client.Unavailable) }},
	{name: "recovery_bad_replies_total", help: "Replies that did not parse or answered no request in progress.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Client.BadReplies) }},
	{name: "recovery_stale_replies_total", help: "Replies to requests no longer in progress.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.Stale) }},
	{name: "recovery_hold_overflows_total", help: "Holes given up because the frames held behind them passed --hold-mb.", kind: counter, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.HoldOverflows) }},
	{name: "recovery_held_max_bytes", help: "The most frame bytes held behind a hole at once.", kind: gauge, value: func(r *feedbus.RecoveryStats) float64 { return float64(r.HeldMax) }},
}

// NewSubscriberCollector returns a collector of src's counters
// (feedbus.Subscriber.Counters), read at each scrape.
func NewSubscriberCollector(src SubscriberSource, opts ...Option) (*SubscriberCollector, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil subscriber", ErrOption)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	stream := []string{"stream"}
	lines := []string{"stream", "line"}
	return &SubscriberCollector{
		src:      src,
		feed:     describe(subFeed, subPrefix, stream, o),
		lines:    describe(subLines, subPrefix, lines, o),
		udpLines: describe(subUDPLines, subPrefix, lines, o),
		workers:  describe(subWorkers, subPrefix, []string{"stream", "worker"}, o),
		recovery: describe(subRecovery, subPrefix, stream, o),
		latency: prometheus.NewDesc(subPrefix+"latency_seconds",
			"One-way latency of the messages delivered (receive time less the publisher's send time), since the start.", stream, o.labels),
		info: prometheus.NewDesc(subPrefix+"info", "The publisher session followed (1).", []string{"stream", "session"}, o.labels),
	}, nil
}

// Describe sends every metric's description.
func (c *SubscriberCollector) Describe(ch chan<- *prometheus.Desc) {
	sendDescs(c.feed, ch)
	sendDescs(c.lines, ch)
	sendDescs(c.udpLines, ch)
	sendDescs(c.workers, ch)
	sendDescs(c.recovery, ch)
	ch <- c.latency
	ch <- c.info
}

// Collect reads the subscriber's counters once and sends them.
func (c *SubscriberCollector) Collect(ch chan<- prometheus.Metric) {
	cs := c.src.Counters()
	stream := ""
	if cs.StreamKnown {
		stream = strconv.FormatUint(uint64(cs.Stream), 10)
	}
	collect(c.feed, &cs, ch, stream)
	for i := range cs.Lines {
		ln := &cs.Lines[i]
		collect(c.lines, ln, ch, stream, ln.Name)
		if ln.UDP {
			collect(c.udpLines, ln, ch, stream, ln.Name)
		}
	}
	for i := range cs.Workers {
		w := &cs.Workers[i]
		collect(c.workers, w, ch, stream, strconv.Itoa(w.Worker))
	}
	if cs.Recovery != nil {
		collect(c.recovery, cs.Recovery, ch, stream)
	}
	lat := cs.Latency
	buckets := make(map[float64]uint64, len(lat.Bounds))
	for i, le := range lat.Bounds {
		buckets[le] = lat.Cumulative[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, lat.Count, lat.Sum, buckets, stream)
	if cs.Session != 0 {
		ch <- prometheus.MustNewConstMetric(c.info, gauge, 1, stream, fmt.Sprintf("%016x", cs.Session))
	}
}

// subscriberNames lists every metric the collector may send.
func subscriberNames() []string {
	out := names(subPrefix, subFeed)
	out = append(out, names(subPrefix, subLines)...)
	out = append(out, names(subPrefix, subUDPLines)...)
	out = append(out, names(subPrefix, subWorkers)...)
	out = append(out, names(subPrefix, subRecovery)...)
	return append(out, subPrefix+"latency_seconds", subPrefix+"info")
}
