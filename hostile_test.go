package feedbus_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/snail"
)

// rawLine sends handmade frames on one line, for tests that need what a
// Publisher never sends: holes, one line only, foreign sessions.
type rawLine struct {
	t   *testing.T
	pub *bus.Publisher
	w   bus.FrameWriter
}

func newRawLine(t *testing.T, endpoint string) *rawLine {
	t.Helper()
	p, err := bus.NewPublisher([]string{endpoint}, bus.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &rawLine{t: t, pub: p}
}

// send sends one frame of session 7 holding trades with sequence numbers
// first..first+n-1, or a heartbeat announcing first when n is 0.
func (r *rawLine) send(first uint64, n int) { r.sendStamped(first, n, time.Now().UnixNano()) }

// sendStamped is send with the given send time.
func (r *rawLine) sendStamped(first uint64, n int, sendTime int64) {
	r.t.Helper()
	h := bus.Header{Session: 7, Stream: 1, FirstSeq: first}
	if n == 0 {
		h.Flags = bus.FlagHeartbeat
	}
	r.w.Begin(&h)
	for i := 0; i < n; i++ {
		if err := r.w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(first) + int64(i), Size: 1}); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.pub.Send(r.w.Finish(sendTime)); err != nil {
		r.t.Fatal(err)
	}
}

// rawSub is a subscriber fed by rawLines.
type rawSub struct {
	*feedbus.Subscriber
	lines  []*rawLine
	events chan feedbus.Event
	mu     sync.Mutex
	frames []uint64 // per line, frames received, from the last status
	recv   uint64   // messages delivered, from the last status
}

func (rs *rawSub) received() uint64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.recv
}

// subscribeRaw subscribes to lines fed by rawLines and returns once the
// subscriber has heard session 7 on every line.
func subscribeRaw(t *testing.T, lines []string, opts ...feedbus.SubscriberOption) *rawSub {
	t.Helper()
	rs := &rawSub{events: make(chan feedbus.Event, 1024)}
	for _, l := range lines {
		rs.lines = append(rs.lines, newRawLine(t, l))
	}
	sub, err := feedbus.Subscribe(lines, feedbus.NewBooks(), append(opts,
		feedbus.WithEvents(func(e feedbus.Event) { rs.events <- e }),
		feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) {
			rs.mu.Lock()
			rs.frames, rs.recv = st.LineFrames, st.Received
			rs.mu.Unlock()
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	rs.Subscriber = sub
	t.Cleanup(func() { sub.Close() })
	rs.waitFrames(t, func(line int, n uint64) bool {
		if n == 0 {
			rs.lines[line].send(1, 0)
		}
		return n > 0
	})
	return rs
}

// waitFrames polls the status until ok holds for every line's frame count,
// failing after 10 s.
func (rs *rawSub) waitFrames(t *testing.T, ok func(line int, frames uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs.mu.Lock()
		frames := rs.frames
		rs.mu.Unlock()
		all := len(frames) == len(rs.lines)
		for i := 0; all && i < len(frames); i++ {
			all = ok(i, frames[i])
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the frames expected (last %v)", frames)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitEvent returns the next event of kind k, failing after 10 s.
func waitEvent(t *testing.T, events <-chan feedbus.Event, k feedbus.EventKind) feedbus.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == k {
				return e
			}
		case <-deadline:
			t.Fatalf("no %v event", k)
		}
	}
}

// A hole filled late lowers the gap count, but must not lower what the
// snail has been told: a second loss after it must still count. (The
// receive loop used to report increases of the net gap count, so the late
// fill hid the second loss.)
func TestLateFillDoesNotHideLoss(t *testing.T) {
	lines := ipcLines(t, 2)
	cfg := snail.DefaultConfig()
	cfg.MaxGaps, cfg.Window = 1, time.Hour // trips at the second lost message
	rs := subscribeRaw(t, lines, feedbus.WithGapWait(5*time.Millisecond), feedbus.WithSnail(cfg, false))
	sub, events, a, b := rs.Subscriber, rs.events, rs.lines[0], rs.lines[1]
	a.send(1, 1)
	a.send(3, 1) // 2 is missing on A, and B says nothing
	if e := waitEvent(t, events, feedbus.Gap); e.Seq != 2 || e.Count != 1 {
		t.Fatalf("gap event %v, want seq 2, one message", e)
	}
	b.send(2, 1) // B fills it late
	a.send(4, 1)
	a.send(6, 1) // 5 is missing: the second loss
	if e := waitEvent(t, events, feedbus.Gap); e.Seq != 5 {
		t.Fatalf("gap event %v, want seq 5", e)
	}
	waitEvent(t, events, feedbus.Snail)
	sub.Close()
	if s := sub.Summary(); s.Gaps != 1 || s.Late != 1 || s.Snail.Trips != 1 {
		t.Fatalf("gaps %d late %d trips %d; want 1, 1, 1", s.Gaps, s.Late, s.Snail.Trips)
	}
}

// A wall-clock step while a hole waits for the other line does not make it
// a gap: the gap wait runs on the monotonic clock. (It ran on the wall
// clock, so an NTP step declared gaps that the other line then filled
// "late".)
func TestClockStepDeclaresNoGap(t *testing.T) {
	lines := ipcLines(t, 2)
	var skew atomic.Int64
	rs := subscribeRaw(t, lines, feedbus.WithGapWait(2*time.Second), feedbus.WithWallSkew(&skew))
	a, b := rs.lines[0], rs.lines[1]
	var base []uint64
	rs.waitFrames(t, func(line int, n uint64) bool { base = append(base, n); return true })
	a.send(1, 1)
	a.send(3, 1) // 2 waits for line B
	rs.waitFrames(t, func(line int, n uint64) bool { return line != 0 || n >= base[0]+2 })
	skew.Store(int64(time.Hour))
	a.send(4, 1) // a frame after the step: the loop looks at its holes again
	rs.waitFrames(t, func(line int, n uint64) bool { return line != 0 || n >= base[0]+3 })
	b.send(2, 1)
	rs.waitFrames(t, func(line int, n uint64) bool { return line != 1 || n >= base[1]+1 })
	rs.Close()
	if s := rs.Summary(); s.Gaps != 0 || s.Late != 0 || s.Reordered != 1 || s.Received != 4 {
		t.Fatalf("gaps %d late %d reordered %d received %d; want 0, 0, 1, 4", s.Gaps, s.Late, s.Reordered, s.Received)
	}
}

// Frames stamped an hour off either way are delivered but kept out of the
// latency and the snail's baseline, and counted: one such frame used to
// set the minimum lag to an hour off, after which every honest frame
// looked an hour late (or the snail tripped at once).
func TestBadStampsKeptOut(t *testing.T) {
	lines := ipcLines(t, 1)
	cfg := snail.DefaultConfig()
	cfg.MaxLag = time.Second
	rs := subscribeRaw(t, lines, feedbus.WithSnail(cfg, false))
	a := rs.lines[0]
	a.sendStamped(1, 10, time.Now().Add(time.Hour).UnixNano())   // an hour ahead
	a.sendStamped(11, 10, time.Now().Add(-time.Hour).UnixNano()) // an hour behind
	for seq := uint64(21); seq < 121; seq += 10 {
		a.send(seq, 10)
	}
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 120 })
	rs.Close()
	s := rs.Summary()
	if s.Received != 120 || s.BadStamps != 2 || s.LatencyUS.Count != 100 || s.Snail.Trips != 0 {
		t.Fatalf("received %d bad stamps %d latency count %d snail trips %d; want 120, 2, 100, 0",
			s.Received, s.BadStamps, s.LatencyUS.Count, s.Snail.Trips)
	}
}
