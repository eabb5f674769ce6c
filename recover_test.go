package feedbus_test

import (
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
	zmq "github.com/pebbe/zmq4"
)

// fakeServer is a recovery server for the subscriber's side alone: it
// answers each request with what serve returns (nil: no answer at all, a
// server that is down in all but its socket).
type fakeServer struct {
	endpoint string
	asked    atomic.Int64
}

func newFakeServer(t *testing.T, serve func(req *recovery.Request) [][]byte) *fakeServer {
	t.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := ctx.NewSocket(zmq.ROUTER)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{endpoint: "ipc://" + filepath.Join(t.TempDir(), "recovery")}
	if err := sock.Bind(fs.endpoint); err != nil {
		t.Fatal(err)
	}
	sock.SetLinger(0)
	sock.SetRcvtimeo(10 * time.Millisecond)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // the socket's one goroutine
		defer close(done)
		defer ctx.Term()
		defer sock.Close()
		var req recovery.Request
		for {
			select {
			case <-stop:
				return
			default:
			}
			parts, err := sock.RecvMessageBytes(0)
			if err != nil || len(parts) != 2 {
				continue
			}
			fs.asked.Add(1)
			if recovery.ParseRequest(parts[1], &req) != nil {
				continue
			}
			for _, reply := range serve(&req) {
				sock.SendMessage(parts[0], reply)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return fs
}

// trades answers a retransmission of session 7 stream 1 with the trades a
// rawLine sends (price = sequence number), holding messages 1..held.
func trades(held uint64) func(req *recovery.Request) [][]byte {
	return func(req *recovery.Request) [][]byte {
		if req.Op != recovery.OpRetransmit || req.Session != 7 || req.First > held {
			return [][]byte{recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyError, ID: req.ID, Code: recovery.CodeUnknownSession})}
		}
		last := min(req.Last, held)
		var w bus.FrameWriter
		w.Begin(&bus.Header{Session: 7, Stream: 1, FirstSeq: req.First})
		for seq := req.First; seq <= last; seq++ {
			w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(seq), Size: 1})
		}
		status := recovery.Complete
		if last < req.Last {
			status = recovery.Partial
		}
		return [][]byte{
			recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyFrame, ID: req.ID, Body: w.Finish(time.Now().UnixNano())}),
			recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyRetransmitEnd, ID: req.ID, Status: status, Next: last + 1, Held: [2]uint64{1, held}}),
		}
	}
}

// inOrder is a handler that records the sequence numbers it is given.
type inOrder struct {
	mu   sync.Mutex
	seqs []uint64
	snap []feedbus.Message
	n    atomic.Int64
}

func (h *inOrder) Handle(m *feedbus.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.Snapshot {
		c := *m
		c.Symbol = append([]byte(nil), m.Symbol...)
		c.Body = append([]byte(nil), m.Body...)
		h.snap = append(h.snap, c)
	} else {
		h.seqs = append(h.seqs, m.Seq)
	}
	h.n.Add(1)
}

func (h *inOrder) waitFor(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages of %d handled", h.n.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// subscribeRecovering subscribes one worker (one order to check) to a
// raw line with the given recovery servers, and returns once it has heard
// session 7 from its start.
func subscribeRecovering(t *testing.T, h *inOrder, servers []string, opts ...feedbus.SubscriberOption) *rawSub {
	t.Helper()
	return subscribeRawTo(t, ipcLines(t, 1), h, append([]feedbus.SubscriberOption{feedbus.WithWorkers(1),
		feedbus.WithRecovery(servers...), feedbus.WithRecoveryTimeout(100*time.Millisecond, 4)}, opts...)...)
}

// A hole on the only line is filled from the recovery server, and the
// messages after it wait for the fill: the handler sees every message
// once, in order.
func TestRecoveryFillsHole(t *testing.T) {
	h := &inOrder{}
	srv := newFakeServer(t, trades(100))
	rs := subscribeRecovering(t, h, []string{srv.endpoint})
	a := rs.lines[0]
	a.send(1, 5)
	a.send(11, 5) // 6-10 lost on the only line
	a.send(16, 5)
	h.waitFor(t, 20)
	rs.Close()
	s := rs.Summary()
	if want := seqRange(1, 20); !slices.Equal(h.seqs, want) {
		t.Errorf("handled %v, want %v", h.seqs, want)
	}
	if s.Recovered != 5 || s.Gaps != 0 || s.Received != 20 || s.Recovery.Requests != 1 {
		t.Errorf("recovered %d gaps %d received %d requests %d; want 5, 0, 20, 1", s.Recovered, s.Gaps, s.Received, s.Recovery.Requests)
	}
}

// A server that does not answer is left for the next after the timeout.
func TestRecoveryFailover(t *testing.T) {
	h := &inOrder{}
	dead := newFakeServer(t, func(*recovery.Request) [][]byte { return nil })
	live := newFakeServer(t, trades(100))
	rs := subscribeRecovering(t, h, []string{dead.endpoint, live.endpoint})
	a := rs.lines[0]
	a.send(1, 5)
	a.send(11, 5)
	h.waitFor(t, 15)
	rs.Close()
	s := rs.Summary()
	if want := seqRange(1, 15); !slices.Equal(h.seqs, want) {
		t.Errorf("handled %v, want %v", h.seqs, want)
	}
	if s.Recovered != 5 || s.Gaps != 0 || s.Recovery.Client.Timeouts < 1 || dead.asked.Load() < 1 {
		t.Errorf("recovered %d gaps %d timeouts %d dead asked %d; want 5, 0, >= 1, >= 1",
			s.Recovered, s.Gaps, s.Recovery.Client.Timeouts, dead.asked.Load())
	}
}

// When no server can fill a hole, it is a gap as without recovery, and
// what was held behind it is delivered, in order.
func TestRecoveryGivesUp(t *testing.T) {
	h := &inOrder{}
	srv := newFakeServer(t, trades(5)) // it lost 6-10 too
	rs := subscribeRecovering(t, h, []string{srv.endpoint})
	a := rs.lines[0]
	a.send(1, 5)
	a.send(11, 5)
	h.waitFor(t, 10)
	rs.Close()
	s := rs.Summary()
	if want := append(seqRange(1, 5), seqRange(11, 15)...); !slices.Equal(h.seqs, want) {
		t.Errorf("handled %v, want %v", h.seqs, want)
	}
	if s.Gaps != 5 || s.Recovered != 0 || s.Recovery.Unrecovered != 5 || s.Recovery.Failed != 1 {
		t.Errorf("gaps %d recovered %d unrecovered %d failed %d; want 5, 0, 5, 1", s.Gaps, s.Recovered, s.Recovery.Unrecovered, s.Recovery.Failed)
	}
}

// A subscriber that finds the feed mid-stream takes a snapshot first: the
// records reach the handler before any live message, the books hold the
// snapshot's state, and the live feed resumes just after its seq.
func TestRecoverySnapshotOnJoin(t *testing.T) {
	// The state of symbol X after trades 1..49 (price = seq, size 1), as a
	// Books handler that saw them would hold it.
	want := feedbus.NewBooks()
	for seq := uint64(1); seq <= 49; seq++ {
		want.Handle(&feedbus.Message{Message: bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(seq), Size: 1}, Seq: seq})
	}
	var records []byte
	want.AppendStates(nil, func(symbol, state []byte) {
		records = recovery.AppendRecord(records, &recovery.Record{Kind: bus.KindBookState, Symbol: symbol, Seq: 49, Body: state})
	})
	srv := newFakeServer(t, func(req *recovery.Request) [][]byte {
		if req.Op != recovery.OpSnapshot {
			return trades(100)(req)
		}
		return [][]byte{
			recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyRecords, ID: req.ID, Records: 1, Body: records}),
			recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplySnapshotEnd, ID: req.ID, Session: 7, Stream: 1, Seq: 49, Records: 1}),
		}
	})
	h := &inOrder{}
	books := feedbus.NewBooks()
	lines := ipcLines(t, 1)
	a := newRawLine(t, lines[0])
	sub, err := feedbus.Subscribe(lines, feedbus.Handlers(h, books), feedbus.WithWorkers(1),
		feedbus.WithRecovery(srv.endpoint), feedbus.WithRecoveryTimeout(100*time.Millisecond, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// The subscriber joins while the feed is at 40: frames until it has
	// heard one, then the feed goes on from where the last one ended.
	next := uint64(40)
	for deadline := time.Now().Add(10 * time.Second); h.n.Load() == 0; {
		if time.Now().After(deadline) {
			sub.Close()
			s := sub.Summary()
			t.Fatalf("the subscriber never delivered anything: received %d frames %d, recovery %+v", s.Received, s.Frames, s.Recovery)
		}
		a.send(next, 5)
		next += 5
		time.Sleep(5 * time.Millisecond)
	}
	a.send(next, 5)
	last := next + 4
	h.waitFor(t, int64(1+last-49))
	sub.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.snap) != 1 || h.snap[0].Kind != bus.KindBookState || string(h.snap[0].Symbol) != "X" || h.snap[0].Seq != 49 {
		t.Fatalf("snapshot records %+v, want X's book at seq 49", h.snap)
	}
	if want := seqRange(50, last); !slices.Equal(h.seqs, want) {
		t.Errorf("live messages %v, want %v", h.seqs, want)
	}
	for seq := uint64(50); seq <= last; seq++ {
		want.Handle(&feedbus.Message{Message: bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(seq), Size: 1}, Seq: seq})
	}
	if got, w := books.Snapshot(), want.Snapshot(); !slices.EqualFunc(got, w, func(a, b fanout.Book) bool { a.Worker, b.Worker = 0, 0; return a == b }) {
		t.Errorf("books\n%+v\nwant\n%+v", got, w)
	}
	s := sub.Summary()
	if s.Recovery.SnapshotSeq != 49 || s.Recovery.SnapshotRecords != 1 || s.Gaps != 0 || s.JoinedAfter != 49 {
		t.Errorf("snapshot seq %d records %d gaps %d joined after %d; want 49, 1, 0, 49",
			s.Recovery.SnapshotSeq, s.Recovery.SnapshotRecords, s.Gaps, s.JoinedAfter)
	}
}

// A subscriber that cannot get a snapshot (the servers are not ready)
// joins where it found the feed, as without recovery, and says why.
func TestRecoverySnapshotUnavailable(t *testing.T) {
	srv := newFakeServer(t, func(req *recovery.Request) [][]byte {
		return [][]byte{recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyError, ID: req.ID, Code: recovery.CodeNotReady, Text: "joined mid-session"})}
	})
	h := &inOrder{}
	lines := ipcLines(t, 1)
	a := newRawLine(t, lines[0])
	sub, err := feedbus.Subscribe(lines, h, feedbus.WithWorkers(1), feedbus.WithRecovery(srv.endpoint), feedbus.WithRecoveryTimeout(100*time.Millisecond, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := uint64(40)
	for deadline := time.Now().Add(10 * time.Second); h.n.Load() == 0; first += 5 {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never delivered anything")
		}
		a.send(first, 5)
		time.Sleep(5 * time.Millisecond) // a feed's pace, until the subscriber is in
	}
	a.send(first, 5)
	h.mu.Lock()
	start := h.seqs[0]
	h.mu.Unlock()
	h.waitFor(t, int64(first+5-start))
	sub.Close()
	s := sub.Summary()
	if want := seqRange(start, first+4); !slices.Equal(h.seqs, want) || len(h.snap) != 0 {
		t.Errorf("handled %v and %d snapshot records, want %v and none", h.seqs, len(h.snap), want)
	}
	if s.Recovery.Failed != 1 || s.Recovery.Client.Unavailable != 1 || s.Gaps != 0 || s.JoinedAfter != start-1 {
		t.Errorf("failed %d unavailable %d gaps %d joined after %d; want 1, 1, 0, %d", s.Recovery.Failed, s.Recovery.Client.Unavailable, s.Gaps, s.JoinedAfter, start-1)
	}
}
