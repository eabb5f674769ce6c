package fanout

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

func px(x float64) int64 { return int64(math.Round(x * bus.PriceScale)) }

// Best bid/ask, last trade and VWAP on a hand-made sequence.
func TestBookHandMade(t *testing.T) {
	f := newTest(t, Config{Workers: 2}, nil)
	seq := uint64(0)
	send := func(m bus.Message) {
		seq++
		f.Dispatch(&m, seq, 0, 0)
	}
	send(quote("XYZ", px(100.25), px(100.75), 500, 700))
	send(trade("XYZ", px(100.50), 100, bus.SideBuy))
	send(quote("XYZ", px(100.50), px(101.00), 300, 200))
	send(trade("XYZ", px(101.00), 300, bus.SideBuy))
	send(trade("XYZ", px(99.75), 50, bus.SideSell))
	send(quote("XYZ", px(99.50), px(100.00), 1000, 20))
	send(quote("QQQ", px(1), px(2), 1, 2))
	f.Close()

	books := f.Books()
	if len(books) != 2 || books[0].Symbol != "QQQ" || books[1].Symbol != "XYZ" {
		t.Fatalf("books %+v", books)
	}
	b := books[1]
	if b.BidPrice != px(99.50) || b.BidSize != 1000 || b.AskPrice != px(100.00) || b.AskSize != 20 {
		t.Errorf("best bid/ask %d x %d / %d x %d", b.BidPrice, b.BidSize, b.AskPrice, b.AskSize)
	}
	if b.LastPrice != px(99.75) || b.LastSize != 50 || b.LastSide != bus.SideSell {
		t.Errorf("last trade %d x %d side %d", b.LastPrice, b.LastSize, b.LastSide)
	}
	// (100.50×100 + 101.00×300 + 99.75×50) / 450 = 100.6527777…
	want := (100.50*100 + 101.00*300 + 99.75*50) / 450 * bus.PriceScale
	if b.Volume != 450 || !approx(b.VWAP, want) {
		t.Errorf("volume %d vwap %v, want 450, %v", b.Volume, b.VWAP, want)
	}
	if b.Messages != 6 || b.Quotes != 3 || b.Trades != 3 || b.LastSeq != 6 || b.OutOfOrder != 0 {
		t.Errorf("counts %+v", b)
	}
	if b.Worker != Shard([]byte("XYZ"), 2) {
		t.Errorf("worker %d", b.Worker)
	}
	if q := books[0]; q.Trades != 0 || q.VWAP != 0 || q.LastSeq != 7 {
		t.Errorf("QQQ %+v", q)
	}
}

// VWAP stays exact where price × size overflows int64, and with negative
// prices (spreads).
func TestVWAPNoOverflow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prices []int64
		sizes  []uint32
	}{
		{"huge", []int64{math.MaxInt64, math.MaxInt64 - 1, 9e18}, []uint32{math.MaxUint32, math.MaxUint32, 3e9}},
		{"negative", []int64{-5 * bus.PriceScale, 15 * bus.PriceScale, math.MinInt64}, []uint32{10, 10, math.MaxUint32}},
		{"mixed", []int64{px(1e9), px(-2.5), px(0.00000001)}, []uint32{4e9, 7, 1}},
	} {
		b := &book{Book: Book{Symbol: "V"}}
		num, den := new(big.Int), new(big.Int)
		for i, p := range tc.prices {
			b.apply(&Message{Seq: uint64(i + 1), Message: bus.Message{Kind: bus.KindTrade, Price: p, Size: tc.sizes[i]}})
			num.Add(num, new(big.Int).Mul(big.NewInt(p), big.NewInt(int64(tc.sizes[i]))))
			den.Add(den, big.NewInt(int64(tc.sizes[i])))
		}
		want, _ := new(big.Rat).SetFrac(num, den).Float64()
		if got := b.vwap(); !approx(got, want) {
			t.Errorf("%s: vwap %v, want %v", tc.name, got, want)
		}
		if b.Volume != den.Uint64() {
			t.Errorf("%s: volume %d, want %v", tc.name, b.Volume, den)
		}
	}
}

func TestFormatPrice(t *testing.T) {
	for _, tc := range []struct {
		p    int64
		want string
	}{
		{0, "0.00"},
		{1, "0.00000001"},
		{px(101.25), "101.25"},
		{px(100), "100.00"},
		{px(-2.5), "-2.50"},
		{123456789012345678, "1234567890.12345678"},
		{math.MinInt64, "-92233720368.54775808"},
		{math.MaxInt64, "92233720368.54775807"},
	} {
		if got := FormatPrice(tc.p); got != tc.want {
			t.Errorf("FormatPrice(%d) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestWriteBooks(t *testing.T) {
	f := newTest(t, Config{Workers: 3}, nil)
	msgs := []bus.Message{
		quote("AAPL", px(189.5), px(189.52), 300, 400),
		trade("AAPL", px(189.51), 100, bus.SideBuy),
		quote("BTC-USD", px(64000.125), px(64000.25), 2, 3),
		trade("ETH-USD", px(3200.1), 5, bus.SideSell),
	}
	for i := range msgs {
		f.Dispatch(&msgs[i], uint64(i+1), 0, 0)
	}
	f.Close()

	var all strings.Builder
	if err := f.WriteBooks(&all, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", all.String())
	lines := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header + 3", len(lines))
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("not aligned: %q is %d wide, header %d", l, len(l), len(lines[0]))
		}
	}
	for _, want := range []string{"189.50", "189.52", "189.51", "64000.125", "3200.10", "buy", "sell"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no %q in the table", want)
		}
	}
	if !strings.HasPrefix(lines[1], "AAPL ") || !strings.HasPrefix(lines[2], "BTC-USD") || !strings.HasPrefix(lines[3], "ETH-USD") {
		t.Errorf("not sorted by symbol:\n%s", all.String())
	}
	// Columns line up: every price ends where its header ends.
	hdr := lines[0]
	end := strings.Index(hdr, "VWAP") + len("VWAP")
	if got := lines[1][:end]; !strings.HasSuffix(got, "189.51") {
		t.Errorf("VWAP column misaligned: %q", got)
	}

	var some strings.Builder
	if err := f.WriteBooks(&some, 2); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(some.String(), "\n"); got != 4 || !strings.Contains(some.String(), "... 1 more symbols") {
		t.Errorf("limit 2:\n%s", some.String())
	}
}

// Books keeps at most MaxSymbols books: an input that invents symbols
// cannot grow it without bound, and what it refuses is counted.
func TestBooksMaxSymbols(t *testing.T) {
	bs := NewBooks()
	bs.MaxSymbols = 3
	for i := 0; i < 10; i++ {
		for k := 0; k < 2; k++ { // a symbol always comes from the same worker
			m := Message{Message: bus.Message{Kind: bus.KindTrade, Symbol: []byte(fmt.Sprintf("S%d", i)), Price: 1, Size: 1}, Seq: uint64(2*i + k + 1), Worker: i % 2}
			bs.Handle(&m)
		}
	}
	if n := bs.Len(); n != 3 {
		t.Fatalf("%d books, want 3", n)
	}
	if r := bs.Refused(); r != 14 {
		t.Fatalf("refused %d, want 14 (7 symbols, twice)", r)
	}
	for _, b := range bs.Snapshot() {
		if b.Messages != 2 {
			t.Errorf("%s: %d messages, want 2", b.Symbol, b.Messages)
		}
	}
}
