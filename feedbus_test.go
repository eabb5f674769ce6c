package feedbus_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
)

// ipcLines returns n ipc:// endpoints in a directory the test removes.
func ipcLines(t testing.TB, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, "ipc://"+filepath.Join(dir, fmt.Sprintf("line%d", i)))
	}
	return out
}

// joinedPair starts a publisher and a subscriber on lines and returns once
// the subscriber has heard the publisher's session.
func joinedPair(t *testing.T, lines []string, h feedbus.Handler, pubOpts []feedbus.PublisherOption, subOpts ...feedbus.SubscriberOption) (*feedbus.Publisher, *feedbus.Subscriber, <-chan feedbus.Event) {
	t.Helper()
	pub, err := feedbus.NewPublisher(lines, append([]feedbus.PublisherOption{feedbus.WithLinger(0), feedbus.WithHeartbeat(5 * time.Millisecond)}, pubOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	events := make(chan feedbus.Event, 1024)
	joined := make(chan struct{})
	var once sync.Once
	sub, err := feedbus.Subscribe(lines, h, append(subOpts, feedbus.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart && e.Session == pub.Session() {
			once.Do(func() { close(joined) })
		}
		select {
		case events <- e:
		default:
		}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber never heard the publisher's session")
	}
	return pub, sub, events
}

// Two lines carry every message; the subscriber hands each to the handler
// once, in sequence order per symbol, and counts the second copies.
func TestTwoLinesEveryMessageOnce(t *testing.T) {
	const n = 20000
	lines := ipcLines(t, 2)
	var mu sync.Mutex
	last := map[string]uint64{}
	var got, outOfOrder uint64
	done, allDup := make(chan struct{}), make(chan struct{})
	var dupOnce, bothOnce sync.Once
	both := make(chan struct{})
	h := feedbus.HandlerFunc(func(m *feedbus.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Seq <= last[string(m.Symbol)] {
			outOfOrder++
		}
		last[string(m.Symbol)] = m.Seq
		if got++; got == n {
			close(done)
		}
	})
	pub, sub, _ := joinedPair(t, lines, h,
		[]feedbus.PublisherOption{feedbus.WithPublisherSockets(bus.WithOnFull(bus.Block))},
		feedbus.WithWorkers(2), feedbus.WithQueue(1<<16, 0),
		feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) {
			if st.LineFrames[0] > 0 && st.LineFrames[1] > 0 {
				bothOnce.Do(func() { close(both) })
			}
			if st.Duplicates == n {
				dupOnce.Do(func() { close(allDup) })
			}
		}))
	// ZeroMQ connects each line in the background, and a frame sent before
	// a line is connected is not on it: wait until both bring heartbeats.
	select {
	case <-both:
	case <-time.After(10 * time.Second):
		t.Fatal("line B never connected")
	}
	for i := 0; i < n; i++ {
		m := bus.Message{Kind: bus.KindQuote, Symbol: []byte(fmt.Sprintf("S%03d", i%97)), BidPrice: int64(i), AskPrice: int64(i + 1)}
		if i%5 == 0 {
			m = bus.Message{Kind: 140, Symbol: m.Symbol, Body: []byte(fmt.Sprint(i))}
		}
		if err := pub.Publish(&m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("received %d of %d", got, n)
	}
	// Line B's copies are counted, not delivered: wait for the status to
	// show them all.
	select {
	case <-allDup:
	case <-time.After(30 * time.Second):
		t.Fatal("line B's copies never all arrived")
	}
	sub.Close()
	if s := sub.Summary(); s.Received != n || s.Gaps != 0 || s.Duplicates != n || outOfOrder != 0 {
		t.Fatalf("received %d gaps %d duplicates %d out of order %d; want %d, 0, %d, 0", s.Received, s.Gaps, s.Duplicates, outOfOrder, n, n)
	}
	if st := pub.Stats(); st.Messages != n || st.Lines[0].DroppedMessages != 0 {
		t.Fatalf("publisher stats %+v", st)
	}
}

// A message published without Flush goes out after the max delay, and an
// idle publisher heartbeats.
func TestMaxDelayAndHeartbeat(t *testing.T) {
	lines := ipcLines(t, 1)
	got := make(chan uint64, 1)
	pub, sub, _ := joinedPair(t, lines, feedbus.HandlerFunc(func(m *feedbus.Message) { got <- m.Seq }),
		[]feedbus.PublisherOption{feedbus.WithMaxDelay(2 * time.Millisecond)})
	if err := pub.Publish(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: 1, Size: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-got:
		if seq != 1 {
			t.Fatalf("seq %d, want 1", seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a message waiting for company was never sent")
	}
	before := pub.Stats().Heartbeats
	deadline := time.Now().Add(10 * time.Second)
	for pub.Stats().Heartbeats < before+3 {
		if time.Now().After(deadline) {
			t.Fatal("an idle publisher sent no heartbeats")
		}
		time.Sleep(time.Millisecond)
	}
	sub.Close()
	if s := sub.Summary(); s.Heartbeats == 0 || s.Received != 1 {
		t.Fatalf("subscriber saw %d heartbeats and %d messages", s.Heartbeats, s.Received)
	}
}

func TestPublishRefuses(t *testing.T) {
	pub, err := feedbus.NewPublisher(ipcLines(t, 1), feedbus.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    bus.Message
		want error
	}{
		{bus.Message{Kind: 5, Symbol: []byte("X")}, bus.ErrMalformed}, // reserved kind
		{bus.Message{Kind: bus.KindQuote}, bus.ErrMalformed},          // no symbol
		{bus.Message{Kind: 200, Symbol: []byte("X"), Body: make([]byte, bus.MaxMessageLen)}, feedbus.ErrTooLarge},
	} {
		if err := pub.Publish(&c.m); !errors.Is(err, c.want) {
			t.Errorf("Publish(kind %v, %d-byte body) = %v, want %v", c.m.Kind, len(c.m.Body), err, c.want)
		}
	}
	if n := pub.Pending(); n != 0 {
		t.Errorf("%d refused messages pending", n)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); !errors.Is(err, feedbus.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := pub.Publish(&bus.Message{Kind: bus.KindQuote, Symbol: []byte("X")}); !errors.Is(err, feedbus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

// Options check their values.
func TestOptionsValidate(t *testing.T) {
	lines := ipcLines(t, 1)
	for _, o := range []feedbus.PublisherOption{
		feedbus.WithFrameBytes(10), feedbus.WithMaxDelay(-1), feedbus.WithHeartbeat(0),
		feedbus.WithLinger(-1), feedbus.WithSession(0), feedbus.WithCompression(9, nil),
	} {
		if _, err := feedbus.NewPublisher(lines, o); !errors.Is(err, feedbus.ErrOption) {
			t.Errorf("NewPublisher with a bad option: %v, want ErrOption", err)
		}
	}
	h := feedbus.HandlerFunc(func(*feedbus.Message) {})
	for _, o := range []feedbus.SubscriberOption{
		feedbus.WithGapWait(-1), feedbus.WithWorkers(0), feedbus.WithTopics(""), feedbus.WithIdle(-1),
		feedbus.WithStatus(0, nil), feedbus.WithQueue(-1, 0),
	} {
		if _, err := feedbus.Subscribe(lines, h, o); !errors.Is(err, feedbus.ErrOption) {
			t.Errorf("Subscribe with a bad option: %v, want ErrOption", err)
		}
	}
	if _, err := feedbus.Subscribe(lines, nil); !errors.Is(err, feedbus.ErrOption) {
		t.Errorf("Subscribe with no handler: %v, want ErrOption", err)
	}
}

// The subscriber stops itself after WithCount messages, and its Close
// after that is clean and idempotent.
func TestSubscriberCount(t *testing.T) {
	lines := ipcLines(t, 1)
	pub, sub, events := joinedPair(t, lines, feedbus.NewBooks(), nil, feedbus.WithCount(10))
	for i := 0; i < 10; i++ {
		pub.Publish(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("Z"), Price: int64(i), Size: 1})
	}
	pub.Flush()
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber did not stop after its count")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	s := sub.Summary()
	if s.EndReason != "count" || s.Received != 10 {
		t.Fatalf("end %q received %d", s.EndReason, s.Received)
	}
	var kinds []feedbus.EventKind
	for len(events) > 0 {
		kinds = append(kinds, (<-events).Kind)
	}
	if len(kinds) != 2 || kinds[0] != feedbus.SessionStart || kinds[1] != feedbus.SessionEnd {
		t.Fatalf("events %v, want session-start then session-end", kinds)
	}
}

// tidWriter records the OS thread of every Write.
type tidWriter struct {
	mu   sync.Mutex
	tids []int
	n    int
}

func (w *tidWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tids = append(w.tids, affinity.ThreadID())
	w.n += len(b)
	return len(b), nil
}

// The interval's slow work (percentiles, the zlib-compressed .hlog record,
// the status callback) runs off the receive loop's thread: the loop only
// swaps a histogram. (It used to stall the loop 1-2 ms a second.)
func TestStatusWorkOffTheLoop(t *testing.T) {
	log := &tidWriter{}
	var mu sync.Mutex
	var statusTids []int
	all := make(chan struct{})
	var once sync.Once
	lines := ipcLines(t, 1)
	pub, sub, _ := joinedPair(t, lines, feedbus.NewBooks(), nil,
		feedbus.WithLatencyLog(log, "test"),
		feedbus.WithStatus(time.Millisecond, func(st feedbus.Status) {
			mu.Lock()
			statusTids = append(statusTids, affinity.ThreadID())
			mu.Unlock()
			if st.Received == 1000 {
				once.Do(func() { close(all) })
			}
		}))
	// The log's header was written by Subscribe, before the loop took its
	// thread; count only what came after.
	log.mu.Lock()
	log.tids = nil
	log.mu.Unlock()
	for i := 0; i < 1000; i++ {
		pub.Publish(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("T"), Price: 1, Size: 1})
	}
	pub.Flush()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber did not get its 1000 messages")
	}
	// Checked while the loop runs: once it has ended, its thread is free
	// for any goroutine.
	loop := sub.LoopThread()
	log.mu.Lock()
	mu.Lock()
	tids := append(append([]int(nil), log.tids...), statusTids...)
	writes := len(log.tids)
	mu.Unlock()
	log.mu.Unlock()
	if loop <= 0 || writes < 1 { // the worker logs an interval before it reports it
		t.Fatalf("loop thread %d, %d log writes", loop, writes)
	}
	for _, tid := range tids {
		if tid == loop {
			t.Fatalf("the latency log or the status ran on the receive loop's thread %d", loop)
		}
	}
}
