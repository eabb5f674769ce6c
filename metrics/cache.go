package metrics

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedbus/feedbus/cache"
)

// CacheSource is what a CacheCollector reads: a *cache.Server.
type CacheSource interface {
	Stats() cache.Stats
}

// CacheCollector is a prometheus.Collector of a recovery server's counts:
// feedbus_cache_*, labelled by the stream it follows.
type CacheCollector struct {
	src   CacheSource
	stats []family[*cache.Stats]
	info  *prometheus.Desc
}

const cachePrefix = "feedbus_cache_"

var cacheStats = []family[*cache.Stats]{
	// The feed.
	{name: "ready", help: "1 when the cache serves snapshots, 0 while it serves retransmissions only or has not heard the feed.", kind: gauge, value: func(s *cache.Stats) float64 { return boolValue(s.Ready) }},
	{name: "complete", help: "1 when the cache has the session from its start (or from another server's snapshot).", kind: gauge, value: func(s *cache.Stats) float64 { return boolValue(s.Complete) }},
	{name: "last_seq", help: "The highest sequence number applied.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.LastSeq) }},
	{name: "received_total", help: "Messages applied to the books and the history.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Received) }},
	{name: "missed_total", help: "Sequence numbers skipped when a higher one came.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Missed) }},
	{name: "late_fills_total", help: "Skipped numbers that came after all.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.LateFills) }},
	{name: "snapshot_records_total", help: "Records of the cache's own recovery from a peer's snapshot.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.SnapshotRecords) }},
	{name: "feed_received_total", help: "Messages the cache's subscriber delivered (as of its last status interval).", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.FeedReceived) }},
	{name: "feed_gaps", help: "Messages the cache's subscriber declared missing and never filled (as of its last status interval).", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.FeedGaps) }},
	{name: "feed_duplicates_total", help: "Second copies the cache's subscriber dropped (as of its last status interval).", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.FeedDuplicates) }},
	{name: "feed_malformed_total", help: "Frames that did not decode (as of the subscriber's last status interval).", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.FeedMalformed) }},
	// What is held.
	{name: "symbols", help: "Symbols with a book.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.Symbols) }},
	{name: "symbols_refused_total", help: "Messages of symbols beyond --max-symbols, not booked.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.SymbolsRefused) }},
	{name: "app_records", help: "Application kinds' last messages held.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.AppRecords) }},
	{name: "app_bytes", help: "Bytes of the application kinds' last-message bodies held.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.AppBytes) }},
	{name: "app_refused_total", help: "Application kinds' messages not kept (past --max-app-kinds or --max-app-bytes).", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.AppRefused) }},
	{name: "history_messages", help: "Messages held for retransmission.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.HistoryCount) }},
	{name: "history_bytes", help: "Bytes of messages held for retransmission.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.HistoryBytes) }},
	{name: "history_sessions", help: "Publisher sessions with messages held.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.HistorySessions) }},
	{name: "history_first_seq", help: "The lowest sequence number held of the followed session.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.HistoryFirst) }},
	{name: "history_last_seq", help: "The highest sequence number held of the followed session.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.HistoryLast) }},
	{name: "history_age_seconds", help: "How long ago the oldest message held arrived.", kind: gauge, value: func(s *cache.Stats) float64 { return s.HistoryAge.Seconds() }},
	{name: "history_evicted_total", help: "Messages evicted from the history by --history-count, --history-bytes or --history-age.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.HistoryEvicted) }},
	{name: "history_dropped_total", help: "Messages dropped from the history by a jump past a session's index span.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.HistoryDropped) }},
	{name: "history_refused_total", help: "Messages not held at all.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.HistoryRefused) }},
	// Requests and replies.
	{name: "requests_total", help: "Messages received on the recovery socket, well formed or not.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Requests) }},
	{name: "snapshot_requests_total", help: "Snapshot requests, served or refused.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Snapshots) }},
	{name: "retransmit_requests_total", help: "Retransmission requests, served or refused.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Retransmits) }},
	{name: "bad_requests_total", help: "Requests that did not parse.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.BadRequests) }},
	{name: "replies_total", help: "Replies sent.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Replies) }},
	{name: "reply_bytes_total", help: "Bytes of replies sent.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.ReplyBytes) }},
	{name: "records_sent_total", help: "Snapshot records sent.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.RecordsSent) }},
	{name: "frames_sent_total", help: "Retransmitted frames sent.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.FramesSent) }},
	{name: "messages_sent_total", help: "Messages in the retransmitted frames sent.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.MessagesSent) }},
	{name: "errors_replied_total", help: "Error replies sent, of any code.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.ErrorsReplied) }},
	{name: "busy_total", help: "Requests refused as busy (over --max-requests).", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Busy) }},
	{name: "slow_drops_total", help: "Requests whose remaining replies were dropped: the client read nothing for --client-timeout.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.SlowDrops) }},
	{name: "unreachable_total", help: "Requests dropped because the client was gone.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Unreachable) }},
	{name: "replies_dropped_total", help: "Error replies that could not be sent at once.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.RepliesDropped) }},
	{name: "internal_errors_total", help: "What should never happen: a bug.", kind: counter, value: func(s *cache.Stats) float64 { return float64(s.Internal) }},
	{name: "in_progress", help: "Requests in progress.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.InProgress) }},
	{name: "clients", help: "Clients with requests in progress.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.Clients) }},
	{name: "parked", help: "Clients whose queue is full, their replies held.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.Parked) }},
	{name: "parked_bytes", help: "Bytes of replies held for parked clients.", kind: gauge, value: func(s *cache.Stats) float64 { return float64(s.ParkedBytes) }},
}

// NewCacheCollector returns a collector of src's counts
// (cache.Server.Stats), read at each scrape.
func NewCacheCollector(src CacheSource, opts ...Option) (*CacheCollector, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil cache server", ErrOption)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return &CacheCollector{
		src:   src,
		stats: describe(cacheStats, cachePrefix, []string{"stream"}, o),
		info:  prometheus.NewDesc(cachePrefix+"info", "The publisher session the cache follows (1).", []string{"stream", "session"}, o.labels),
	}, nil
}

// Describe sends every metric's description.
func (c *CacheCollector) Describe(ch chan<- *prometheus.Desc) {
	sendDescs(c.stats, ch)
	ch <- c.info
}

// Collect reads the server's counts once and sends them.
func (c *CacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	stream := ""
	if st.Heard {
		stream = strconv.FormatUint(uint64(st.Stream), 10)
	}
	collect(c.stats, &st, ch, stream)
	if st.Heard {
		ch <- prometheus.MustNewConstMetric(c.info, gauge, 1, stream, fmt.Sprintf("%016x", st.Session))
	}
}

// cacheNames lists every metric the collector may send.
func cacheNames() []string {
	return append(names(cachePrefix, cacheStats), cachePrefix+"info")
}
