// Package synth generates a synthetic market-data feed: quotes and trades
// on a fixed set of symbols whose prices follow a random walk. It exists
// so that feedpub can load a bus without a real exchange behind it.
//
// A Source is not safe for concurrent use. Next allocates nothing.
package synth

import (
	"fmt"
	"math/rand/v2"

	"github.com/feedbus/feedbus/bus"
)

// wellKnown gives the first symbols familiar names; the rest are numbered.
var wellKnown = []string{
	"AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "JPM", "V", "XOM",
	"ES.Z6", "NQ.Z6", "CL.F7", "GC.G7", "ZN.H7", "EURUSD", "USDJPY", "GBPUSD",
}

// Source produces market messages.
type Source struct {
	symbols [][]byte
	mid     []int64 // mid price per symbol, in bus price units
	rng     *rand.Rand
	size    int
}

// MaxSymbols bounds the number of symbols a Source will make.
const MaxSymbols = 1_000_000

// New returns a Source over n symbols whose messages are padded to size
// bytes (0 for their natural size). The same seed gives the same feed.
func New(n, size int, seed uint64) (*Source, error) {
	if n < 1 || n > MaxSymbols {
		return nil, fmt.Errorf("synth: %d symbols: want 1-%d", n, MaxSymbols)
	}
	if size < 0 || size > bus.MaxMessageLen {
		return nil, fmt.Errorf("synth: message size %d: want 0-%d", size, bus.MaxMessageLen)
	}
	s := &Source{
		symbols: make([][]byte, n),
		mid:     make([]int64, n),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		size:    size,
	}
	for i := range s.symbols {
		if i < len(wellKnown) {
			s.symbols[i] = []byte(wellKnown[i])
		} else {
			s.symbols[i] = fmt.Appendf(nil, "SYM%05d", i)
		}
		s.mid[i] = (10 + s.rng.Int64N(990)) * bus.PriceScale
	}
	return s, nil
}

// Symbols returns the symbols the source trades, in order.
func (s *Source) Symbols() [][]byte { return s.symbols }

// Next fills m with the next message: four quotes for every trade, on a
// symbol drawn at random, its mid price moved by a tick or two.
func (s *Source) Next(m *bus.Message) {
	// One 64-bit draw per message, cut into fields: the generator is on
	// the publisher's hot path, and at a million messages a second one
	// draw per field cost more than encoding the message.
	r := s.rng.Uint64()
	i := int(uint64(uint32(r)) * uint64(len(s.symbols)) >> 32) // bits 0-31: symbol
	const tick = bus.PriceScale / 100
	mid := s.mid[i] + (int64(uint8(r>>32)%5)-2)*tick // bits 32-39: move
	if mid < tick*10 {
		mid = tick * 10
	}
	s.mid[i] = mid
	*m = bus.Message{Symbol: s.symbols[i], Len: s.size}
	if uint8(r>>40) < 51 { // bits 40-47: a trade one time in five
		m.Kind = bus.KindTrade
		m.Size = uint32(1+uint8(r>>48)%10) * 100         // bits 48-55
		m.Side = bus.Side(1 + (r>>56)&1)                 // bit 56
		m.Price = mid + (int64(uint8(r>>57)%3)-1)*tick/2 // bits 57-63
		return
	}
	m.Kind = bus.KindQuote
	m.BidPrice = mid - tick/2
	m.AskPrice = mid + tick/2
	m.BidSize = uint32(1+uint8(r>>48)%50) * 100 // bits 48-55
	m.AskSize = uint32(1+uint8(r>>56)%50) * 100 // bits 56-63
}
