package cache

import (
	"sync/atomic"
	"time"
)

// Stats is a server's account: the feed as the cache follows it, what it
// holds, and what it served and refused. Server.Stats returns it at any
// time, from any goroutine; its JSON form is feedcache's --json document.
type Stats struct {
	// The feed. Session and Stream are the followed ones; LastSeq the
	// highest number applied (what a snapshot now reflects); JoinedAt
	// the first number the cache applied of Session. Complete says the
	// cache saw Session from its start (or from another server's
	// snapshot); Ready that it serves snapshots.
	Heard    bool   `json:"heard"`
	Session  uint64 `json:"session"`
	Stream   uint32 `json:"stream"`
	JoinedAt uint64 `json:"joined_at"`
	LastSeq  uint64 `json:"last_seq"`
	Complete bool   `json:"complete"`
	Ready    bool   `json:"ready"`
	// Received counts the messages the cache applied; Missed the numbers
	// it skipped when a higher one came (LateFills brought some back);
	// SnapshotRecords the records of its own recovery, if any.
	Received        uint64 `json:"received"`
	Missed          uint64 `json:"missed"`
	LateFills       uint64 `json:"late_fills"`
	SnapshotRecords uint64 `json:"snapshot_records"`
	// The cache's subscriber's own counts, as of its last status
	// interval (every second), and in full after Close.
	FeedReceived   uint64 `json:"feed_received"`
	FeedGaps       uint64 `json:"feed_gaps"`
	FeedDuplicates uint64 `json:"feed_duplicates"`
	FeedMalformed  uint64 `json:"feed_malformed"`

	// What is held. Symbols counts the books; SymbolsRefused the messages
	// of symbols beyond --max-symbols. AppRecords counts the application
	// kinds' last messages held, AppBytes their bodies' bytes, AppRefused
	// those not kept.
	Symbols        int    `json:"symbols"`
	SymbolsRefused uint64 `json:"symbols_refused"`
	AppRecords     int    `json:"app_records"`
	AppBytes       int64  `json:"app_bytes"`
	AppRefused     uint64 `json:"app_refused"`
	// The history: messages and arena bytes held, in how many sessions;
	// HistoryFirst and HistoryLast the lowest and highest numbers held of
	// Session; HistoryAge how long ago the oldest held message arrived.
	// HistoryEvicted counts messages evicted by a bound, HistoryDropped
	// those dropped by a jump past a session's index span, HistoryRefused
	// those not held at all.
	HistoryCount    int           `json:"history_count"`
	HistoryBytes    int64         `json:"history_bytes"`
	HistorySessions int           `json:"history_sessions"`
	HistoryFirst    uint64        `json:"history_first"`
	HistoryLast     uint64        `json:"history_last"`
	HistoryAge      time.Duration `json:"history_age_ns"`
	HistoryEvicted  uint64        `json:"history_evicted"`
	HistoryDropped  uint64        `json:"history_dropped"`
	HistoryRefused  uint64        `json:"history_refused"`

	// Requests. Requests counts every message received on the ROUTER;
	// Snapshots and Retransmits the requests of each op that parsed,
	// served or refused.
	Requests    uint64 `json:"requests"`
	Snapshots   uint64 `json:"snapshots"`
	Retransmits uint64 `json:"retransmits"`
	// Replies sent: all of them, their bytes, snapshot records, frames
	// and the messages in them.
	Replies      uint64 `json:"replies"`
	ReplyBytes   uint64 `json:"reply_bytes"`
	RecordsSent  uint64 `json:"records_sent"`
	FramesSent   uint64 `json:"frames_sent"`
	MessagesSent uint64 `json:"messages_sent"`
	// Refusals. BadRequests did not parse; ErrorsReplied counts every
	// error reply sent (any code); Busy the requests refused over
	// --max-requests (or a client's share of it); SlowDrops the requests
	// whose remaining replies were dropped because their client read
	// nothing for --client-timeout; Unreachable those dropped because the
	// client was gone; RepliesDropped the error replies that could not be
	// sent at once (a client with a full queue, or gone). Internal counts
	// what should never happen.
	BadRequests    uint64 `json:"bad_requests"`
	ErrorsReplied  uint64 `json:"errors_replied"`
	Busy           uint64 `json:"busy"`
	SlowDrops      uint64 `json:"slow_drops"`
	Unreachable    uint64 `json:"unreachable"`
	RepliesDropped uint64 `json:"replies_dropped"`
	Internal       uint64 `json:"internal"`
	// Now: requests in progress, the clients they belong to, how many of
	// those clients are parked (their queue full), and the bytes of
	// replies held for them (snapshot records not yet sent): the memory
	// that docs/recovery.md bounds.
	InProgress  int   `json:"in_progress"`
	Clients     int   `json:"clients"`
	Parked      int   `json:"parked"`
	ParkedBytes int64 `json:"parked_bytes"`
}

// counters are the ROUTER goroutine's counts, read by Stats from any
// goroutine.
type counters struct {
	requests, snapshots, retransmits                              atomic.Uint64
	replies, replyBytes, recordsSent, framesSent, messagesSent    atomic.Uint64
	bad, errorsReplied, busy, slowDrops, unreachable, repliesLost atomic.Uint64
	internal                                                      atomic.Uint64
	inProgress, clients, parked, parkedBytes                      atomic.Int64

	// The subscriber's status, stored by its status callback.
	feedReceived, feedGaps, feedDuplicates, feedMalformed atomic.Uint64
}

// fill copies the counters into st.
func (c *counters) fill(st *Stats) {
	st.Requests, st.Snapshots, st.Retransmits = c.requests.Load(), c.snapshots.Load(), c.retransmits.Load()
	st.Replies, st.ReplyBytes = c.replies.Load(), c.replyBytes.Load()
	st.RecordsSent, st.FramesSent, st.MessagesSent = c.recordsSent.Load(), c.framesSent.Load(), c.messagesSent.Load()
	st.BadRequests, st.ErrorsReplied, st.Busy = c.bad.Load(), c.errorsReplied.Load(), c.busy.Load()
	st.SlowDrops, st.Unreachable, st.RepliesDropped = c.slowDrops.Load(), c.unreachable.Load(), c.repliesLost.Load()
	st.Internal = c.internal.Load()
	st.InProgress, st.Clients = int(c.inProgress.Load()), int(c.clients.Load())
	st.Parked, st.ParkedBytes = int(c.parked.Load()), c.parkedBytes.Load()
	st.FeedReceived, st.FeedGaps = c.feedReceived.Load(), c.feedGaps.Load()
	st.FeedDuplicates, st.FeedMalformed = c.feedDuplicates.Load(), c.feedMalformed.Load()
}

// fill copies the feed's state into st, under the feed's mutex.
func (f *feed) fill(st *Stats, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.Heard, st.Session, st.Stream = f.heard, f.session, f.stream
	st.JoinedAt, st.LastSeq, st.Complete = f.first, f.last, f.complete
	st.Ready = f.heard && f.streamKnown && (f.complete || !f.strict)
	st.Received, st.Missed, st.LateFills, st.SnapshotRecords = f.received, f.missed, f.lateFills, f.snapshots
	st.Symbols, st.SymbolsRefused = f.books.Len(), f.books.Refused()
	st.AppRecords, st.AppBytes, st.AppRefused = f.apps.records, f.apps.bytes, f.apps.refused
	h := f.hist.stats()
	st.HistoryCount, st.HistoryBytes, st.HistorySessions = h.count, h.bytes, h.sessions
	if h.count > 0 {
		st.HistoryAge = time.Duration(f.mono(now) - h.oldest)
	}
	if s := f.hist.find(f.session); s != nil {
		st.HistoryFirst, st.HistoryLast = s.lo, s.hi
	}
	st.HistoryEvicted, st.HistoryDropped, st.HistoryRefused = f.hist.evicted, f.hist.dropped, f.hist.refused
}
