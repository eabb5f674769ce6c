package cache

import (
	"fmt"
	"sync"
	"time"

	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

// feed is the cache's picture of the feed: the books, the application
// kinds' last messages, the history, and how far the feed has come. The
// cache's subscriber, with one worker, writes it through the Handler
// methods, in the subscriber's delivery order; the ROUTER goroutine reads
// it to answer requests. One mutex guards all of it, so a snapshot is
// taken at one point of the sequence: every message up to the feed's last
// number applied, none after.
type feed struct {
	mu     sync.Mutex
	books  *fanout.Books
	apps   *apps
	hist   *history
	start  time.Time // origin of the monotonic clock the history uses
	now    int64     // monotonic ns, read once per run of messages
	logf   func(string, ...any)
	strict bool // snapshots only from a complete view (not WithPartialSnapshots)

	stream      uint32
	streamKnown bool
	session     uint64
	heard       bool
	first, last uint64 // first live number applied of session, and the highest
	// complete: the cache saw session from its first message, or from a
	// recovery snapshot of another server; else its books lack the
	// messages before first.
	complete bool
	seeded   bool // snapshot records came since the last live message
	note     string

	received  uint64 // live messages applied
	missed    uint64 // numbers skipped over when the next one came (a late fill may bring some)
	lateFills uint64 // messages that came after a higher number
	snapshots uint64 // snapshot records applied (the cache's own recovery)
}

func newFeed(cfg *config) *feed {
	books := fanout.NewBooks()
	books.MaxSymbols = cfg.maxSymbols
	return &feed{
		books:       books,
		apps:        newApps(cfg.maxSymbols, cfg.maxAppKinds, cfg.maxAppBytes),
		hist:        newHistory(cfg.historyCount, cfg.historyBytes, int64(cfg.historyAge)),
		start:       time.Now(),
		logf:        cfg.logf,
		strict:      !cfg.partial,
		stream:      cfg.stream,
		streamKnown: cfg.streamSet,
	}
}

// The feed is a fanout.RunHandler: the worker takes the mutex once per
// run of up to 32 messages, and a snapshot waits for at most one run.
var _ fanout.RunHandler = (*feed)(nil)

// Handle applies one message.
func (f *feed) Handle(m *fanout.Message) {
	f.BeginRun(m.Worker)
	f.HandleInRun(m)
	f.EndRun(m.Worker)
}

// BeginRun locks the feed for a run of messages.
func (f *feed) BeginRun(worker int) {
	f.mu.Lock()
	f.books.BeginRun(worker)
	f.now = f.mono(time.Now())
}

// HandleInRun applies m: to its book, to the application kinds' last
// messages, and to the history.
func (f *feed) HandleInRun(m *fanout.Message) {
	if m.Snapshot {
		// A record of another server's snapshot (the cache's subscriber
		// recovering): state, never a message to retransmit. A book's
		// state already counts the application kinds' messages, so an
		// application record goes to apps alone.
		if m.Kind.IsApp() {
			f.apps.keep(&m.Message, m.Seq)
		} else {
			f.books.HandleInRun(m)
		}
		f.seeded = true
		f.snapshots++
		return
	}
	f.books.HandleInRun(m)
	if !f.heard || m.Session != f.session {
		f.join(m.Session, m.Seq)
	}
	f.received++
	switch {
	case m.Seq > f.last:
		f.missed += m.Seq - f.last - 1
		f.last = m.Seq
	default:
		f.lateFills++
	}
	if m.Kind.IsApp() {
		f.apps.keep(&m.Message, m.Seq)
	}
	f.hist.add(m.Session, m.Seq, &m.Message, f.now)
}

// join starts following session at seq.
func (f *feed) join(session, seq uint64) {
	f.complete = seq == 1 || f.seeded
	f.session, f.heard, f.seeded = session, true, false
	f.first, f.last = seq, seq-1
	switch {
	case f.complete: // the subscriber's SessionStart event says it
	case f.strict:
		f.note = fmt.Sprintf("joined session %016x at seq %d, after its start: snapshots are refused (not ready) until a session is heard from its start or --partial-snapshots is given; retransmission is served", session, seq)
	default:
		f.note = fmt.Sprintf("joined session %016x at seq %d, after its start: snapshots leave out the %d messages before it", session, seq, seq-1)
	}
}

// EndRun unlocks the feed, and says what changed, if anything.
func (f *feed) EndRun(worker int) {
	f.books.EndRun(worker)
	note := f.note
	f.note = ""
	f.mu.Unlock()
	if note != "" {
		f.logf("%s", note)
	}
}

// mono is t on the feed's monotonic clock.
func (f *feed) mono(t time.Time) int64 { return int64(t.Sub(f.start)) }

// learnStream notes the followed stream, from the subscriber's
// SessionStart event: feed messages do not carry it.
func (f *feed) learnStream(stream uint32) {
	f.mu.Lock()
	if !f.streamKnown {
		f.stream, f.streamKnown = stream, true
	}
	f.mu.Unlock()
}

// expire applies the history's age bound while the feed is quiet.
func (f *feed) expire(now time.Time) {
	f.mu.Lock()
	f.hist.expire(f.mono(now))
	f.mu.Unlock()
}

// refuse says why a request for stream cannot be served now, or returns
// 0. The caller holds the mutex.
func (f *feed) refuse(stream uint32, snapshot bool) (recovery.Code, string) {
	switch {
	case f.streamKnown && stream != f.stream:
		return recovery.CodeUnknownStream, fmt.Sprintf("stream %d: this server follows stream %d", stream, f.stream)
	case !f.heard || !f.streamKnown:
		return recovery.CodeNotReady, "nothing heard of the feed yet"
	case snapshot && f.strict && !f.complete:
		return recovery.CodeNotReady, fmt.Sprintf("joined session %016x at seq %d, after its start: its books lack what came before", f.session, f.first)
	}
	return 0, ""
}
