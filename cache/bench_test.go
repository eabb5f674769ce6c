package cache

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

// TestBookStateLastSeq pins bookStateLastSeq to fanout's layout.
func TestBookStateLastSeq(t *testing.T) {
	cfg := defaultConfig()
	f := newFeed(&cfg)
	f.Handle(&fanout.Message{Message: bus.Message{Kind: bus.KindQuote, Symbol: []byte("X"), BidPrice: 1}, Session: 1, Seq: 0x0102030405060708})
	f.books.AppendStates(nil, func(sym, state []byte) {
		b, err := fanout.ParseBookState(sym, state)
		if err != nil || b.LastSeq != binary.LittleEndian.Uint64(state[bookStateLastSeq:]) || b.LastSeq != 0x0102030405060708 {
			t.Errorf("last seq at %d: %x, ParseBookState says %x (%v)", bookStateLastSeq, binary.LittleEndian.Uint64(state[bookStateLastSeq:]), b.LastSeq, err)
		}
	})
}

// quoteFeed applies one quote per symbol to a new feed.
func quoteFeed(tb testing.TB, symbols int, opts ...Option) *feed {
	cfg := defaultConfig()
	for _, o := range append([]Option{WithMaxSymbols(symbols), WithStream(1)}, opts...) {
		if err := o(&cfg); err != nil {
			tb.Fatal(err)
		}
	}
	f := newFeed(&cfg)
	var m fanout.Message
	for i := range symbols {
		m = fanout.Message{Message: bus.Message{Kind: bus.KindQuote, Symbol: fmt.Appendf(nil, "SYM%06d", i),
			BidPrice: int64(i), AskPrice: int64(i + 1), BidSize: 1, AskSize: 2}, Session: 1, Seq: uint64(i + 1)}
		f.Handle(&m)
	}
	return f
}

// BenchmarkSnapshot measures taking a whole snapshot under the feed's
// mutex: the time the feed's worker waits.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("symbols=%d", n), func(b *testing.B) {
			f := quoteFeed(b, n)
			req := recovery.Request{Op: recovery.OpSnapshot, Stream: 1}
			var j snapshotJob
			j.take(f, &req) // grow the buffers
			b.SetBytes(int64(len(j.records)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if code, text := j.take(f, &req); code != 0 {
					b.Fatal(text)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRetransmit measures retransmission over ipc://: requests of
// 10,000 messages each, from a DEALER, replies read and parsed.
func BenchmarkRetransmit(b *testing.B) {
	const per = 10_000
	dir := b.TempDir()
	listen := "ipc://" + filepath.Join(dir, "cache")
	srv, err := New([]string{"ipc://" + filepath.Join(dir, "feed")}, WithListen(listen), WithStream(1), WithMaxRetransmit(per))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	// Fill the history straight through the handler: the feed's lines
	// have no publisher, and only the serving is measured.
	var m fanout.Message
	for i := range 100_000 {
		m = fanout.Message{Message: bus.Message{Kind: bus.KindQuote, Symbol: fmt.Appendf(nil, "SYM%04d", i%5000),
			BidPrice: int64(i), AskPrice: int64(i + 1), BidSize: 1, AskSize: 2}, Session: 9, Seq: uint64(i + 1)}
		srv.feed.Handle(&m)
	}
	c := dial(b, listen, 1000)
	var rep recovery.Reply
	b.ReportAllocs()
	b.ResetTimer()
	msgs := 0
	for i := range b.N {
		first := uint64(i*per%90_000 + 1)
		id := c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: 1, Session: 9, First: first, Last: first + per - 1})
		for {
			raw, err := c.sock.RecvBytes(0)
			if err != nil {
				b.Fatal(err)
			}
			if err := recovery.ParseReply(raw, &rep); err != nil || rep.ID != id {
				b.Fatalf("reply %v id %d: %v", rep.Type, rep.ID, err)
			}
			if rep.Type == recovery.ReplyRetransmitEnd {
				if rep.Status != recovery.Complete {
					b.Fatalf("status %v", rep.Status)
				}
				break
			}
			msgs += int(binary.LittleEndian.Uint32(rep.Body[20:])) // the frame's count
		}
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	if msgs != b.N*per {
		b.Fatalf("%d messages, want %d", msgs, b.N*per)
	}
}
