package cache

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rig is a publisher, a cache following it, and a reference subscriber
// keeping books from the feed's start, all over ipc:// in a temporary
// directory.
type rig struct {
	t      testing.TB
	lines  []string
	listen string
	pub    *feedbus.Publisher
	srv    *Server
	ref    *feedbus.Books
	refN   func() uint64 // messages the reference subscriber has handled

	published []bus.Message // published[i] is seq i+1
}

// newRig starts the rig and returns once the cache and the reference
// subscriber have both heard the publisher's session.
func newRig(t testing.TB, pubOpts []feedbus.PublisherOption, opts ...Option) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, lines: []string{"ipc://" + filepath.Join(dir, "feed")}, listen: "ipc://" + filepath.Join(dir, "cache")}
	pub, err := feedbus.NewPublisher(r.lines, append([]feedbus.PublisherOption{feedbus.WithLinger(0), feedbus.WithHeartbeat(5 * time.Millisecond)}, pubOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	r.pub = pub

	heard := make(chan struct{})
	var once sync.Once
	onSession := func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart && e.Session == pub.Session() {
			once.Do(func() { close(heard) })
		}
	}
	srv, err := New(r.lines, append([]Option{WithListen(r.listen), WithEvents(onSession)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r.srv = srv

	r.ref = feedbus.NewBooks()
	var mu sync.Mutex
	var n uint64
	refHeard := make(chan struct{})
	var refOnce sync.Once
	sub, err := feedbus.Subscribe(r.lines, feedbus.Handlers(r.ref, feedbus.HandlerFunc(func(*feedbus.Message) {
		mu.Lock()
		n++
		mu.Unlock()
	})), feedbus.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart && e.Session == pub.Session() {
			refOnce.Do(func() { close(refHeard) })
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	r.refN = func() uint64 { mu.Lock(); defer mu.Unlock(); return n }
	for _, c := range []chan struct{}{heard, refHeard} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("the publisher's session was never heard")
		}
	}
	return r
}

// publish publishes ms, flushes, and waits until the cache and the
// reference have applied everything published so far.
func (r *rig) publish(ms ...bus.Message) {
	r.t.Helper()
	for i := range ms {
		if err := r.pub.Publish(&ms[i]); err != nil {
			r.t.Fatal(err)
		}
		m := ms[i]
		m.Symbol, m.Body = bytes.Clone(m.Symbol), bytes.Clone(m.Body)
		r.published = append(r.published, m)
	}
	if err := r.pub.Flush(); err != nil {
		r.t.Fatal(err)
	}
	want := uint64(len(r.published))
	waitFor(r.t, fmt.Sprintf("the cache and the reference to apply %d messages", want), func() bool {
		return r.srv.Stats().Received >= want && r.refN() >= want
	})
}

// feedMessages makes n messages over symbols symbols: quotes, trades and
// (every appEvery-th, if positive) an application kind with a body.
func feedMessages(n, symbols, appEvery, from int) []bus.Message {
	out := make([]bus.Message, 0, n)
	for i := from; i < from+n; i++ {
		j := i % symbols
		sym := []byte(fmt.Sprintf("%c%c%04d", 'A'+j%3, 'A'+j%5, j))
		switch {
		case appEvery > 0 && i%appEvery == 0:
			out = append(out, bus.Message{Kind: bus.KindAppFirst + bus.Kind(i%3), Symbol: sym, Body: []byte(fmt.Sprintf("news %d", i))})
		case i%4 == 3:
			out = append(out, bus.Message{Kind: bus.KindTrade, Symbol: sym, Price: int64(100_00000000 + i), Size: uint32(1 + i%700), Side: bus.Side(1 + i%2)})
		default:
			out = append(out, bus.Message{Kind: bus.KindQuote, Symbol: sym, BidPrice: int64(99_00000000 + i), AskPrice: int64(99_10000000 + i),
				BidSize: uint32(1 + i%50), AskSize: uint32(2 + i%60)})
		}
	}
	return out
}

// dealer is a raw DEALER client of a cache, as another language's
// client would be: one frame per request, one per reply.
type dealer struct {
	t    testing.TB
	ctx  *zmq.Context
	sock *zmq.Socket
	id   uint64
}

func dial(t testing.TB, endpoint string, rcvHWM int) *dealer {
	t.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ctx.NewSocket(zmq.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(s.SetLinger(0), s.SetRcvhwm(rcvHWM), s.SetRcvtimeo(10*time.Second), s.Connect(endpoint)); err != nil {
		t.Fatal(err)
	}
	d := &dealer{t: t, ctx: ctx, sock: s}
	t.Cleanup(func() { s.Close(); ctx.Term() })
	return d
}

// send sends raw bytes as one request message.
func (d *dealer) send(b []byte) {
	d.t.Helper()
	if _, err := d.sock.SendBytes(b, 0); err != nil {
		d.t.Fatal(err)
	}
}

// ask sends req with a fresh id and returns the id.
func (d *dealer) ask(req recovery.Request) uint64 {
	d.id++
	req.ID = d.id
	d.send(recovery.AppendRequest(nil, &req))
	return d.id
}

// reply receives and parses one reply, copying its body.
func (d *dealer) reply() recovery.Reply {
	d.t.Helper()
	r, err := d.tryReply()
	if err != nil {
		d.t.Fatal(err)
	}
	return r
}

// tryReply is reply that returns its failure: no reply within the
// socket's receive timeout, or one that does not parse.
func (d *dealer) tryReply() (recovery.Reply, error) {
	var r recovery.Reply
	b, err := d.sock.RecvBytes(0)
	if err != nil {
		return r, fmt.Errorf("no reply: %w", err)
	}
	if err := recovery.ParseReply(b, &r); err != nil {
		return r, fmt.Errorf("reply does not parse: %w", err)
	}
	return r, nil
}

// until receives replies to id until one ends the request, and returns
// them all, the last one last.
func (d *dealer) until(id uint64) []recovery.Reply {
	d.t.Helper()
	var out []recovery.Reply
	for {
		r := d.reply()
		if r.ID != id {
			d.t.Fatalf("reply %v to request %d, want %d", r.Type, r.ID, id)
		}
		out = append(out, r)
		if r.Type != recovery.ReplyRecords && r.Type != recovery.ReplyFrame {
			return out
		}
	}
}

// snapshot asks for a snapshot and returns its books, its application
// records and its end.
func (d *dealer) snapshot(stream uint32, prefixes ...string) (map[string]fanout.Book, map[string]recovery.Record, recovery.Reply) {
	d.t.Helper()
	req := recovery.Request{Op: recovery.OpSnapshot, Stream: stream}
	for _, p := range prefixes {
		req.Prefixes = append(req.Prefixes, []byte(p))
	}
	replies := d.until(d.ask(req))
	books, apps := map[string]fanout.Book{}, map[string]recovery.Record{}
	var rec recovery.Record
	for _, r := range replies[:len(replies)-1] {
		if r.Type != recovery.ReplyRecords {
			d.t.Fatalf("snapshot reply %v", r.Type)
		}
		for b := r.Body; len(b) > 0; {
			b = recovery.NextRecord(b, &rec)
			switch {
			case rec.Kind == bus.KindBookState:
				book, err := fanout.ParseBookState(rec.Symbol, rec.Body)
				if err != nil {
					d.t.Fatal(err)
				}
				if rec.Seq != book.LastSeq {
					d.t.Errorf("%s: record seq %d, book's last seq %d", rec.Symbol, rec.Seq, book.LastSeq)
				}
				books[book.Symbol] = book
			default:
				apps[appKey(rec.Symbol, rec.Kind)] = recovery.Record{Kind: rec.Kind, Symbol: bytes.Clone(rec.Symbol), Seq: rec.Seq, Body: bytes.Clone(rec.Body)}
			}
		}
	}
	return books, apps, replies[len(replies)-1]
}

func appKey(symbol []byte, kind bus.Kind) string { return fmt.Sprintf("%s/%d", symbol, kind) }

// frames decodes the frames among replies into (seq, message) pairs,
// copying each message.
func decodeFrames(t testing.TB, replies []recovery.Reply) ([]uint64, []bus.Message, []bus.Header) {
	t.Helper()
	var seqs []uint64
	var msgs []bus.Message
	var headers []bus.Header
	var f bus.Frame
	var m bus.Message
	for _, r := range replies {
		if r.Type != recovery.ReplyFrame {
			continue
		}
		if err := bus.Decode(r.Body, &f); err != nil {
			t.Fatalf("retransmitted frame does not decode: %v", err)
		}
		headers = append(headers, f.Header)
		for seq, ok := f.Next(&m); ok; seq, ok = f.Next(&m) {
			c := m
			c.Symbol, c.Body, c.Len = bytes.Clone(m.Symbol), bytes.Clone(m.Body), 0
			seqs = append(seqs, seq)
			msgs = append(msgs, c)
		}
	}
	return seqs, msgs, headers
}

// sameMessage compares two messages field by field, padding aside.
func sameMessage(a, b bus.Message) bool {
	a.Len, b.Len = 0, 0
	return a.Kind == b.Kind && bytes.Equal(a.Symbol, b.Symbol) && bytes.Equal(a.Body, b.Body) &&
		a.BidPrice == b.BidPrice && a.AskPrice == b.AskPrice && a.BidSize == b.BidSize && a.AskSize == b.AskSize &&
		a.Price == b.Price && a.Size == b.Size && a.Side == b.Side
}
