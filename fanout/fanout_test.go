package fanout

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/snail"
)

func TestValidate(t *testing.T) {
	ok := Config{Workers: 4}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"no workers", Config{}, ErrWorkers},
		{"negative workers", Config{Workers: -1}, ErrWorkers},
		{"too many workers", Config{Workers: MaxWorkers + 1}, ErrWorkers},
		{"negative queue", Config{Workers: 1, QueueLen: -1}, ErrQueueLen},
		{"huge queue", Config{Workers: 1, QueueLen: MaxQueueLen + 1}, ErrQueueLen},
		{"bad policy", Config{Workers: 1, Overflow: 7}, ErrPolicy},
		{"negative work", Config{Workers: 1, Work: -time.Millisecond}, ErrWork},
		{"pin count", Config{Workers: 2, PinCPUs: []int{0}}, ErrPinCPUs},
		{"negative cpu", Config{Workers: 2, PinCPUs: []int{0, -1}}, ErrPinCPUs},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			continue
		}
		if _, nerr := New(tc.cfg); !errors.Is(nerr, tc.want) {
			t.Errorf("%s: New returned %v, want %v", tc.name, nerr, tc.want)
		}
		t.Logf("%s: %v", tc.name, err)
	}
}

func TestPolicy(t *testing.T) {
	for _, p := range []Policy{Drop, Conflate} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePolicy(string(b))
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %v", b, got, err, p)
		}
		var q Policy
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, q, err)
		}
	}
	if _, err := ParsePolicy("block"); !errors.Is(err, ErrPolicy) {
		t.Errorf("ParsePolicy(block): %v", err)
	}
	if _, err := Policy(9).MarshalText(); !errors.Is(err, ErrPolicy) {
		t.Errorf("MarshalText(9): %v", err)
	}
	if Policy(0) != Drop {
		t.Error("Drop must be the zero value")
	}
}

func TestShardIsFNV1a(t *testing.T) {
	for _, s := range []string{"A", "AAPL", "BTC-USD", "ES.FUT.CME.2026-06", strings.Repeat("Z", bus.MaxSymbolLen)} {
		h := fnv.New32a()
		h.Write([]byte(s))
		want := int(h.Sum32() % 7)
		if got := Shard([]byte(s), 7); got != want {
			t.Errorf("Shard(%q, 7) = %d, want %d", s, got, want)
		}
		if got := Shard([]byte(s), 1); got != 0 {
			t.Errorf("Shard(%q, 1) = %d", s, got)
		}
	}
}

// Every symbol's messages arrive in order, across 4 workers, and the books
// account for every message.
func TestOrderPerSymbol(t *testing.T) {
	const workers, symbols, n = 4, 64, 40000
	f := newTest(t, Config{Workers: workers, QueueLen: n}, nil) // no message can be dropped
	syms := make([]string, symbols)
	for i := range syms {
		syms[i] = "S" + string(rune('A'+i/26)) + string(rune('A'+i%26))
	}
	want := map[string]Book{}
	rng := rand.New(rand.NewPCG(1, 2))
	for seq := uint64(1); seq <= n; seq++ {
		sym := syms[rng.IntN(symbols)]
		var m bus.Message
		if seq%3 == 0 {
			m = trade(sym, int64(seq), 1, bus.SideBuy)
		} else {
			m = quote(sym, int64(seq), int64(seq)+1, 1, 1)
		}
		f.Dispatch(&m, seq, 0, 0)
		b := want[sym]
		b.Messages++
		b.LastSeq = seq
		want[sym] = b
	}
	f.Close()
	checkAccounting(t, f)
	for _, s := range f.Stats() {
		if s.Dropped != 0 {
			t.Errorf("worker %d dropped %d", s.Worker, s.Dropped)
		}
		if s.Processed == 0 {
			t.Errorf("worker %d processed nothing: sharding does not spread %d symbols", s.Worker, symbols)
		}
	}
	got := f.Books()
	if len(got) != len(want) {
		t.Fatalf("%d books, want %d", len(got), len(want))
	}
	for i, b := range got {
		if i > 0 && got[i-1].Symbol >= b.Symbol {
			t.Errorf("books not sorted: %q before %q", got[i-1].Symbol, b.Symbol)
		}
		w := want[b.Symbol]
		if b.Messages != w.Messages || b.LastSeq != w.LastSeq || b.OutOfOrder != 0 {
			t.Errorf("%s: messages %d last seq %d out of order %d; want %d, %d, 0",
				b.Symbol, b.Messages, b.LastSeq, b.OutOfOrder, w.Messages, w.LastSeq)
		}
		if b.Worker != Shard([]byte(b.Symbol), workers) {
			t.Errorf("%s on worker %d, Shard says %d", b.Symbol, b.Worker, Shard([]byte(b.Symbol), workers))
		}
	}
}

// A stalled worker drops exactly what does not fit in its queue, reports
// the drops to its probe, and the other workers lose nothing.
func TestDropStalledWorker(t *testing.T) {
	const workers, qlen, extra, others = 4, 256, 100, 200
	d, err := snail.New(snail.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const slow = 2
	st := newStall(slow)
	f := newTest(t, Config{Workers: workers, QueueLen: qlen, Detector: d}, st.hook)
	stalled := symbolsOn(slow, workers, 1)[0]

	seq := uint64(0)
	next := func(sym string, px int64) {
		seq++
		m := quote(sym, px, px+1, 10, 10)
		f.Dispatch(&m, seq, 0, 0)
	}
	next(stalled, 0) // taken by the worker, which then blocks
	st.wait(t, slow)
	lastKept := uint64(0)
	// Fill the stalled queue and overflow it by extra, interleaved with
	// traffic for the other workers: fewer than qlen each, so they cannot
	// overflow even if they never got to run.
	for i := 1; i <= qlen+extra; i++ {
		next(stalled, int64(i))
		if i == qlen {
			lastKept = seq
		}
		if i <= others {
			for w := 0; w < workers; w++ {
				if w != slow {
					next(symbolsOn(w, workers, 1)[0], int64(i))
				}
			}
		}
	}
	if got := f.Stats()[slow].Dropped; got != extra {
		t.Errorf("before release: stalled worker dropped %d, want %d", got, extra)
	}
	st.unblock()
	f.Close()
	checkAccounting(t, f)

	for _, s := range f.Stats() {
		if s.Worker == slow {
			if s.Dropped != extra || s.Processed != 1+qlen || s.QueueMax != qlen {
				t.Errorf("stalled worker: dropped %d processed %d queue max %d; want %d, %d, %d",
					s.Dropped, s.Processed, s.QueueMax, extra, 1+qlen, qlen)
			}
			continue
		}
		if s.Dropped != 0 || s.Processed != others {
			t.Errorf("worker %d: dropped %d processed %d; want 0, %d", s.Worker, s.Dropped, s.Processed, others)
		}
	}
	books := bookMap(f)
	if b := books[stalled]; b.Messages != 1+qlen || b.LastSeq != lastKept || b.BidPrice != qlen {
		t.Errorf("stalled book: messages %d last seq %d bid %d; want %d, %d, %d",
			b.Messages, b.LastSeq, b.BidPrice, 1+qlen, lastKept, qlen)
	}
	for w := 0; w < workers; w++ {
		if w == slow {
			continue
		}
		if b := books[symbolsOn(w, workers, 1)[0]]; b.Messages != others || b.BidPrice != others {
			t.Errorf("worker %d book: messages %d bid %d; want %d, %d", w, b.Messages, b.BidPrice, others, others)
		}
	}
	for _, p := range d.Stats().Probes {
		want := uint64(0)
		if p.Name == "worker 2 queue" { // the receive loop's probe for worker 2's drops
			want = extra
		}
		if p.Drops != want {
			t.Errorf("probe %s: %d drops, want %d", p.Name, p.Drops, want)
		}
	}
	if len(d.Stats().Probes) != 2*workers {
		t.Errorf("%d probes, want %d (each worker's and its queue's)", len(d.Stats().Probes), 2*workers)
	}
	select {
	case v := <-d.Verdicts():
		if v.Probe != "worker 2 queue" || v.Kind != snail.KindGaps {
			t.Errorf("verdict %v", v)
		}
	default:
		t.Error("no verdict for the drops")
	}
}

// Conflate keeps only the newest quote and trade per symbol and counts
// the rest.
func TestConflateNewest(t *testing.T) {
	st := newStall(0)
	f := newTest(t, Config{Workers: 1, QueueLen: 4, Overflow: Conflate}, st.hook)
	seq := uint64(0)
	send := func(m bus.Message) uint64 {
		seq++
		f.Dispatch(&m, seq, 0, 0)
		return seq
	}
	px := func(x float64) int64 { return int64(x * bus.PriceScale) }

	send(quote("A", px(1), px(2), 1, 1)) // taken, worker blocks
	st.wait(t, 0)
	send(quote("A", px(1.1), px(2.1), 1, 1)) // the queue: 4 messages
	send(quote("B", px(5), px(6), 1, 1))
	send(trade("A", px(1.5), 10, bus.SideBuy))
	send(trade("B", px(5.5), 10, bus.SideSell))
	// Overflow: into the slots.
	send(quote("A", px(10), px(11), 1, 1))
	send(trade("A", px(20), 100, bus.SideSell))
	send(quote("A", px(11), px(12), 2, 3))              // conflates A's quote
	send(quote("B", px(50), px(51), 1, 1))              // B's quote slot
	send(quote("A", px(12), px(13), 4, 5))              // conflates A's quote again
	lastB := send(quote("B", px(52), px(53), 7, 8))     // conflates B's quote
	lastA := send(trade("A", px(30), 300, bus.SideBuy)) // conflates A's trade
	if s := f.Stats()[0]; s.Conflated != 4 || s.Dropped != 0 || s.QueueMax != 4 {
		t.Errorf("before release: conflated %d dropped %d queue max %d; want 4, 0, 4", s.Conflated, s.Dropped, s.QueueMax)
	}
	st.unblock()
	f.Close()
	checkAccounting(t, f)
	s := f.Stats()[0]
	if s.Processed != 8 || s.Conflated != 4 {
		t.Errorf("processed %d conflated %d, want 8, 4", s.Processed, s.Conflated)
	}
	books := bookMap(f)
	a, b := books["A"], books["B"]
	if a.BidPrice != px(12) || a.AskPrice != px(13) || a.BidSize != 4 || a.AskSize != 5 {
		t.Errorf("A quote %d/%d x %d/%d, want the newest 12/13 x 4/5", a.BidPrice, a.AskPrice, a.BidSize, a.AskSize)
	}
	if a.LastPrice != px(30) || a.LastSize != 300 || a.LastSide != bus.SideBuy {
		t.Errorf("A last trade %d x %d %v, want the newest 30 x 300 buy", a.LastPrice, a.LastSize, a.LastSide)
	}
	// Trades applied: 1.5 x 10 and 30 x 300; the one at 20 was conflated.
	if want := (1.5*10 + 30*300) / 310 * bus.PriceScale; a.Volume != 310 || !approx(a.VWAP, want) {
		t.Errorf("A volume %d vwap %v, want 310, %v", a.Volume, a.VWAP, want)
	}
	if a.Messages != 5 || a.LastSeq != lastA || a.OutOfOrder != 0 {
		t.Errorf("A messages %d last seq %d out of order %d; want 5, %d, 0", a.Messages, a.LastSeq, a.OutOfOrder, lastA)
	}
	if b.BidPrice != px(52) || b.BidSize != 7 || b.Messages != 3 || b.LastSeq != lastB || b.OutOfOrder != 0 {
		t.Errorf("B bid %d x %d messages %d last seq %d out of order %d; want newest 52 x 7, 3, %d, 0",
			b.BidPrice, b.BidSize, b.Messages, b.LastSeq, b.OutOfOrder, lastB)
	}
}

// Under Conflate with a tiny queue, symbols stay in order while updates
// move between the queue and the slots, and the last update of every
// symbol wins.
func TestConflateOrder(t *testing.T) {
	const workers, symbols, n = 4, 40, 20000
	st := newStall(0, 1, 2, 3)
	f := newTest(t, Config{Workers: workers, QueueLen: 8, Overflow: Conflate, Work: time.Microsecond}, st.hook)
	type last struct {
		seq        uint64
		bid, trade int64
	}
	want := map[string]*last{}
	rng := rand.New(rand.NewPCG(3, 4))
	for seq := uint64(1); seq <= n; seq++ {
		sym := "C" + string(rune('A'+rng.IntN(symbols)))
		if seq == n/2 {
			st.unblock() // the first half overflows for sure, the second races the workers
		}
		l := want[sym]
		if l == nil {
			l = &last{}
			want[sym] = l
		}
		var m bus.Message
		if rng.IntN(4) == 0 {
			m = trade(sym, int64(seq), 1, bus.SideBuy)
			l.trade = int64(seq)
		} else {
			m = quote(sym, int64(seq), int64(seq)+1, 1, 1)
			l.bid = int64(seq)
		}
		l.seq = seq
		f.Dispatch(&m, seq, 0, 0)
	}
	st.unblock()
	f.Close()
	checkAccounting(t, f)
	var conflated uint64
	for _, s := range f.Stats() {
		conflated += s.Conflated
		if s.Dropped != 0 {
			t.Errorf("worker %d dropped %d under Conflate", s.Worker, s.Dropped)
		}
	}
	if conflated == 0 {
		t.Error("nothing conflated")
	}
	for _, b := range f.Books() {
		w := want[b.Symbol]
		if b.OutOfOrder != 0 || b.LastSeq != w.seq || b.BidPrice != w.bid || b.LastPrice != w.trade {
			t.Errorf("%s: out of order %d, last seq %d bid %d last %d; want 0, %d, %d, %d",
				b.Symbol, b.OutOfOrder, b.LastSeq, b.BidPrice, b.LastPrice, w.seq, w.bid, w.trade)
		}
	}
}

func approx(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	m := max(abs(a), abs(b), 1)
	return d <= m*1e-12
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Lag is measured where the worker takes the message, with the injected
// clock, and reaches the worker's snail probe.
func TestLagIntoDetector(t *testing.T) {
	cfg := snail.DefaultConfig()
	cfg.Mode = snail.LagAbsolute
	cfg.MaxLag = 3 * time.Millisecond
	d, err := snail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	const sent = int64(1_700_000_000_000_000_000)
	clock.Store(sent + int64(5*time.Millisecond))
	f := newTest(t, Config{Workers: 2, Detector: d, Now: clock.Load}, nil)
	m := quote("LAGGY", 1, 2, 1, 1)
	w := Shard(m.Symbol, 2)
	// Received 1ms after sending, taken 4ms later.
	f.Dispatch(&m, 1, sent, sent+int64(time.Millisecond))
	f.Close()

	s := f.Stats()[w]
	if s.Processed != 1 || s.MaxLagUs != 5000 || s.MaxQueueUs != 4000 {
		t.Errorf("stats %+v: want processed 1, max lag 5000µs, max queue 4000µs", s)
	}
	name := "worker " + string(rune('0'+w))
	found := false
	for _, p := range d.Stats().Probes {
		if p.Name != name {
			if p.Observed != 0 {
				t.Errorf("probe %s observed %d", p.Name, p.Observed)
			}
			continue
		}
		found = true
		if p.Observed != 1 || p.MaxLagNs != int64(5*time.Millisecond) {
			t.Errorf("probe %s: observed %d max lag %v", p.Name, p.Observed, time.Duration(p.MaxLagNs))
		}
	}
	if !found {
		t.Fatalf("no probe %q in %+v", name, d.Stats().Probes)
	}
	select {
	case v := <-d.Verdicts():
		if v.Probe != name || v.Kind != snail.KindLag || v.Value != int64(5*time.Millisecond) {
			t.Errorf("verdict %+v", v)
		}
	default:
		t.Error("5ms lag over a 3ms MaxLag gave no verdict")
	}
}

func TestDispatchAllocs(t *testing.T) {
	msgs := make([]bus.Message, 64)
	for i := range msgs {
		sym := "ALLOC" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		if i%2 == 0 {
			msgs[i] = quote(sym, int64(i), int64(i)+1, 1, 1)
		} else {
			msgs[i] = trade(sym, int64(i), 1, bus.SideSell)
		}
	}
	run := func(t *testing.T, f *Fanout) {
		t.Helper()
		i := 0
		allocs := testing.AllocsPerRun(2000, func() {
			f.Dispatch(&msgs[i%len(msgs)], uint64(i+1000), 1, 2)
			i++
		})
		if allocs != 0 {
			t.Errorf("Dispatch allocates %v times per message", allocs)
		}
	}
	t.Run("queue", func(t *testing.T) {
		d, _ := snail.New(snail.DefaultConfig())
		f := newTest(t, Config{Workers: 4, QueueLen: 1 << 14, Detector: d}, nil)
		for i := range msgs { // warm-up: every book exists
			f.Dispatch(&msgs[i], uint64(i+1), 1, 2)
		}
		eventually(t, "warm-up processed", func() bool {
			var n uint64
			for _, s := range f.Stats() {
				n += s.Processed
			}
			return n == uint64(len(msgs))
		})
		run(t, f) // workers run meanwhile: their allocations count too
		f.Close()
		var dropped uint64
		for _, s := range f.Stats() {
			dropped += s.Dropped
		}
		if dropped != 0 {
			t.Errorf("%d dropped: the queue path was not measured alone", dropped)
		}
	})
	for _, p := range []Policy{Drop, Conflate} {
		t.Run("full/"+p.String(), func(t *testing.T) {
			st := newStall(0)
			f := newTest(t, Config{Workers: 1, QueueLen: 4, Overflow: p}, st.hook)
			defer st.unblock()
			f.Dispatch(&msgs[0], 1, 1, 2)
			st.wait(t, 0)
			for i := range msgs { // fill the queue, then every symbol's slots
				f.Dispatch(&msgs[i], uint64(i+2), 1, 2)
			}
			run(t, f)
			// AllocsPerRun calls once more than asked. Drop: 60 of the
			// fill and all 2001 runs dropped. Conflate: the fill and the
			// first 4 runs open the 64 symbols' slots, the other 1997
			// runs overwrite.
			s := f.Stats()[0]
			if p == Drop && s.Dropped != 60+2001 || p == Conflate && s.Conflated != 2001-4 {
				t.Errorf("overflow path not taken every time: %+v", s)
			}
		})
	}
}

func TestCloseIdempotentNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	f, err := New(Config{Workers: 4, QueueLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	if got := runtime.NumGoroutine(); got < before+4 {
		t.Errorf("%d goroutines after New, want at least %d", got, before+4)
	}
	for i := uint64(1); i <= 10; i++ {
		m := quote("X"+string(rune('A'+i)), 1, 2, 1, 1)
		f.Dispatch(&m, i, 0, 0)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(f.Close)
	}
	wg.Go(f.Stop) // races the Closes: drains or abandons, and returns either way
	wg.Wait()
	f.Close()
	f.Stop()
	var total uint64
	for _, s := range f.Stats() {
		total += s.Processed + s.Abandoned
	}
	if total != 10 {
		t.Errorf("processed + abandoned = %d, want 10", total)
	}
	m := quote("LATE", 1, 2, 1, 1)
	f.Dispatch(&m, 11, 0, 0) // after Close: dropped, no panic
	s := f.Stats()[Shard(m.Symbol, 4)]
	if s.Dropped != 1 {
		t.Errorf("Dispatch after Close: dropped %d, want 1", s.Dropped)
	}
	checkAccounting(t, f)
	eventually(t, "worker goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// Stop abandons what is queued and counts it.
func TestStopAbandons(t *testing.T) {
	st := newStall(0)
	f := newTest(t, Config{Workers: 1, QueueLen: 8, Overflow: Conflate}, st.hook)
	for i := uint64(1); i <= 20; i++ {
		m := quote("S"+string(rune('A'+i%5)), int64(i), int64(i)+1, 1, 1)
		f.Dispatch(&m, i, 0, 0)
		if i == 1 {
			st.wait(t, 0)
		}
	}
	done := make(chan struct{})
	go func() { f.Stop(); close(done) }()
	eventually(t, "Stop to begin", f.abandon.Load)
	st.unblock()
	<-done
	s := f.Stats()[0]
	// 1 taken, 8 queued, 11 to the slots of 5 symbols: 5 kept, 6 conflated.
	if s.Processed != 1 || s.Abandoned != 8+5 || s.Conflated != 6 {
		t.Errorf("after Stop: %+v; want processed 1, abandoned 13, conflated 6", s)
	}
	checkAccounting(t, f)
}

func TestStatsJSON(t *testing.T) {
	f := newTest(t, Config{Workers: 1}, nil)
	m := quote("J", 1, 2, 1, 1)
	f.Dispatch(&m, 1, 0, 0)
	f.Close()
	b, err := json.Marshal(f.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"processed", "dropped", "conflated", "max_lag_us", "queue_max"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if got[0]["processed"] != 1.0 || got[0]["queue_max"] != 1.0 {
		t.Errorf("stats %s", b)
	}
}

// Books and Stats may be read while the workers run (the race detector
// checks this test).
func TestReadWhileRunning(t *testing.T) {
	f := newTest(t, Config{Workers: 2, QueueLen: 1 << 15}, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = f.Books()
			_ = f.Stats()
			_ = f.WriteBooks(&strings.Builder{}, 3)
		}
	})
	for i := uint64(1); i <= 20000; i++ {
		m := trade("R"+string(rune('A'+i%8)), int64(i), 1, bus.SideBuy)
		f.Dispatch(&m, i, 0, 0)
	}
	close(stop)
	wg.Wait()
	f.Close()
	var n uint64
	for _, b := range f.Books() {
		n += b.Messages
	}
	var dropped uint64
	for _, s := range f.Stats() {
		dropped += s.Dropped
	}
	if n+dropped != 20000 {
		t.Errorf("books hold %d messages, %d dropped; want 20000 in all", n, dropped)
	}
}

// Work costs at least what it says, spinning or sleeping.
func TestWork(t *testing.T) {
	for _, work := range []time.Duration{20 * time.Microsecond, 200 * time.Microsecond} {
		const n = 50
		f := newTest(t, Config{Workers: 1, QueueLen: n, Work: work}, nil)
		start := time.Now()
		for i := uint64(1); i <= n; i++ {
			m := quote("W", 1, 2, 1, 1)
			f.Dispatch(&m, i, 0, 0)
		}
		f.Close()
		if el := time.Since(start); el < n*work {
			t.Errorf("Work %v: %d messages took %v, less than %v", work, n, el, n*work)
		}
		if s := f.Stats()[0]; s.Processed != n {
			t.Errorf("Work %v: processed %d", work, s.Processed)
		}
	}
}

// A worker that hangs in its handler trips the snail as soon as its queue
// overflows: the receive loop reports the drops as they happen. (The
// worker used to report them at its next message, which a hung worker
// never takes.)
func TestHungWorkerTripsSnail(t *testing.T) {
	cfg := snail.DefaultConfig()
	cfg.MaxLag = -1 // the gap (and drop) check alone
	det, err := snail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := newStall(0)
	f := newTest(t, Config{Workers: 1, QueueLen: 4, Detector: det}, st.hook)
	m := quote("HUNG", 1, 2, 1, 1)
	f.Dispatch(&m, 1, 1, 1)
	st.wait(t, 0) // the worker hangs on its first message
	for i := 2; i <= 10; i++ {
		f.Dispatch(&m, uint64(i), 1, int64(i))
	}
	select {
	case v := <-det.Verdicts():
		if v.Probe != "worker 0 queue" || v.Kind != snail.KindGaps {
			t.Errorf("verdict %v, want worker 0 queue's gaps", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a hung worker's drops did not trip the snail")
	}
	st.unblock()
}

// ResetBaselines makes the workers' probes judge lag afresh: a new
// session's host may be 10 s off, which is not 10 s of lag. (Only the
// receive loop's probe used to start again.)
func TestResetBaselines(t *testing.T) {
	for _, reset := range []bool{false, true} {
		cfg := snail.DefaultConfig()
		cfg.MaxGaps = -1 // lag only
		det, err := snail.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var now atomic.Int64
		now.Store(int64(time.Hour))
		f := newTest(t, Config{Workers: 1, Detector: det, Now: now.Load}, nil)
		m := quote("A", 1, 2, 1, 1)
		f.Dispatch(&m, 1, now.Load(), now.Load()) // lag 0: the baseline
		eventually(t, "the first message", func() bool { return f.Stats()[0].Processed == 1 })
		if reset {
			f.ResetBaselines()
		}
		f.Dispatch(&m, 2, now.Load()-int64(10*time.Second), now.Load()) // a host 10 s behind
		eventually(t, "the second message", func() bool { return f.Stats()[0].Processed == 2 })
		f.Close()
		tripped := det.Trips() > 0
		if tripped == reset {
			t.Errorf("reset %v: tripped %v; want a trip only without the reset", reset, tripped)
		}
	}
}
