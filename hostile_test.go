package feedbus_test

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/snail"

	"github.com/feedbus/feedbus/internal/udptest"
)

// rawLine sends handmade frames on one line, for tests that need what a
// Publisher never sends: holes, one line only, foreign sessions.
type rawLine struct {
	t   testing.TB
	pub *bus.Publisher
	w   bus.FrameWriter
}

func newRawLine(t testing.TB, endpoint string, opts ...bus.Option) *rawLine {
	t.Helper()
	p, err := bus.NewPublisher([]string{endpoint}, append([]bus.Option{bus.WithLinger(0)}, opts...)...)
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
	flags := uint8(0)
	if n == 0 {
		flags = bus.FlagHeartbeat
	}
	r.sendFrame(bus.Header{Flags: flags, Session: 7, Stream: 1, FirstSeq: first, SendTime: sendTime}, n)
}

// sendFrame sends a frame with header h (its send time is used as is) and
// n trades numbered from h.FirstSeq.
func (r *rawLine) sendFrame(h bus.Header, n int) {
	r.t.Helper()
	sendTime := h.SendTime
	if sendTime == 0 {
		sendTime = time.Now().UnixNano()
	}
	first := h.FirstSeq
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
	dups   uint64   // duplicate copies, from the last status
}

func (rs *rawSub) received() uint64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.recv
}

// subscribeRaw subscribes to lines fed by rawLines and returns once the
// subscriber has heard session 7 on every line.
func subscribeRaw(t testing.TB, lines []string, opts ...feedbus.SubscriberOption) *rawSub {
	t.Helper()
	return subscribeRawTo(t, lines, feedbus.NewBooks(), opts...)
}

// subscribeRawTo is subscribeRaw with the given handler.
func subscribeRawTo(t testing.TB, lines []string, h feedbus.Handler, opts ...feedbus.SubscriberOption) *rawSub {
	t.Helper()
	rs := &rawSub{events: make(chan feedbus.Event, 1024)}
	for _, l := range lines {
		rs.lines = append(rs.lines, newRawLine(t, l))
	}
	sub, err := feedbus.Subscribe(lines, h, append(opts,
		feedbus.WithEvents(func(e feedbus.Event) { rs.events <- e }),
		feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) {
			rs.mu.Lock()
			rs.frames, rs.recv, rs.dups = st.LineFrames, st.Received, st.Duplicates
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
func (rs *rawSub) waitFrames(t testing.TB, ok func(line int, frames uint64) bool) {
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

// Frames of another stream are foreign: counted on their line, never
// delivered, never in the books.
func TestForeignStream(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 1))
	a := rs.lines[0]
	a.send(1, 5)
	a.sendFrame(bus.Header{Session: 9, Stream: 2, FirstSeq: 1}, 50)
	a.send(6, 5)
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 10 })
	rs.Close()
	s := rs.Summary()
	if s.Received != 10 || s.Lines[0].Foreign != 1 || s.Stream != 1 || s.Sessions != 1 {
		t.Fatalf("received %d foreign %d stream %d sessions %d; want 10, 1, 1, 1", s.Received, s.Lines[0].Foreign, s.Stream, s.Sessions)
	}
}

// A second publisher's session on the same stream, mid-stream or fresh
// (sequence 1), while the followed one is live, is foreign: it cannot
// evict the real session (heartbeats with new session ids used to, and
// the other line's copies were then delivered twice).
func TestForeignSessionWhileLive(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 2))
	a, b := rs.lines[0], rs.lines[1]
	seq := uint64(1)
	for i := 0; i < 20; i++ {
		a.send(seq, 5)
		b.send(seq, 5)
		for j := 0; j < 10; j++ { // forged sessions between the real frames
			a.sendFrame(bus.Header{Flags: bus.FlagHeartbeat, Session: uint64(1000 + 10*i + j), Stream: 1, FirstSeq: uint64(1 + j%2*1000)}, 0)
		}
		seq += 5
	}
	rs.waitFrames(t, func(i int, n uint64) bool { return rs.received() >= 100 && (i != 1 || n >= 21) })
	rs.Close()
	s := rs.Summary()
	if s.Received != 100 || s.Duplicates != 100 || s.Gaps != 0 || s.Sessions != 1 || s.Lines[0].Foreign != 200 || s.Restarts != 0 {
		t.Fatalf("received %d duplicates %d gaps %d sessions %d foreign %d restarts %d; want 100, 100, 0, 1, 200, 0",
			s.Received, s.Duplicates, s.Gaps, s.Sessions, s.Lines[0].Foreign, s.Restarts)
	}
}

// A publisher killed and restarted at once: the new session (its first
// heartbeat announces sequence 1) is followed after a brief silence, and
// nothing is lost or counted twice.
func TestQuickRestart(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 1))
	a := rs.lines[0]
	a.send(1, 10) // session 7, then it dies without a word
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 10 })
	time.Sleep(60 * time.Millisecond) // the restart takes this long: the publisher's silence, not a wait for a condition
	a.sendFrame(bus.Header{Flags: bus.FlagHeartbeat, Session: 8, Stream: 1, FirstSeq: 1}, 0)
	a.sendFrame(bus.Header{Session: 8, Stream: 1, FirstSeq: 1}, 10)
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 20 })
	rs.Close()
	if s := rs.Summary(); s.Received != 20 || s.Gaps != 0 || s.Restarts != 1 || s.Sessions != 2 || s.Lines[0].Foreign != 0 {
		t.Fatalf("received %d gaps %d restarts %d sessions %d foreign %d; want 20, 0, 1, 2, 0", s.Received, s.Gaps, s.Restarts, s.Sessions, s.Lines[0].Foreign)
	}
}

// After a clean end (FlagEnd), the next session is followed at once, and
// the first messages it lost count as a gap: a restarted publisher numbers
// from 1. (They went uncounted: tracking started wherever the new
// session's first frame did.)
func TestRestartCountsLostStart(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 1))
	a := rs.lines[0]
	a.send(1, 10)
	a.sendFrame(bus.Header{Flags: bus.FlagHeartbeat | bus.FlagEnd, Session: 7, Stream: 1, FirstSeq: 11}, 0)
	a.sendFrame(bus.Header{Session: 8, Stream: 1, FirstSeq: 5}, 6) // 1-4 lost
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 16 })
	rs.Close()
	if s := rs.Summary(); s.Received != 16 || s.Gaps != 4 || s.Restarts != 1 {
		t.Fatalf("received %d gaps %d restarts %d; want 16, 4, 1", s.Received, s.Gaps, s.Restarts)
	}
}

// A frame of the real session far ahead of it is refused as implausible:
// it used to open a hole that swallowed the real messages as they came.
func TestImplausibleJump(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 2))
	a, b := rs.lines[0], rs.lines[1]
	a.send(1, 10)
	b.sendFrame(bus.Header{Session: 7, Stream: 1, FirstSeq: 1_000_000}, 100)
	b.sendFrame(bus.Header{Flags: bus.FlagHeartbeat, Session: 7, Stream: 1, FirstSeq: 2_000_000}, 0)
	a.send(11, 10)
	rs.waitFrames(t, func(i int, n uint64) bool { return rs.received() >= 20 && (i != 1 || n >= 3) })
	rs.Close()
	if s := rs.Summary(); s.Received != 20 || s.Gaps != 0 || s.Pending != 0 || s.Implausible != 2 {
		t.Fatalf("received %d gaps %d pending %d implausible %d; want 20, 0, 0, 2", s.Received, s.Gaps, s.Pending, s.Implausible)
	}
}

// A real feed that jumps far ahead (its publisher dropped millions, a line
// was down) is followed once its frames have come alone for 200 ms: the
// jump is then a gap, and the subscriber is never stuck behind it.
func TestRealJumpResyncs(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 1))
	a := rs.lines[0]
	a.send(1, 10)
	seq := uint64(50_000_000)
	deadline := time.Now().Add(10 * time.Second)
	for rs.received() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never followed the jump")
		}
		a.sendFrame(bus.Header{Session: 7, Stream: 1, FirstSeq: seq}, 10)
		seq += 10
		time.Sleep(10 * time.Millisecond) // the feed's pace
	}
	rs.Close()
	s := rs.Summary()
	if s.Implausible == 0 || s.Gaps < 50_000_000-11 {
		t.Fatalf("implausible %d gaps %d; want some refused, then the jump counted as a gap", s.Implausible, s.Gaps)
	}
}

// With a group key, every forged frame (unsigned, or signed with another
// key) is refused and counted before it is decoded, and the real feed
// arrives whole: the forgeries that take over an unauthenticated
// subscriber (a fresh session, a jump far ahead) get nowhere. Over ipc://
// lines and over udp:// lines on the loopback interface.
func TestAuthRefusesForgeries(t *testing.T) {
	t.Run("ipc", func(t *testing.T) { authRefusesForgeries(t, ipcLines(t, 2)) })
	t.Run("udp", func(t *testing.T) { authRefusesForgeries(t, udptest.LoopLines(2), bus.WithLoopback(true)) })
}

func authRefusesForgeries(t *testing.T, lines []string, sockets ...bus.Option) {
	key := func(id uint32, b byte) *auth.Keys {
		k, err := auth.NewKeys(id, auth.Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	real, other := key(1, 0x11), key(2, 0x22)
	// The real publisher on line A, a forger on line B: a hostile sender
	// on one of the subscriber's groups.
	forger := newRawLine(t, lines[1], sockets...)
	pub, err := feedbus.NewPublisher(lines[:1], feedbus.WithLinger(0), feedbus.WithHeartbeat(5*time.Millisecond), feedbus.WithSigning(real),
		feedbus.WithPublisherSockets(sockets...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var mu sync.Mutex
	got := map[uint64]int{}
	joined := make(chan struct{}, 1)
	var lineB atomic.Uint64 // frames line B has brought
	sub, err := feedbus.Subscribe(lines, feedbus.HandlerFunc(func(m *feedbus.Message) {
		mu.Lock()
		got[m.Seq]++
		mu.Unlock()
	}), feedbus.WithVerifying(real, time.Minute), feedbus.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart {
			joined <- struct{}{}
		}
	}), feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) {
		lineB.Store(st.LineFrames[1])
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber never heard the publisher")
	}
	for deadline := time.Now().Add(10 * time.Second); lineB.Load() == 0; { // line B connects in the background too
		if time.Now().After(deadline) {
			t.Fatal("line B never connected")
		}
		forger.send(1, 0)
		time.Sleep(time.Millisecond)
	}
	signer, err := auth.NewSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		pub.Publish(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(i), Size: 1})
		pub.Flush()
		forger.sendFrame(bus.Header{Flags: bus.FlagHeartbeat, Session: uint64(100 + i), Stream: 1, FirstSeq: 1}, 0) // unsigned, fresh
		forger.sendFrame(bus.Header{Session: pub.Session(), Stream: 1, FirstSeq: 1_000_000}, 5)                     // unsigned, far ahead
		forger.w.Begin(&bus.Header{Session: pub.Session(), Stream: 1, FirstSeq: uint64(i + 1)})                     // signed with the wrong key
		forger.w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: -1, Size: 1})
		f, err := signer.Sign(forger.w.Finish(time.Now().UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		if err := forger.pub.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	// Line B must have brought the 150 forged frames and at least one of
	// the handshake's heartbeats (the status counts every frame, refused
	// or not) before the counts are judged, besides the real messages.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 50 && lineB.Load() >= 151 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 50 messages arrived, line B brought %d frames of at least 151", n, lineB.Load())
		}
		time.Sleep(time.Millisecond)
	}
	sub.Close()
	s := sub.Summary()
	for seq, n := range got {
		if n != 1 || seq > 50 {
			t.Errorf("seq %d delivered %d times", seq, n)
		}
	}
	if s.Received != 50 || s.Gaps != 0 || s.Lines[1].AuthFailed < 150 || s.Restarts != 0 || s.Implausible != 0 || s.Lines[0].AuthFailed != 0 {
		t.Fatalf("received %d gaps %d auth failed %d restarts %d implausible %d; want 50, 0, >= 150, 0, 0",
			s.Received, s.Gaps, s.AuthFailed, s.Restarts, s.Implausible)
	}
}

// A subscriber inflates only the codecs it was told to expect: a feed
// compressed behind its back is refused as malformed, uninflated. (feedsub
// used to inflate whatever came.)
func TestCodecsNotExpectedAreRefused(t *testing.T) {
	for _, tc := range []struct {
		opts []feedbus.SubscriberOption
		want uint64 // messages received
	}{
		{nil, 0},
		{[]feedbus.SubscriberOption{feedbus.WithCodecs(bus.CodecS2)}, 200},
	} {
		var frames atomic.Uint64
		opts := append(tc.opts, feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) { frames.Store(st.LineFrames[0]) }))
		lines := ipcLines(t, 1)
		pub, sub, _ := joinedPair(t, lines, feedbus.NewBooks(), []feedbus.PublisherOption{feedbus.WithCompression(bus.CodecS2, nil), feedbus.WithFrameBytes(8192)}, opts...)
		before := frames.Load()
		for i := 0; i < 200; i++ {
			p := int64(i) * 7919 % 100003 // prices that move, as a real feed's do
			pub.Publish(&bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAAA"), BidPrice: p, AskPrice: p + 1, BidSize: uint32(i), AskSize: 2})
		}
		pub.Flush()
		sent := pub.Stats().Frames
		for deadline := time.Now().Add(10 * time.Second); frames.Load() < before+sent; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d frames arrived", frames.Load()-before, sent)
			}
			time.Sleep(time.Millisecond)
		}
		sub.Close()
		s := sub.Summary()
		if s.Received != tc.want || (tc.want == 0 && s.Malformed < sent) {
			t.Fatalf("received %d malformed %d (%s); want %d received", s.Received, s.Malformed, s.LastMalformed, tc.want)
		}
		if tc.want == 0 && !strings.Contains(s.LastMalformed, "codec") {
			t.Errorf("last malformed %q does not name the codec", s.LastMalformed)
		}
	}
}

// A forged frame at the feed's own next numbers wins them: only
// --auth-key can refuse it. But the real copies that follow on each line
// differ from it, and each is counted as a conflict on its line, so the
// forgery does not pass unseen. Identical copies never count.
func TestConflictingCopiesCounted(t *testing.T) {
	rs := subscribeRaw(t, ipcLines(t, 2))
	a, b := rs.lines[0], rs.lines[1]
	a.send(1, 5)
	b.send(1, 5)
	a.w.Begin(&bus.Header{Session: 7, Stream: 1, FirstSeq: 6}) // the forgery
	for i := 0; i < 5; i++ {
		if err := a.w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: -1, Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.pub.Send(a.w.Finish(time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	rs.waitFrames(t, func(int, uint64) bool { return rs.received() >= 10 }) // the forgery won 6-10
	b.send(6, 5)                                                            // the real copies
	a.send(6, 5)
	rs.waitFrames(t, func(int, uint64) bool { rs.mu.Lock(); defer rs.mu.Unlock(); return rs.dups >= 15 })
	rs.Close()
	s := rs.Summary()
	if s.Received != 10 || s.Duplicates != 15 || s.Lines[0].Conflicts != 5 || s.Lines[1].Conflicts != 5 || s.Conflicts != 10 {
		t.Fatalf("received %d duplicates %d conflicts %d (A %d, B %d); want 10, 15, 10 (5, 5)",
			s.Received, s.Duplicates, s.Conflicts, s.Lines[0].Conflicts, s.Lines[1].Conflicts)
	}
}
