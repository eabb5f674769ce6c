package cache

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

// fakeSender takes replies like a ROUTER would, or refuses them for the
// identities told to.
type fakeSender struct {
	sent    map[string][][]byte
	refuse  map[string]error
	refused int
}

func newFakeSender() *fakeSender {
	return &fakeSender{sent: map[string][][]byte{}, refuse: map[string]error{}}
}

func (s *fakeSender) send(identity, msg []byte) error {
	if err := s.refuse[string(identity)]; err != nil {
		s.refused++
		return err
	}
	s.sent[string(identity)] = append(s.sent[string(identity)], bytes.Clone(msg))
	return nil
}

const routerStream, routerSession = 3, 0xfeed

// testRouter returns a router over a feed that has applied n messages of
// the test feed (feedMessages) of one session, with a fake sender.
func testRouter(t testing.TB, n, symbols int, opts ...Option) (*router, *fakeSender) {
	t.Helper()
	cfg := defaultConfig()
	for _, o := range append([]Option{WithListen("inproc://x"), WithStream(routerStream)}, opts...) {
		if err := o(&cfg); err != nil {
			t.Fatal(err)
		}
	}
	f := newFeed(&cfg)
	var m fanout.Message
	for i, bm := range feedMessages(n, symbols, 5, 0) {
		m = fanout.Message{Message: bm, Session: routerSession, Seq: uint64(i + 1)}
		f.Handle(&m)
	}
	r, err := newRouter(&cfg, f, &counters{})
	if err != nil {
		t.Fatal(err)
	}
	out := newFakeSender()
	r.out = out
	return r, out
}

func reqFrames(id string, req recovery.Request) [][]byte {
	return [][]byte{[]byte(id), recovery.AppendRequest(nil, &req)}
}

// drain pumps r until nothing is in progress or rounds run out.
func drain(r *router, now time.Time, rounds int) {
	for range rounds {
		r.pump(now)
		if r.inProgress == 0 {
			return
		}
	}
}

// parseAll parses replies, failing on any that does not parse.
func parseAll(t testing.TB, msgs [][]byte) []recovery.Reply {
	t.Helper()
	out := make([]recovery.Reply, len(msgs))
	for i, b := range msgs {
		if err := recovery.ParseReply(b, &out[i]); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	return out
}

// A parked client is skipped while others are served; past the timeout
// its requests are dropped, counted, and their bytes freed.
func TestRouterParksAndDrops(t *testing.T) {
	r, out := testRouter(t, 20000, 5000, WithClientTimeout(time.Second))
	now := time.Now()
	out.refuse["slow"] = errAgain
	r.request(reqFrames("slow", recovery.Request{Op: recovery.OpSnapshot, ID: 1, Stream: routerStream}), now)
	r.request(reqFrames("slow", recovery.Request{Op: recovery.OpRetransmit, ID: 2, Stream: routerStream, Session: routerSession, First: 1, Last: 100}), now)
	r.pump(now)
	if r.c.parked.Load() != 1 || r.c.parkedBytes.Load() == 0 {
		t.Fatalf("parked %d, bytes %d", r.c.parked.Load(), r.c.parkedBytes.Load())
	}
	r.request(reqFrames("fast", recovery.Request{Op: recovery.OpSnapshot, ID: 3, Stream: routerStream, Prefixes: [][]byte{[]byte("A")}}), now)
	drain(r, now.Add(500*time.Millisecond), 100)
	reps := parseAll(t, out.sent["fast"])
	if len(reps) == 0 || reps[len(reps)-1].Type != recovery.ReplySnapshotEnd {
		t.Fatalf("fast client: %d replies", len(reps))
	}
	if r.inProgress != 2 || r.c.slowDrops.Load() != 0 {
		t.Fatalf("in progress %d, slow drops %d", r.inProgress, r.c.slowDrops.Load())
	}
	r.pump(now.Add(1001 * time.Millisecond))
	if r.inProgress != 0 || r.c.slowDrops.Load() != 2 || r.c.parkedBytes.Load() != 0 || r.c.clients.Load() != 0 {
		t.Errorf("after the timeout: in progress %d, slow drops %d, bytes %d, clients %d",
			r.inProgress, r.c.slowDrops.Load(), r.c.parkedBytes.Load(), r.c.clients.Load())
	}
}

// A client that reads again before the timeout is resumed where it was.
func TestRouterResumes(t *testing.T) {
	r, out := testRouter(t, 5000, 5000, WithClientTimeout(time.Second))
	now := time.Now()
	r.request(reqFrames("c", recovery.Request{Op: recovery.OpSnapshot, ID: 1, Stream: routerStream}), now)
	r.serve(r.clients["c"], now) // one burst
	out.refuse["c"] = errAgain
	r.pump(now)
	delete(out.refuse, "c")
	drain(r, now.Add(900*time.Millisecond), 100)
	reps := parseAll(t, out.sent["c"])
	records := uint32(0)
	for _, rep := range reps[:len(reps)-1] {
		records += rep.Records
	}
	end := reps[len(reps)-1]
	if end.Type != recovery.ReplySnapshotEnd || records != end.Records || r.c.slowDrops.Load() != 0 {
		t.Errorf("%d records of %d, end %v, slow drops %d", records, end.Records, end.Type, r.c.slowDrops.Load())
	}
}

// A client that is gone has its requests dropped and counted.
func TestRouterUnreachable(t *testing.T) {
	r, out := testRouter(t, 1000, 100)
	out.refuse["gone"] = errGone
	now := time.Now()
	r.request(reqFrames("gone", recovery.Request{Op: recovery.OpRetransmit, ID: 1, Stream: routerStream, Session: routerSession, First: 1, Last: 1000}), now)
	r.pump(now)
	if r.inProgress != 0 || r.c.unreachable.Load() != 1 {
		t.Errorf("in progress %d, unreachable %d", r.inProgress, r.c.unreachable.Load())
	}
	// An error reply to a gone client is dropped, and counted as such.
	r.request(reqFrames("gone", recovery.Request{Op: recovery.OpRetransmit, ID: 2, Stream: 99, Session: 1, First: 1, Last: 1}), now)
	if r.c.repliesLost.Load() != 1 || r.c.errorsReplied.Load() != 0 {
		t.Errorf("replies lost %d, errors replied %d", r.c.repliesLost.Load(), r.c.errorsReplied.Load())
	}
}

// One client cannot take every slot: past its share it is busy, and
// another client is still served.
func TestRouterPerClientShare(t *testing.T) {
	r, out := testRouter(t, 100, 10)
	out.refuse["greedy"] = errAgain
	now := time.Now()
	for i := range perClientRequests + 3 {
		r.request(reqFrames("greedy", recovery.Request{Op: recovery.OpSnapshot, ID: uint64(i), Stream: routerStream}), now)
	}
	if r.inProgress != perClientRequests || r.c.busy.Load() != 3 {
		t.Errorf("in progress %d, busy %d", r.inProgress, r.c.busy.Load())
	}
	r.request(reqFrames("other", recovery.Request{Op: recovery.OpSnapshot, ID: 9, Stream: routerStream}), now)
	drain(r, now, 10)
	if reps := parseAll(t, out.sent["other"]); reps[len(reps)-1].Type != recovery.ReplySnapshotEnd {
		t.Errorf("other client: %+v", reps[len(reps)-1])
	}
}

// Retransmitted frames split at the cache's own holes, and late fills
// are served in sequence order.
func TestRouterRetransmitHoles(t *testing.T) {
	cfg := defaultConfig()
	cfg.streamSet, cfg.stream = true, routerStream
	f := newFeed(&cfg)
	for _, seq := range []uint64{1, 2, 3, 6, 7, 4, 9, 10} { // 5 and 8 never came; 4 came late
		f.Handle(&fanout.Message{Message: bus.Message{Kind: bus.KindQuote, Symbol: []byte("X"), BidPrice: int64(seq)}, Session: routerSession, Seq: seq})
	}
	r, _ := newRouter(&cfg, f, &counters{})
	out := newFakeSender()
	r.out = out
	now := time.Now()
	r.request(reqFrames("c", recovery.Request{Op: recovery.OpRetransmit, ID: 1, Stream: routerStream, Session: routerSession, First: 1, Last: 10}), now)
	drain(r, now, 10)
	reps := parseAll(t, out.sent["c"])
	seqs, msgs, headers := decodeFrames(t, reps)
	if fmt.Sprint(seqs) != "[1 2 3 4 6 7 9 10]" || len(headers) != 3 {
		t.Errorf("seqs %v in %d frames, want [1 2 3 4 6 7 9 10] in 3", seqs, len(headers))
	}
	for i, m := range msgs {
		if uint64(m.BidPrice) != seqs[i] {
			t.Errorf("seq %d holds %d", seqs[i], m.BidPrice)
		}
	}
	if end := reps[len(reps)-1]; end.Status != recovery.Partial || end.Next != 11 || end.Held != [2]uint64{1, 10} {
		t.Errorf("end %+v", end)
	}
	if st := f.lateFills; st != 1 || f.missed != 3 {
		t.Errorf("late fills %d, missed %d; want 1, 3", f.lateFills, f.missed)
	}
}

// FuzzRequest feeds the request path anything, seeded with real
// requests: it must never panic, every reply must parse, and each request
// must end in exactly one final reply carrying its id (or a bad request).
func FuzzRequest(f *testing.F) {
	seeds := []recovery.Request{
		{Op: recovery.OpSnapshot, ID: 1, Stream: routerStream},
		{Op: recovery.OpSnapshot, ID: 2, Stream: routerStream, Prefixes: [][]byte{[]byte("A"), []byte("BB00")}},
		{Op: recovery.OpSnapshot, ID: 3, Stream: routerStream + 1},
		{Op: recovery.OpRetransmit, ID: 4, Stream: routerStream, Session: routerSession, First: 1, Last: 300},
		{Op: recovery.OpRetransmit, ID: 5, Stream: routerStream, Session: routerSession, First: 250, Last: 1 << 63},
		{Op: recovery.OpRetransmit, ID: 6, Stream: routerStream, Session: 1, First: 1, Last: 1},
	}
	for _, s := range seeds {
		f.Add(recovery.AppendRequest(nil, &s))
	}
	f.Add([]byte("FBRQ\x01\x01\x00\x00"))
	f.Add([]byte{})
	r, out := testRouter(f, 300, 40, WithMaxRetransmit(100))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range out.sent {
			delete(out.sent, k)
		}
		now := time.Now()
		r.request([][]byte{[]byte("fuzz"), data}, now)
		drain(r, now, 1000)
		if r.inProgress != 0 {
			t.Fatalf("%d requests still in progress", r.inProgress)
		}
		reps := parseAll(t, out.sent["fuzz"])
		if len(reps) == 0 {
			t.Fatal("no reply")
		}
		final := 0
		for i, rep := range reps {
			switch rep.Type {
			case recovery.ReplyRecords, recovery.ReplyFrame:
				if i == len(reps)-1 {
					t.Fatalf("last reply is %v", rep.Type)
				}
			default:
				final++
			}
		}
		var req recovery.Request
		err := recovery.ParseRequest(data, &req)
		last := reps[len(reps)-1]
		switch {
		case final != 1:
			t.Fatalf("%d final replies", final)
		case err != nil && (last.Type != recovery.ReplyError || last.Code != recovery.CodeBadRequest):
			t.Fatalf("bad request %v answered %v %v", err, last.Type, last.Code)
		case err == nil && last.ID != req.ID:
			t.Fatalf("reply id %d to request %d", last.ID, req.ID)
		case err == nil && req.Op == recovery.OpRetransmit && last.Type == recovery.ReplyRetransmitEnd:
			seqs, _, _ := decodeFrames(t, reps)
			if len(seqs) > 100 {
				t.Fatalf("%d messages retransmitted, limit 100", len(seqs))
			}
		}
	})
}
