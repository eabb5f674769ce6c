package feedbus

import (
	"slices"
	"sync"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

// Counters are a running subscriber's counts, for monitoring while it runs
// (package metrics serves them to Prometheus). Counters returns them.
//
// The receive loop's own counts are as of its last status interval
// (WithStatus, every second by default), when the loop ended, or the last
// Summary, whichever came last: the loop owns them without a lock, and
// copies them once an interval, never per message. After Summary they are
// the summary's figures exactly. The workers', the snail's and the
// recovery client's counters are read at the time of the call, as is
// Latency, which follows the status intervals.
type Counters struct {
	// AsOf is when the receive loop copied its counts.
	AsOf time.Time
	// Stream is the followed stream, once StreamKnown; Session the
	// followed publisher session (0 before the first).
	Stream      uint32
	StreamKnown bool
	Session     uint64

	// As in Summary. GapsDeclared counts the messages ever declared
	// missing; a late fill (Late) does not lower it, so it never goes
	// down, and Gaps = GapsDeclared - Late.
	Received, Filtered, Skipped                  uint64
	Gaps, GapsDeclared, GapEvents, Late, Pending uint64
	Duplicates, Reordered, Implausible, Sessions uint64
	Malformed, AuthFailed, BadStamps, Restarts   uint64
	Frames, Heartbeats, NegativeLatency          uint64
	EventsDropped                                uint64

	Lines    []LineCounters
	Workers  []fanout.WorkerStats
	Snail    snail.Stats
	Latency  LatencyHistogram
	Recovery *RecoveryStats // nil without WithRecovery
}

// LineCounters are one line's counts, as in Summary's lines.
type LineCounters struct {
	Name string // A, B, ...
	// AllFrames counts every frame the line brought, good or bad;
	// DataFrames and Heartbeats those that were followed.
	AllFrames, DataFrames, Heartbeats uint64
	// Received counts the messages the line brought, copies included;
	// Won those it delivered first.
	Received, Won uint64
	// The line's own sequence, as if it were alone: Gaps as in Summary,
	// GapsDeclared and Late as in Counters.
	Gaps, GapsDeclared, Late                             uint64
	Foreign, AuthFailed, Implausible, Conflicts, Rejoins uint64
	// udp:// lines only (UDP): datagrams the kernel dropped for want of
	// buffer, and datagrams too large for --max-datagram.
	UDP                    bool
	KernelDrops, Truncated uint64
	// LastFrame is when the line last brought a frame, or was (re)joined.
	LastFrame time.Time
}

// countersBoard is where the receive loop posts its counts for readers on
// other goroutines: storage is allocated once, so a post costs a lock and
// a copy, not an allocation.
type countersBoard struct {
	mu      sync.Mutex
	posted  Counters // Lines preallocated; never read without mu
	client  *recovery.Client
	latency latencyBuckets
}

// initCounters sizes the board for the lines and the recovery client, if
// any; the loop's goroutine calls it before Subscribe returns.
func (r *receiver) initCounters() {
	b := &r.s.counters
	b.mu.Lock()
	defer b.mu.Unlock()
	b.posted.Lines = make([]LineCounters, len(r.lines))
	for i, e := range r.sub.Lines() {
		b.posted.Lines[i] = LineCounters{Name: bus.LineName(i), UDP: e.IsUDP(), LastFrame: r.start}
	}
	if r.rec != nil && r.rec.client != nil {
		b.posted.Recovery = &RecoveryStats{}
		b.client = r.rec.client
	}
}

// postCounters copies the loop's counts to the board. Only the receive
// loop calls it (or Summary, once the loop has returned).
func (r *receiver) postCounters(now time.Time) {
	udp := r.udpStats
	if udp == nil {
		r.udpTick = r.sub.AppendUDPStats(r.udpTick[:0]) // allocates once, on the first tick
		udp = r.udpTick
	}
	st := r.tracker.Stats()
	b := &r.s.counters
	b.mu.Lock()
	defer b.mu.Unlock()
	c := &b.posted
	c.AsOf = now
	c.Stream, c.StreamKnown = r.follow.stream, r.follow.streamSet
	c.Session = r.follow.session
	c.Received, c.Filtered, c.Skipped = r.received, r.filtered, r.skipped
	c.Gaps, c.GapsDeclared, c.GapEvents, c.Late, c.Pending = st.Gaps, r.tracker.Declared(), st.GapEvents, st.Late, st.Pending
	c.Duplicates, c.Reordered, c.Implausible, c.Sessions = st.Duplicates, st.Reordered, st.Implausible, st.Sessions
	c.Malformed, c.AuthFailed, c.BadStamps, c.Restarts = r.malformed, r.authFailed, r.badStamps, r.follow.restarts
	c.Frames, c.Heartbeats, c.NegativeLatency = r.frames, r.heartbeats, r.lat.Negative()
	for i := range r.lines {
		ln, out := &r.lines[i], &c.Lines[i]
		lst := ln.tracker.Stats()
		out.AllFrames, out.DataFrames, out.Heartbeats = ln.all, ln.frames, ln.beats
		out.Received, out.Won = ln.received, ln.won
		out.Gaps, out.GapsDeclared, out.Late = lst.Gaps, ln.tracker.Declared(), lst.Late
		out.Foreign, out.AuthFailed, out.Implausible = ln.foreign, ln.authFailed, ln.implausible
		out.Conflicts, out.Rejoins, out.LastFrame = ln.conflicts, ln.rejoins, ln.lastFrame
		if i < len(udp) {
			out.KernelDrops, out.Truncated = udp[i].KernelDrops, udp[i].Truncated
		}
	}
	if c.Recovery != nil && r.rec != nil {
		*c.Recovery = r.rec.stats
	}
}

// Counters returns the subscriber's counts so far (see Counters for how
// fresh each part is). It is safe from any goroutine, at any time after
// Subscribe has returned, Close included.
func (s *Subscriber) Counters() Counters {
	b := &s.counters
	b.mu.Lock()
	c := b.posted
	c.Lines = slices.Clone(b.posted.Lines)
	if b.posted.Recovery != nil {
		rec := *b.posted.Recovery
		c.Recovery = &rec
	}
	client := b.client
	b.mu.Unlock()
	if c.Recovery != nil && client != nil {
		c.Recovery.Client = client.Stats()
	}
	c.Workers = s.fan.Stats()
	c.Snail = s.det.Stats()
	c.Latency = b.latency.read()
	if s.events != nil {
		c.EventsDropped = s.events.dropped.Load()
	}
	return c
}
