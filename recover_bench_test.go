package feedbus_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/cache"
)

// sessionHeard returns a cache option that closes the channel returned
// when the cache's subscriber first hears a session (a heartbeat will do).
func sessionHeard() (cache.Option, <-chan struct{}) {
	heard := make(chan struct{})
	var once atomic.Bool
	return cache.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart && once.CompareAndSwap(false, true) {
			close(heard)
		}
	}), heard
}

func waitHeard(b testing.TB, heard <-chan struct{}, poke func()) {
	b.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-heard:
			return
		case <-deadline:
			b.Fatal("the cache never heard the feed")
		case <-time.After(2 * time.Millisecond):
			poke()
		}
	}
}

// waitUntil polls cond until it holds, failing after 30 s.
func waitUntil(b testing.TB, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkSnapshotJoin is a late joiner's snapshot, end to end over
// ipc://: from Subscribe, through the first frame heard mid-stream, the
// request, the server's consistency point and its records, to the last
// record handled by the subscriber's worker. One op is one join.
func BenchmarkSnapshotJoin(b *testing.B) {
	for _, symbols := range []int{10_000, 100_000} {
		b.Run("symbols="+strconv.Itoa(symbols), func(b *testing.B) {
			dir := b.TempDir()
			lines := []string{"ipc://" + filepath.Join(dir, "feed")}
			listen := "ipc://" + filepath.Join(dir, "cache")
			heardOpt, heard := sessionHeard()
			srv, err := cache.New(lines, cache.WithListen(listen), heardOpt)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0), feedbus.WithHeartbeat(2*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			waitHeard(b, heard, func() {})
			m := bus.Message{Kind: bus.KindQuote, BidPrice: 1, AskPrice: 2, BidSize: 3, AskSize: 4}
			var sym []byte
			for i := range symbols {
				sym = strconv.AppendInt(append(sym[:0], 'S'), int64(i), 10)
				m.Symbol = sym
				if err := pub.Publish(&m); err != nil {
					b.Fatal(err)
				}
			}
			pub.Flush()
			waitUntil(b, "the cache to hold every symbol", func() bool { return srv.Stats().Symbols == symbols })
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var records atomic.Int64
				done := make(chan struct{})
				h := feedbus.HandlerFunc(func(m *feedbus.Message) {
					if m.Snapshot && records.Add(1) == int64(symbols) {
						close(done)
					}
				})
				sub, err := feedbus.Subscribe(lines, h, feedbus.WithWorkers(1), feedbus.WithRecovery(listen))
				if err != nil {
					b.Fatal(err)
				}
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					b.Fatalf("%d of %d records", records.Load(), symbols)
				}
				b.StopTimer()
				sub.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(symbols)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkHoleFill is the time from a hole to its fill from a recovery
// server, over ipc://, on one line (so no gap wait: nothing else can fill
// it). The server hears every frame on its own line; the subscriber's line
// misses one frame of 10 messages in every 20. One op is one hole; p50
// and p99 are the subscriber's fill times.
func BenchmarkHoleFill(b *testing.B) {
	dir := b.TempDir()
	full, lossy := "ipc://"+filepath.Join(dir, "full"), "ipc://"+filepath.Join(dir, "lossy")
	listen := "ipc://" + filepath.Join(dir, "cache")
	heardOpt, heard := sessionHeard()
	srv, err := cache.New([]string{full}, cache.WithListen(listen), heardOpt)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	var handled atomic.Uint64
	rs := subscribeRawTo(b, []string{lossy}, feedbus.HandlerFunc(func(*feedbus.Message) { handled.Add(1) }),
		feedbus.WithWorkers(1), feedbus.WithRecovery(listen))
	toCache := newRawLine(b, full)
	waitHeard(b, heard, func() { toCache.send(1, 0) })
	seq := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range 20 {
			toCache.send(seq, 10)
			if j != 10 {
				rs.lines[0].send(seq, 10)
			}
			seq += 10
		}
		// One hole at a time: the next once this one is filled.
		want := uint64(i+1) * 200
		waitUntil(b, "the fill", func() bool { return handled.Load() >= want })
	}
	b.StopTimer()
	rs.Close()
	s := rs.Summary()
	if s.Gaps != 0 || s.Recovered != uint64(b.N)*10 {
		b.Fatalf("gaps %d recovered %d, want 0, %d", s.Gaps, s.Recovered, b.N*10)
	}
	b.ReportMetric(s.Recovery.FillUS.P50, "p50-µs")
	b.ReportMetric(s.Recovery.FillUS.P99, "p99-µs")
}
