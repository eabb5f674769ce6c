package feedbus

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// SessionStart: a publisher session was first seen; Seq is where the
	// subscriber joined it.
	SessionStart EventKind = iota + 1
	// SessionEnd: the subscriber stopped following a session, because
	// another session of the stream started or the subscriber ended.
	SessionEnd
	// Gap: messages [Seq, Seq+Count) of the session are missing on every
	// line and were given up.
	Gap
	// Snail: the slow-subscriber detector tripped; Text is the verdict.
	Snail
	// Rejoin: Line was silent while another line delivered and was
	// rejoined; Text says how that went.
	Rejoin
)

func (k EventKind) String() string {
	switch k {
	case SessionStart:
		return "session-start"
	case SessionEnd:
		return "session-end"
	case Gap:
		return "gap"
	case Snail:
		return "snail"
	case Rejoin:
		return "rejoin"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is something a subscriber's application may want to act on.
type Event struct {
	Kind    EventKind
	Time    int64 // wall clock, ns since the epoch, when the receive loop saw it
	Session uint64
	Stream  uint32
	Seq     uint64 // first sequence number concerned
	Count   uint64 // messages concerned (Gap)
	Line    int    // Rejoin: the line's index (bus.LineName gives its name)
	Text    string // Snail, Rejoin: a line for a person
}

func (e Event) String() string {
	switch e.Kind {
	case SessionStart:
		return fmt.Sprintf("session %016x stream %d started at seq %d", e.Session, e.Stream, e.Seq)
	case SessionEnd:
		return fmt.Sprintf("session %016x stream %d ended", e.Session, e.Stream)
	case Gap:
		return fmt.Sprintf("gap: session %016x stream %d lost %d messages from seq %d", e.Session, e.Stream, e.Count, e.Seq)
	case Rejoin:
		return fmt.Sprintf("line %s rejoined: %s", bus.LineName(e.Line), e.Text)
	}
	return e.Kind.String() + ": " + e.Text
}

// Status is one interval of a running subscriber, for a status line.
type Status struct {
	Time       int64   // wall clock at the end of the interval, ns
	Interval   float64 // seconds
	Received   uint64  // messages delivered so far
	Rate       float64 // messages delivered per second over the interval
	Gaps       uint64
	Duplicates uint64
	Malformed  uint64
	// Silent: no frame at all in the interval; Quiet: heartbeats only.
	Silent, Quiet bool
	// Latency over the interval.
	Latency latency.Percentiles
	// Won is, per line, the messages it delivered first in the interval.
	Won []uint64
	// LineFrames is, per line, every frame received so far, heartbeats,
	// foreign and malformed ones included: a line that brings frames is
	// joined.
	LineFrames []uint64
}

// eventQueue hands events from the receive loop to the application's
// callback without ever making the loop wait.
type eventQueue struct {
	ch      chan Event
	fn      func(Event)
	dropped atomic.Uint64
	wg      sync.WaitGroup
}

const eventQueueLen = 1024

func newEventQueue(fn func(Event)) *eventQueue {
	q := &eventQueue{ch: make(chan Event, eventQueueLen), fn: fn}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		for e := range q.ch {
			q.fn(e)
		}
	}()
	return q
}

// post queues e, or counts it dropped when the callback is behind.
func (q *eventQueue) post(e Event) {
	if q == nil {
		return
	}
	select {
	case q.ch <- e:
	default:
		q.dropped.Add(1)
	}
}

// close delivers what is queued and waits for the callback to return.
func (q *eventQueue) close() {
	if q == nil {
		return
	}
	close(q.ch)
	q.wg.Wait()
}
