package feedbus_test

import (
	"math"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
)

// Counters agrees with the Summary once the subscriber is closed, and the
// receive loop's post of its counts (once a status interval) allocates
// nothing.
func TestCountersAfterClose(t *testing.T) {
	const n = 5000
	lines := ipcLines(t, 2)
	pub, sub, _ := joinedPair(t, lines, feedbus.NewBooks(), nil, feedbus.WithWorkers(2), feedbus.WithStatus(10*time.Millisecond, nil))
	m := bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 1, AskPrice: 2, BidSize: 1, AskSize: 1}
	for range n {
		if err := pub.Publish(&m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); sub.Counters().Received < n; {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d as of the last interval", sub.Counters().Received, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	s := sub.Summary()
	c := sub.Counters()
	if c.Received != s.Received || c.Gaps != s.Gaps || c.Duplicates != s.Duplicates || c.Frames != s.Frames || c.Latency.Count != s.LatencyUS.Count {
		t.Errorf("counters %+v\ndisagree with the summary: received %d gaps %d duplicates %d frames %d latency count %d",
			c, s.Received, s.Gaps, s.Duplicates, s.Frames, s.LatencyUS.Count)
	}
	for i, ln := range s.Lines {
		if c.Lines[i].Won != ln.Won || c.Lines[i].Received != ln.Received || c.Lines[i].Name != ln.Name {
			t.Errorf("line %s: counters %+v, summary won %d received %d", ln.Name, c.Lines[i], ln.Won, ln.Received)
		}
	}
	// Sum is from the HdrHistogram's mean: within its 3 significant figures.
	if want := s.LatencyUS.Mean * float64(s.LatencyUS.Count) / 1e6; math.Abs(c.Latency.Sum-want) > want*1e-3 {
		t.Errorf("latency sum %vs, want %vs", c.Latency.Sum, want)
	}
	if last := c.Latency.Cumulative[len(c.Latency.Cumulative)-1]; last != c.Latency.Count {
		t.Errorf("%d of %d messages in the latency buckets: loopback latency is far below the last bound", last, c.Latency.Count)
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(100, sub.PostCounters); a != 0 {
		t.Errorf("posting the counters allocates %.0f times", a)
	}
}

// BenchmarkPostCounters is what the receive loop pays once a status
// interval to publish its counts (two lines).
func BenchmarkPostCounters(b *testing.B) {
	lines := ipcLines(b, 2)
	pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	sub, err := feedbus.Subscribe(lines, feedbus.NewBooks(), feedbus.WithWorkers(2))
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.Close(); err != nil { // the loop must not run meanwhile: it owns the counts
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sub.PostCounters()
	}
}
