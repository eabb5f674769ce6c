package fanout

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// symbolsOn returns n distinct symbols that Shard gives to worker w.
func symbolsOn(w, workers, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		s := fmt.Sprintf("SYM%d", i)
		if Shard([]byte(s), workers) == w {
			out = append(out, s)
		}
	}
	return out
}

func quote(sym string, bid, ask int64, bidSize, askSize uint32) bus.Message {
	return bus.Message{Kind: bus.KindQuote, Symbol: []byte(sym), BidPrice: bid, AskPrice: ask, BidSize: bidSize, AskSize: askSize}
}

func trade(sym string, price int64, size uint32, side bus.Side) bus.Message {
	return bus.Message{Kind: bus.KindTrade, Symbol: []byte(sym), Price: price, Size: size, Side: side}
}

// stall blocks chosen workers on the first message they take until
// release is called: a worker that cannot make progress, deterministically.
type stall struct {
	mu      sync.Mutex
	workers map[int]bool
	entered map[int]chan struct{}
	done    map[int]bool
	release chan struct{}
	once    sync.Once
}

func newStall(workers ...int) *stall {
	s := &stall{workers: map[int]bool{}, entered: map[int]chan struct{}{}, done: map[int]bool{}, release: make(chan struct{})}
	for _, w := range workers {
		s.workers[w] = true
		s.entered[w] = make(chan struct{})
	}
	return s
}

func (s *stall) hook(w int) {
	s.mu.Lock()
	if !s.workers[w] || s.done[w] {
		s.mu.Unlock()
		return
	}
	s.done[w] = true
	s.mu.Unlock()
	close(s.entered[w])
	<-s.release
}

// wait returns once worker w is blocked in the hook, holding its first
// message.
func (s *stall) wait(t *testing.T, w int) {
	t.Helper()
	select {
	case <-s.entered[w]:
	case <-time.After(10 * time.Second):
		t.Fatalf("worker %d never took its first message", w)
	}
}

func (s *stall) unblock() { s.once.Do(func() { close(s.release) }) }

// eventually polls cond until it holds or 10s pass. It is a bounded wait
// for a condition, never a fixed sleep.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

func newTest(t *testing.T, cfg Config, hook func(int)) *Fanout {
	t.Helper()
	f, err := newFanout(cfg, hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// The tests check what the workers did through the books, so a Fanout
// made here without a Handler runs a Books.
func init() { defaultHandler = func() Handler { return NewBooks() } }

// Books returns the books of a Fanout running a Books handler.
func (f *Fanout) Books() []Book { return f.cfg.Handler.(*Books).Snapshot() }

// WriteBooks writes the books of a Fanout running a Books handler.
func (f *Fanout) WriteBooks(w io.Writer, limit int) error {
	return f.cfg.Handler.(*Books).WriteBooks(w, limit)
}

func bookMap(f *Fanout) map[string]Book {
	m := map[string]Book{}
	for _, b := range f.Books() {
		m[b.Symbol] = b
	}
	return m
}

// checkAccounting asserts, after Close, that every dispatched message is
// processed, dropped, conflated or abandoned.
func checkAccounting(t *testing.T, f *Fanout) {
	t.Helper()
	for _, s := range f.Stats() {
		if got := s.Processed + s.Dropped + s.Conflated + s.Abandoned; got != s.Dispatched {
			t.Errorf("worker %d: processed %d + dropped %d + conflated %d + abandoned %d = %d, dispatched %d",
				s.Worker, s.Processed, s.Dropped, s.Conflated, s.Abandoned, got, s.Dispatched)
		}
	}
}
