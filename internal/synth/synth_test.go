package synth

import (
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// TestNextFields checks the fields Next cuts from one random draw stay in
// their ranges and have the intended mix.
func TestNextFields(t *testing.T) {
	const n, draws = 50, 200_000
	s, err := New(n, 64, 7)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	trades, sides := 0, [3]int{}
	var m bus.Message
	for range draws {
		s.Next(&m)
		seen[string(m.Symbol)]++
		if m.Len != 64 {
			t.Fatalf("Len %d, want 64", m.Len)
		}
		switch m.Kind {
		case bus.KindTrade:
			trades++
			if m.Size < 100 || m.Size > 1000 || m.Size%100 != 0 || m.Price <= 0 {
				t.Fatalf("trade %+v out of range", m)
			}
			if m.Side != 1 && m.Side != 2 {
				t.Fatalf("trade side %d", m.Side)
			}
			sides[m.Side]++
		case bus.KindQuote:
			if m.BidSize < 100 || m.BidSize > 5000 || m.AskSize < 100 || m.AskSize > 5000 {
				t.Fatalf("quote sizes %d/%d out of range", m.BidSize, m.AskSize)
			}
			if m.BidPrice <= 0 || m.AskPrice <= m.BidPrice {
				t.Fatalf("quote prices %d/%d", m.BidPrice, m.AskPrice)
			}
		default:
			t.Fatalf("kind %v", m.Kind)
		}
	}
	if len(seen) != n {
		t.Errorf("%d symbols drawn, want all %d", len(seen), n)
	}
	for sym, c := range seen {
		if c < draws/n/2 || c > draws/n*2 {
			t.Errorf("symbol %s drawn %d times, want about %d", sym, c, draws/n)
		}
	}
	if share := float64(trades) / draws; share < 0.18 || share > 0.22 {
		t.Errorf("trades are %.3f of messages, want about 0.2", share)
	}
	if sides[1] < trades/3 || sides[2] < trades/3 {
		t.Errorf("trade sides %v, want about even", sides[1:])
	}
}

// TestNextDeterministic: the same seed gives the same feed.
func TestNextDeterministic(t *testing.T) {
	a, _ := New(100, 64, 42)
	b, _ := New(100, 64, 42)
	var ma, mb bus.Message
	for i := range 1000 {
		a.Next(&ma)
		b.Next(&mb)
		if string(ma.Symbol) != string(mb.Symbol) || ma.Kind != mb.Kind || ma.BidPrice != mb.BidPrice || ma.Price != mb.Price || ma.BidSize != mb.BidSize || ma.Size != mb.Size {
			t.Fatalf("message %d differs: %+v vs %+v", i, ma, mb)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	s, err := New(1000, 64, 1)
	if err != nil {
		b.Fatal(err)
	}
	var m bus.Message
	b.ReportAllocs()
	for b.Loop() {
		s.Next(&m)
	}
}
