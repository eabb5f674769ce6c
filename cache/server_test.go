package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

const testStream = 7

// The snapshot, whole and by prefix, equals the books of a subscriber
// that had the feed from its start, field by field; the application
// kinds' records are the last message of each; SnapshotEnd names the
// last number published.
func TestSnapshotEqualsBooks(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)})
	c := dial(t, r.listen, 1000)
	// Before the feed has data: not ready.
	c.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
	if rep := c.reply(); rep.Type != recovery.ReplyError || rep.Code != recovery.CodeNotReady {
		t.Fatalf("snapshot before any message: %v %v %q, want not ready", rep.Type, rep.Code, rep.Text)
	}

	r.publish(feedMessages(5000, 400, 7, 0)...)
	want := map[string]fanout.Book{}
	for _, b := range r.ref.Snapshot() {
		b.Worker = 0
		want[b.Symbol] = b
	}
	wantApps := map[string]recovery.Record{}
	for i, m := range r.published {
		if m.Kind.IsApp() {
			wantApps[appKey(m.Symbol, m.Kind)] = recovery.Record{Kind: m.Kind, Symbol: m.Symbol, Seq: uint64(i + 1), Body: m.Body}
		}
	}

	sent := uint64(0)
	for _, prefixes := range [][]string{nil, {"AA", "CB0"}, {"Z"}} {
		books, apps, end := c.snapshot(testStream, prefixes...)
		sent += uint64(end.Records)
		match := func(sym string) bool {
			return len(prefixes) == 0 || strings.HasPrefix(sym, prefixes[0]) || len(prefixes) > 1 && strings.HasPrefix(sym, prefixes[1])
		}
		n := 0
		for sym, w := range want {
			if !match(sym) {
				continue
			}
			n++
			if got, ok := books[sym]; !ok {
				t.Errorf("prefixes %q: no book for %s", prefixes, sym)
			} else if got != w {
				t.Errorf("prefixes %q: %s:\n got %+v\nwant %+v", prefixes, sym, got, w)
			}
		}
		if len(books) != n {
			t.Errorf("prefixes %q: %d books, want %d", prefixes, len(books), n)
		}
		na := 0
		for k, w := range wantApps {
			if !match(string(w.Symbol)) {
				continue
			}
			na++
			got, ok := apps[k]
			if !ok || got.Seq != w.Seq || !bytes.Equal(got.Body, w.Body) {
				t.Errorf("prefixes %q: app record %s = %+v, want %+v", prefixes, k, got, w)
			}
		}
		if len(apps) != na {
			t.Errorf("prefixes %q: %d app records, want %d", prefixes, len(apps), na)
		}
		if end.Type != recovery.ReplySnapshotEnd || end.Seq != uint64(len(r.published)) || end.Session != r.pub.Session() ||
			end.Stream != testStream || int(end.Records) != n+na {
			t.Errorf("prefixes %q: end %+v, want seq %d session %016x stream %d records %d", prefixes, end, len(r.published), r.pub.Session(), testStream, n+na)
		}
	}
	if len(want) != 400 {
		t.Errorf("reference has %d books, want 400", len(want))
	}

	// Another stream is not this server's.
	c.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream + 1})
	if rep := c.reply(); rep.Type != recovery.ReplyError || rep.Code != recovery.CodeUnknownStream {
		t.Errorf("snapshot of another stream: %v %v %q, want unknown stream", rep.Type, rep.Code, rep.Text)
	}
	// The server counts a reply after sending it.
	waitFor(t, "the stats to count every reply", func() bool { return r.srv.Stats().ErrorsReplied == 2 })
	st := r.srv.Stats()
	if !st.Ready || !st.Complete || st.Symbols != 400 || st.LastSeq != 5000 || st.Snapshots != 5 || st.RecordsSent != sent {
		t.Errorf("stats %+v", st)
	}
}

// A retransmitted range decodes to exactly the published messages, with
// their numbers, in frames of the feed's session and stream; over the
// limit the reply ends Limited with Next; past the history it ends
// Partial; an unknown session is refused.
func TestRetransmit(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)}, WithMaxRetransmit(1500))
	r.publish(feedMessages(4000, 300, 5, 0)...)
	c := dial(t, r.listen, 1000)
	session := r.pub.Session()

	check := func(first, last uint64, replies []recovery.Reply) {
		t.Helper()
		seqs, msgs, headers := decodeFrames(t, replies)
		if uint64(len(seqs)) != last-first+1 {
			t.Fatalf("%d-%d: %d messages, want %d", first, last, len(seqs), last-first+1)
		}
		for i, seq := range seqs {
			if seq != first+uint64(i) || !sameMessage(msgs[i], r.published[seq-1]) {
				t.Fatalf("message %d: seq %d %+v, want seq %d %+v", i, seq, msgs[i], first+uint64(i), r.published[first+uint64(i)-1])
			}
		}
		for _, h := range headers {
			if h.Session != session || h.Stream != testStream || h.Authenticated() || time.Since(time.Unix(0, h.SendTime)) > time.Minute {
				t.Errorf("frame header %+v", h)
			}
		}
	}
	rep := c.until(c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: session, First: 10, Last: 1200}))
	check(10, 1200, rep)
	if end := rep[len(rep)-1]; end.Type != recovery.ReplyRetransmitEnd || end.Status != recovery.Complete || end.Next != 1201 || end.Held != [2]uint64{1, 4000} {
		t.Errorf("end %+v", end)
	}
	for _, f := range rep[:len(rep)-1] {
		if len(f.Body) > frameBudget+100 {
			t.Errorf("frame of %d bytes", len(f.Body))
		}
	}

	rep = c.until(c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: session, First: 1, Last: 1 << 62}))
	check(1, 1500, rep)
	if end := rep[len(rep)-1]; end.Status != recovery.Limited || end.Next != 1501 {
		t.Errorf("over the limit: end %+v, want limited, next 1501", end)
	}
	rep = c.until(c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: session, First: 3900, Last: 4100}))
	check(3900, 4000, rep)
	if end := rep[len(rep)-1]; end.Status != recovery.Partial || end.Next != 4001 {
		t.Errorf("past the newest: end %+v, want partial, next 4001", end)
	}

	c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: ^session, First: 1, Last: 10})
	if rep := c.reply(); rep.Type != recovery.ReplyError || rep.Code != recovery.CodeUnknownSession {
		t.Errorf("unknown session: %v %v %q", rep.Type, rep.Code, rep.Text)
	}
	waitFor(t, "the stats to count every reply", func() bool { return r.srv.Stats().ErrorsReplied == 1 })
	st := r.srv.Stats()
	if st.Retransmits != 4 || st.MessagesSent != 1191+1500+101 || st.HistoryCount != 4000 || st.HistoryFirst != 1 || st.HistoryLast != 4000 {
		t.Errorf("stats %+v", st)
	}
}

// With a small history the oldest messages are evicted, and a request
// for them ends Partial, with what is held.
func TestRetransmitEvicted(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)}, WithHistoryCount(100))
	r.publish(feedMessages(300, 20, 0, 0)...)
	c := dial(t, r.listen, 1000)
	rep := c.until(c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: r.pub.Session(), First: 150, Last: 300}))
	seqs, _, _ := decodeFrames(t, rep)
	if len(seqs) != 100 || seqs[0] != 201 || seqs[99] != 300 {
		t.Errorf("got %d messages from %v, want 201-300", len(seqs), seqs[:min(1, len(seqs))])
	}
	if end := rep[len(rep)-1]; end.Status != recovery.Partial || end.Next != 301 || end.Held != [2]uint64{201, 300} {
		t.Errorf("end %+v, want partial, next 301, held 201-300", end)
	}
	if st := r.srv.Stats(); st.HistoryCount != 100 || st.HistoryEvicted != 200 {
		t.Errorf("history %d held, %d evicted; want 100, 200", st.HistoryCount, st.HistoryEvicted)
	}
}

// With a group key the cache verifies the feed and signs what it
// retransmits, and a verifier with the key accepts the frames.
func TestRetransmitSigned(t *testing.T) {
	keys, err := auth.NewKeys(0, auth.Key{ID: 3, Secret: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream), feedbus.WithSigning(keys)},
		WithSubscriberOptions(feedbus.WithVerifying(keys, auth.DefaultWindow)), WithSigning(keys))
	r.publish(feedMessages(500, 50, 3, 0)...)
	c := dial(t, r.listen, 1000)
	rep := c.until(c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: r.pub.Session(), First: 1, Last: 500}))
	v := auth.NewVerifier(keys)
	frames := 0
	for _, f := range rep {
		if f.Type != recovery.ReplyFrame {
			continue
		}
		frames++
		if err := v.Verify(f.Body, time.Now().UnixNano()); err != nil {
			t.Fatalf("frame %d: %v", frames, err)
		}
	}
	seqs, _, _ := decodeFrames(t, rep)
	if frames == 0 || len(seqs) != 500 {
		t.Errorf("%d frames, %d messages; want 500 messages", frames, len(seqs))
	}
}

// Garbage of every kind is answered CodeBadRequest and counted, and the
// server still serves a good request afterwards.
func TestGarbageRequests(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)})
	r.publish(feedMessages(200, 20, 0, 0)...)
	c := dial(t, r.listen, 1000)
	good := recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpRetransmit, ID: 99, Stream: testStream, Session: 1, First: 1, Last: 2})
	snap := recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpSnapshot, ID: 98, Stream: testStream, Prefixes: [][]byte{[]byte("A")}})
	var garbage [][]byte
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		b := make([]byte, rng.IntN(recovery.MaxRequestLen))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		garbage = append(garbage, b)
	}
	wrongMagic := bytes.Clone(good)
	copy(wrongMagic, "FBRS")
	badVersion := bytes.Clone(good)
	badVersion[4] = 9
	reserved := bytes.Clone(good)
	reserved[7] = 1
	hugeCount := bytes.Clone(snap[:recovery.HeaderLen+4])
	hugeCount = binary.LittleEndian.AppendUint16(hugeCount, 0xffff)
	zeroPrefix := append(bytes.Clone(snap[:recovery.HeaderLen+4]), 1, 0, 0)
	longPrefix := append(binary.LittleEndian.AppendUint16(bytes.Clone(snap[:recovery.HeaderLen+4]), 1), 40)
	longPrefix = append(longPrefix, bytes.Repeat([]byte("A"), 40)...)
	backwards := recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: 1, First: 9, Last: 3})
	zeroFirst := recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: 1, First: 0, Last: 3})
	unknownOp := bytes.Clone(good)
	unknownOp[5] = 77
	garbage = append(garbage, nil, []byte("FBRQ"), wrongMagic, badVersion, reserved, good[:len(good)-1], snap[:len(snap)-2],
		append(bytes.Clone(good), 0), hugeCount, zeroPrefix, longPrefix, backwards, zeroFirst, unknownOp)
	for i, g := range garbage {
		dropped := r.srv.Stats().RepliesDropped
		c.send(g)
		rep, err := c.tryReply()
		if err != nil {
			// An error reply never waits: when the client's queue looks
			// full to the ROUTER (its view of what the client read can lag
			// on a loaded machine) it is dropped, and counted.
			if st := r.srv.Stats(); st.RepliesDropped == dropped {
				t.Fatalf("garbage %d: %v, and no dropped reply counted: %+v", i, err, st)
			}
			continue
		}
		if rep.Type != recovery.ReplyError || rep.Code != recovery.CodeBadRequest || !strings.Contains(rep.Text, "bad request") {
			t.Errorf("garbage %d (% x): %v %v %q, want bad request", i, g[:min(len(g), 24)], rep.Type, rep.Code, rep.Text)
		}
	}
	// A multi-frame message is refused too.
	if _, err := c.sock.SendMessage(good, good); err != nil {
		t.Fatal(err)
	}
	if rep := c.reply(); rep.Code != recovery.CodeBadRequest {
		t.Errorf("two frames: %v %v %q", rep.Type, rep.Code, rep.Text)
	}
	_, _, end := c.snapshot(testStream)
	if end.Type != recovery.ReplySnapshotEnd || end.Seq != 200 {
		t.Errorf("after the garbage: %+v", end)
	}
	waitFor(t, "the stats to count every bad request", func() bool {
		st := r.srv.Stats()
		return st.BadRequests == uint64(len(garbage)+1) && st.ErrorsReplied == uint64(len(garbage)+1)
	})
}

// A client that asks for big snapshots again and again and never reads
// does not hold up another client: that one is served at once while the
// slow one is parked; the slow one's requests are dropped after the
// client timeout, again and again, and the bytes held for it stay within
// its share of requests throughout.
func TestSlowClient(t *testing.T) {
	const symbols = 30000
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)},
		WithClientTimeout(time.Second), WithSendHWM(2), WithMaxSymbols(symbols))
	r.publish(feedMessages(symbols, symbols, 0, 0)...)
	// Each snapshot holds every book's record: the slow client's share
	// of requests holds at most that many of them.
	perSnapshot := int64(symbols * (12 + bus.MaxSymbolLen + fanout.BookStateLen))
	bound := perClientRequests * perSnapshot
	slow := dial(t, r.listen, 1)
	polls := 0
	slowAsks := func() bool {
		if polls++; polls%10 == 1 {
			slow.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
		}
		if st := r.srv.Stats(); st.ParkedBytes > bound {
			t.Fatalf("%d bytes held for replies, over %d", st.ParkedBytes, bound)
		}
		return false
	}
	for range 10 {
		slow.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
	}
	held := int64(0)
	waitFor(t, "the slow client to be parked", func() bool {
		st := r.srv.Stats()
		held = max(held, st.ParkedBytes)
		return st.Parked == 1 && st.Busy >= 10-perClientRequests
	})
	if held == 0 || held > bound {
		t.Errorf("held %d bytes for the slow client, want 1 to %d", held, bound)
	}
	// While it is parked, another client gets a whole snapshot and a
	// retransmission.
	fast := dial(t, r.listen, 1000)
	start := time.Now()
	books, _, end := fast.snapshot(testStream)
	rep := fast.until(fast.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: testStream, Session: r.pub.Session(), First: 1, Last: 5000}))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the fast client took %v while the slow one was parked", took)
	}
	if len(books) != symbols || end.Seq != symbols || rep[len(rep)-1].Status != recovery.Complete {
		t.Errorf("fast client: %d books, end %+v, retransmit %+v", len(books), end, rep[len(rep)-1])
	}
	// The slow client keeps asking; its requests are dropped every
	// client timeout, and it never holds more than its share.
	waitFor(t, "the slow client's requests to be dropped twice over", func() bool {
		slowAsks()
		return r.srv.Stats().SlowDrops >= 2*perClientRequests
	})
	waitFor(t, "the last of them to be dropped", func() bool {
		st := r.srv.Stats()
		return st.InProgress == 0 && st.ParkedBytes == 0 && st.Parked == 0 && st.Clients == 0
	})
	if st := r.srv.Stats(); st.RepliesDropped == 0 || st.Internal != 0 {
		t.Errorf("replies dropped %d (the slow client's busy replies), internal %d", st.RepliesDropped, st.Internal)
	}
}

// Requests beyond --max-requests are answered busy.
func TestBusy(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)}, WithMaxRequests(2), WithSendHWM(1), WithMaxSymbols(20000))
	r.publish(feedMessages(20000, 20000, 0, 0)...)
	a, b := dial(t, r.listen, 1), dial(t, r.listen, 1)
	a.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
	b.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
	waitFor(t, "two requests in progress", func() bool { return r.srv.Stats().InProgress == 2 })
	c := dial(t, r.listen, 1000)
	c.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
	if rep := c.reply(); rep.Code != recovery.CodeBusy {
		t.Errorf("third request: %v %v %q, want busy", rep.Type, rep.Code, rep.Text)
	}
}

// A cache that joins a session after its start refuses snapshots (its
// books lack the start) but serves retransmission; with
// WithPartialSnapshots it serves both.
func TestJoinedLate(t *testing.T) {
	for _, partial := range []bool{false, true} {
		dir := t.TempDir()
		lines := []string{"ipc://" + dir + "/feed"}
		pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0), feedbus.WithHeartbeat(5*time.Millisecond), feedbus.WithStream(testStream))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range feedMessages(10, 5, 0, 0) {
			pub.Publish(&m)
		}
		pub.Flush()
		logged := make(chan string, 16)
		srv, err := New(lines, WithListen("ipc://"+dir+"/cache"), WithPartialSnapshots(partial),
			WithLogf(func(f string, args ...any) { logged <- f }))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the cache to hear the session", func() bool { return srv.Stats().Stream == testStream && srv.Stats().Heard || pubAgain(pub) })
		c := dial(t, "ipc://"+dir+"/cache", 1000)
		c.ask(recovery.Request{Op: recovery.OpSnapshot, Stream: testStream})
		rep := c.reply()
		if partial {
			if rep.Type != recovery.ReplyRecords && rep.Type != recovery.ReplySnapshotEnd {
				t.Errorf("partial: %v %v %q", rep.Type, rep.Code, rep.Text)
			}
		} else if rep.Code != recovery.CodeNotReady || !strings.Contains(rep.Text, "after its start") {
			t.Errorf("joined late: %v %v %q, want not ready", rep.Type, rep.Code, rep.Text)
		}
		st := srv.Stats()
		if st.Complete || st.Ready != partial || st.JoinedAt <= 1 {
			t.Errorf("partial %v: stats %+v", partial, st)
		}
		select {
		case <-logged:
		default:
			t.Errorf("partial %v: nothing logged", partial)
		}
		srv.Close()
		pub.Close()
	}
}

// pubAgain publishes one more message, so that a cache that joined after
// the first ones hears the feed; it reports false so waitFor goes on.
func pubAgain(pub *feedbus.Publisher) bool {
	pub.Publish(&bus.Message{Kind: bus.KindQuote, Symbol: []byte("LATE"), BidPrice: 1, AskPrice: 2})
	pub.Flush()
	return false
}

// Close is idempotent, and New refuses what it cannot do in one line.
func TestNewAndClose(t *testing.T) {
	dir := t.TempDir()
	lines := []string{"ipc://" + dir + "/feed"}
	if _, err := New(lines); !errors.Is(err, ErrOption) {
		t.Errorf("no listen: %v", err)
	}
	if _, err := New(lines, WithListen("udp://1.2.3.4:5")); !errors.Is(err, ErrOption) {
		t.Errorf("udp listen: %v", err)
	}
	srv, err := New(lines, WithListen("tcp://127.0.0.1:*"))
	if err != nil {
		t.Fatal(err)
	}
	ep := srv.Endpoints()
	if len(ep) != 1 || strings.HasSuffix(ep[0], ":*") {
		t.Errorf("endpoints %q", ep)
	}
	if _, err := New(lines, WithListen(ep[0])); !errors.Is(err, ErrListen) || strings.Contains(err.Error(), "\n") {
		t.Errorf("address in use: %v", err)
	}
	c := dial(t, ep[0], 10)
	c.ask(recovery.Request{Op: recovery.OpRetransmit, Stream: 1, Session: 1, First: 1, Last: 1})
	if rep := c.reply(); rep.Code != recovery.CodeNotReady {
		t.Errorf("nothing heard: %v %v %q", rep.Type, rep.Code, rep.Text)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done open after Close")
	}

	// An ipc:// listener's socket file goes with the server.
	sock := filepath.Join(dir, "cache")
	srv, err = New(lines, WithListen("ipc://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the listener's socket file: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close the listener's socket file is still there (%v)", err)
	}
}

// A cache that starts while the feed runs takes its state from another
// cache's snapshot (its subscriber's WithRecovery, feedcache --peer): it
// is then complete, and its own snapshots equal the books of a
// subscriber that had the feed from its start. The Clone pattern's way
// back for a restarted server, with nothing to hand over.
func TestPeerRecovery(t *testing.T) {
	r := newRig(t, []feedbus.PublisherOption{feedbus.WithStream(testStream)})
	r.publish(feedMessages(2000, 300, 7, 0)...)
	peer, err := New(r.lines, WithListen("ipc://"+filepath.Join(t.TempDir(), "peer")),
		WithSubscriberOptions(feedbus.WithRecovery(r.listen)))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// The feed goes on; the new cache joins it mid-stream.
	for i := 0; peer.Stats().Received == 0; i++ {
		if i == 1000 {
			t.Fatal("the new cache never heard the feed")
		}
		r.publish(feedMessages(10, 300, 7, 2000+10*i)...)
	}
	r.publish(feedMessages(500, 300, 7, 5000)...)
	waitFor(t, "the new cache to catch up", func() bool { return peer.Stats().LastSeq == uint64(len(r.published)) })
	st := peer.Stats()
	if !st.Complete || !st.Ready || st.SnapshotRecords == 0 || st.JoinedAt <= 2000 {
		t.Fatalf("new cache: %+v", st)
	}
	want := map[string]fanout.Book{}
	for _, b := range r.ref.Snapshot() {
		b.Worker = 0
		want[b.Symbol] = b
	}
	c := dial(t, peer.Endpoints()[0], 1000)
	books, apps, end := c.snapshot(testStream)
	_, wantApps, _ := dial(t, r.listen, 1000).snapshot(testStream)
	if len(apps) != len(wantApps) || len(apps) == 0 {
		t.Errorf("%d application records, the first cache has %d", len(apps), len(wantApps))
	}
	for k, w := range wantApps {
		if got := apps[k]; got.Seq != w.Seq || !bytes.Equal(got.Body, w.Body) {
			t.Errorf("%s: %+v, want %+v", k, got, w)
		}
	}
	if end.Seq != uint64(len(r.published)) || len(books) != len(want) {
		t.Fatalf("snapshot of %d books at %d, want %d at %d", len(books), end.Seq, len(want), len(r.published))
	}
	for sym, w := range want {
		if got := books[sym]; got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", sym, got, w)
		}
	}
}
