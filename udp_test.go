package feedbus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"

	"github.com/feedbus/feedbus/internal/udptest"
)

// A feed over two udp:// lines arrives whole and in order, each message
// once; the publisher's frames fit one datagram each.
func TestUDPLinesInOrder(t *testing.T) {
	lines := udptest.LoopLines(2)
	h := &inOrder{}
	joined := make(chan struct{})
	sub, err := feedbus.Subscribe(lines, h, feedbus.WithWorkers(1), feedbus.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart {
			close(joined)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0), feedbus.WithHeartbeat(2*time.Millisecond),
		feedbus.WithFrameBytes(8192), feedbus.WithPublisherSockets(bus.WithLoopback(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber never heard the publisher")
	}
	if err := pub.Publish(&bus.Message{Kind: feedbus.KindAppFirst, Symbol: []byte("X"), Body: make([]byte, 1500)}); err == nil {
		t.Error("a message larger than a datagram was taken")
	}
	const n = 5000
	for i := range n {
		if err := pub.Publish(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(i), Size: 1}); err != nil {
			t.Fatal(err)
		}
		if i%500 == 499 {
			pub.Flush()
			time.Sleep(time.Millisecond) // a feed's pace: loopback buffers are small
		}
	}
	pub.Flush()
	h.waitFor(t, n)
	sub.Close()
	s := sub.Summary()
	first := h.seqs[0]
	if want := seqRange(first, first+n-1); !slices.Equal(h.seqs, want) {
		t.Errorf("handled %d messages out of order or twice", len(h.seqs))
	}
	if s.Gaps != 0 || s.Lines[0].Won+s.Lines[1].Won != n {
		t.Errorf("gaps %d won %d+%d; want 0 and %d in all", s.Gaps, s.Lines[0].Won, s.Lines[1].Won, n)
	}
	// Each line brought every message, or what it missed the other line
	// filled: a loaded machine may lose a datagram on loopback (under
	// -race in CI, line B once missed 160 messages), and the point of two
	// lines is that the feed does not notice. Every copy is accounted for.
	if got := s.Lines[0].Received + s.Lines[1].Received; s.Duplicates != got-n || s.Duplicates > n {
		t.Errorf("duplicates %d, lines brought %d+%d of %d: copies not accounted for", s.Duplicates, s.Lines[0].Received, s.Lines[1].Received, n)
	}
	if s.Duplicates != n {
		t.Logf("a line missed %d messages (kernel drops %d+%d, line gaps %d+%d); the other line had them", n-s.Duplicates,
			s.Lines[0].KernelDrops, s.Lines[1].KernelDrops, s.Lines[0].Gaps, s.Lines[1].Gaps)
	}
	if st := pub.Stats(); st.Frames == 0 || st.WireBytes/st.Frames > bus.DefaultMaxDatagram {
		t.Errorf("publisher: %d frames of %d bytes on average, want datagrams of at most %d", st.Frames, st.WireBytes/max(st.Frames, 1), bus.DefaultMaxDatagram)
	}
}

// On udp:// lines a datagram that comes late on its line is a hole that
// fills, and the messages after it wait for it; a hole on every line is a
// gap after the gap wait, and what came after it then goes on, in order.
// (The gap wait is 100 ms here, not the default 1 ms, so that a busy
// machine cannot make the late datagram too late.)
func TestUDPReorderAndGap(t *testing.T) {
	lines := udptest.LoopLines(2)
	h := &inOrder{}
	sub, err := feedbus.Subscribe(lines, h, feedbus.WithWorkers(1), feedbus.WithGapWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	a := newRawLine(t, lines[0], bus.WithLoopback(true))
	newRawLine(t, lines[1], bus.WithLoopback(true)) // line B stays silent
	a.send(1, 5)
	h.waitFor(t, 5)
	a.send(11, 5) // 6-10 late on the same line
	a.send(6, 5)
	h.waitFor(t, 15)
	a.send(21, 5) // 16-20 on no line
	h.waitFor(t, 20)
	sub.Close()
	s := sub.Summary()
	if want := append(seqRange(1, 15), seqRange(21, 25)...); !slices.Equal(h.seqs, want) {
		t.Errorf("handled %v, want %v", h.seqs, want)
	}
	if s.Gaps != 5 || s.Received != 20 {
		t.Errorf("gaps %d received %d; want 5, 20", s.Gaps, s.Received)
	}
}
