package fanout

import (
	"bytes"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/feedbus/feedbus/bus"
)

// Book is the last-value book of one symbol, as a Books handler keeps it.
// Prices are fixed point in units of 1/bus.PriceScale (1e-8).
type Book struct {
	Symbol string `json:"symbol"`
	Worker int    `json:"worker"`
	// Best bid and offer: the last quote's.
	BidPrice int64  `json:"bid_price"`
	BidSize  uint32 `json:"bid_size"`
	AskPrice int64  `json:"ask_price"`
	AskSize  uint32 `json:"ask_size"`
	// The last trade.
	LastPrice int64    `json:"last_price"`
	LastSize  uint32   `json:"last_size"`
	LastSide  bus.Side `json:"last_side"`
	// Volume is the sum of trade sizes; VWAP the volume-weighted average
	// trade price in price units (0 before the first trade), computed from
	// an exact 128-bit sum of price × size.
	Volume uint64  `json:"volume"`
	VWAP   float64 `json:"vwap"`
	// Messages = Quotes + Trades (+ any message of another kind).
	Messages uint64 `json:"messages"`
	Quotes   uint64 `json:"quotes"`
	Trades   uint64 `json:"trades"`
	// LastSeq is the sequence number of the last message applied.
	LastSeq uint64 `json:"last_seq"`
	// OutOfOrder counts messages whose sequence number was not above the
	// previous one's: always 0 unless the symbol's order was broken.
	OutOfOrder uint64 `json:"out_of_order"`
}

// book is a Book as the worker updates it. doc.go states its size; a test
// checks it.
type book struct {
	Book
	// notional is Σ price × size as a 128-bit two's complement integer:
	// one product alone can exceed int64 (price 1e12 units × size 4e9).
	notionalHi uint64
	notionalLo uint64
}

// Books is the Handler that keeps a last-value book per symbol (as the
// workers shard them: a symbol must always come from the same Worker): best bid
// and offer, last trade, volume, VWAP, counts. feedsub runs it; an
// application may run it beside its own handler. Handle is safe from every
// worker at once: each worker's symbols live in the shard of its index
// (modulo bookShards), so a worker's lock is its own and costs no hashing;
// Snapshot takes each shard's lock in turn. Snapshot and WriteBooks are
// safe from any goroutine at any time.
//
// The books are bounded by the symbols seen, which the wire cannot bound:
// MaxSymbols caps them, and messages of symbols beyond it are counted in
// Refused, not kept.
type Books struct {
	// MaxSymbols caps the number of books; 0 means no cap. Set it before
	// the first Handle.
	MaxSymbols int

	count   atomic.Int64
	refused atomic.Uint64
	shards  [bookShards]bookShard
}

const bookShards = 64

type bookShard struct {
	mu    sync.Mutex
	books map[symKey]*book
	_     [40]byte // keep shards' locks off each other's cache lines
}

// NewBooks returns an empty Books.
func NewBooks() *Books { return &Books{} }

// Handle applies m to its symbol's book. Application kinds count in
// Messages only.
func (bs *Books) Handle(m *Message) {
	sh := &bs.shards[uint(m.Worker)%bookShards]
	sh.mu.Lock()
	bs.apply(sh, m)
	sh.mu.Unlock()
}

// BeginRun locks the worker's shard for a run of messages (RunHandler).
func (bs *Books) BeginRun(worker int) { bs.shards[uint(worker)%bookShards].mu.Lock() }

// HandleInRun is Handle within a run, its shard already locked.
func (bs *Books) HandleInRun(m *Message) { bs.apply(&bs.shards[uint(m.Worker)%bookShards], m) }

// EndRun unlocks the worker's shard.
func (bs *Books) EndRun(worker int) { bs.shards[uint(worker)%bookShards].mu.Unlock() }

// apply applies m to its book in sh, whose lock the caller holds.
func (bs *Books) apply(sh *bookShard, m *Message) {
	var k symKey
	k.n = uint8(copy(k.b[:], m.Symbol))
	b := sh.books[k]
	if b == nil {
		if bs.MaxSymbols > 0 && bs.count.Load() >= int64(bs.MaxSymbols) {
			bs.refused.Add(1)
			return
		}
		if sh.books == nil {
			sh.books = make(map[symKey]*book)
		}
		b = &book{Book: Book{Symbol: k.String(), Worker: m.Worker}}
		sh.books[k] = b
		bs.count.Add(1)
	}
	b.apply(m)
}

// Refused counts messages not kept because MaxSymbols books existed.
func (bs *Books) Refused() uint64 { return bs.refused.Load() }

// Len returns the number of books.
func (bs *Books) Len() int { return int(bs.count.Load()) }

func (b *book) apply(m *Message) {
	if m.Kind == bus.KindBookState {
		// A recovery snapshot's record: the whole book as of its LastSeq.
		// The receive loop queues only records of BookStateLen.
		_ = b.restore(m.Body)
		return
	}
	if b.Messages > 0 && m.Seq <= b.LastSeq {
		b.OutOfOrder++
	}
	b.Messages++
	b.LastSeq = m.Seq
	switch m.Kind {
	case bus.KindQuote:
		b.Quotes++
		b.BidPrice, b.BidSize = m.BidPrice, m.BidSize
		b.AskPrice, b.AskSize = m.AskPrice, m.AskSize
	case bus.KindTrade:
		b.Trades++
		b.LastPrice, b.LastSize, b.LastSide = m.Price, m.Size, m.Side
		b.Volume += uint64(m.Size)
		b.addNotional(m.Price, m.Size)
	}
}

// addNotional adds price × size to the 128-bit sum.
func (b *book) addNotional(price int64, size uint32) {
	mag := uint64(price)
	if price < 0 {
		mag = -mag // two's complement: also right for math.MinInt64
	}
	hi, lo := bits.Mul64(mag, uint64(size))
	if price < 0 { // negate the 128-bit product
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	var carry uint64
	b.notionalLo, carry = bits.Add64(b.notionalLo, lo, 0)
	b.notionalHi, _ = bits.Add64(b.notionalHi, hi, carry)
}

// vwap returns Σ price × size / Σ size, or 0 before any trade.
func (b *book) vwap() float64 {
	if b.Volume == 0 {
		return 0
	}
	hi, lo := b.notionalHi, b.notionalLo
	neg := int64(hi) < 0
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	v := float64(hi)*0x1p64 + float64(lo)
	if neg {
		v = -v
	}
	return v / float64(b.Volume)
}

func (b *book) snapshot() Book {
	s := b.Book
	s.VWAP = b.vwap()
	return s
}

// Snapshot returns a copy of every symbol's book, sorted by symbol. It
// holds each shard's lock while copying that shard, which delays the
// workers that meet it (never the receive loop) by as long.
func (bs *Books) Snapshot() []Book {
	out := make([]Book, 0, bs.Len())
	for i := range bs.shards {
		sh := &bs.shards[i]
		sh.mu.Lock()
		for _, b := range sh.books {
			out = append(out, b.snapshot())
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Book) int { return strings.Compare(a.Symbol, b.Symbol) })
	return out
}

// WriteBooks writes the books as an aligned table, prices as decimals. A
// positive limit prints the first limit symbols and a line saying how many
// were left out; 0 or less prints all.
func (bs *Books) WriteBooks(w io.Writer, limit int) error {
	return writeBooks(w, bs.Snapshot(), limit)
}

var bookHeader = []string{"SYMBOL", "WORKER", "MSGS", "LAST_SEQ", "BID_SIZE", "BID", "ASK", "ASK_SIZE",
	"LAST", "LAST_SIZE", "SIDE", "VWAP", "VOLUME"}

func writeBooks(w io.Writer, books []Book, limit int) error {
	shown := books
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	rows := make([][]string, 0, len(shown)+1)
	rows = append(rows, bookHeader)
	for i := range shown {
		b := &shown[i]
		bid, ask, bidSize, askSize := "-", "-", "-", "-"
		if b.Quotes > 0 {
			bid, ask = FormatPrice(b.BidPrice), FormatPrice(b.AskPrice)
			bidSize, askSize = utoa(uint64(b.BidSize)), utoa(uint64(b.AskSize))
		}
		last, lastSize, side, vwap := "-", "-", "-", "-"
		if b.Trades > 0 {
			last, lastSize, side = FormatPrice(b.LastPrice), utoa(uint64(b.LastSize)), sideString(b.LastSide)
			vwap = FormatPrice(int64(math.Round(b.VWAP)))
		}
		rows = append(rows, []string{b.Symbol, strconv.Itoa(b.Worker), utoa(b.Messages), utoa(b.LastSeq),
			bidSize, bid, ask, askSize, last, lastSize, side, vwap, utoa(b.Volume)})
	}
	width := make([]int, len(bookHeader))
	for _, r := range rows {
		for c, cell := range r {
			width[c] = max(width[c], utf8.RuneCountInString(cell))
		}
	}
	var buf bytes.Buffer
	for _, r := range rows {
		for c, cell := range r {
			pad := strings.Repeat(" ", width[c]-utf8.RuneCountInString(cell))
			switch {
			case c == 0: // symbol: left-aligned
				buf.WriteString(cell)
				if len(r) > 1 {
					buf.WriteString(pad)
				}
			default: // numbers: right-aligned
				buf.WriteString("  ")
				buf.WriteString(pad)
				buf.WriteString(cell)
			}
		}
		buf.WriteByte('\n')
	}
	if n := len(books) - len(shown); n > 0 {
		buf.WriteString("... " + strconv.Itoa(n) + " more symbols\n")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// FormatPrice formats a fixed-point price (units of 1/bus.PriceScale) as
// an exact decimal with at least two and at most eight decimals:
// 10125000000 is "101.25", 1 is "0.00000001".
func FormatPrice(p int64) string {
	var b [32]byte
	s := b[:0]
	u := uint64(p)
	if p < 0 {
		s = append(s, '-')
		u = -u
	}
	s = strconv.AppendUint(s, u/bus.PriceScale, 10)
	frac := u % bus.PriceScale
	var digits [8]byte
	for i := 7; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 8
	for n > 2 && digits[n-1] == '0' {
		n--
	}
	s = append(s, '.')
	s = append(s, digits[:n]...)
	return string(s)
}

func utoa(u uint64) string { return strconv.FormatUint(u, 10) }

func sideString(s bus.Side) string {
	switch s {
	case bus.SideBuy:
		return "buy"
	case bus.SideSell:
		return "sell"
	}
	return "-"
}
