package cache

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// histMsg is message seq of a test feed: a quote whose prices name it.
func histMsg(seq uint64, m *bus.Message, sym []byte) {
	sym = fmt.Appendf(sym[:0], "S%03d", seq%251)
	*m = bus.Message{Kind: bus.KindQuote, Symbol: sym, BidPrice: int64(seq), AskPrice: int64(seq) + 1, BidSize: uint32(seq)}
}

// decodeOne decodes an encoded message held by the history.
func decodeOne(t testing.TB, b []byte) bus.Message {
	t.Helper()
	frame := bus.AppendHeader(nil, &bus.Header{Session: 1, Stream: 1, Count: 1, FirstSeq: 1})
	frame = append(frame, b...)
	var f bus.Frame
	if err := bus.Decode(frame, &f); err != nil {
		t.Fatalf("held bytes do not decode: %v", err)
	}
	var m bus.Message
	f.Next(&m)
	return m
}

// check verifies the history's invariants and that every held entry is
// found by its number and holds that message.
func (h *history) check(t testing.TB) {
	t.Helper()
	if n := h.tail - h.head; n > uint64(h.maxCount) || n > uint64(len(h.ents)) {
		t.Fatalf("%d entries, bounds %d and %d", n, h.maxCount, len(h.ents))
	}
	if used := h.w - h.r; used > uint64(len(h.arena)) || used > h.maxBytes {
		t.Fatalf("%d arena bytes used of %d (bound %d)", used, len(h.arena), h.maxBytes)
	}
	live := 0
	perSession := [maxSessions]int{}
	mask := uint64(len(h.ents) - 1)
	for i := h.head; i < h.tail; i++ {
		e := &h.ents[i&mask]
		if e.dead {
			continue
		}
		live++
		perSession[e.sess]++
		s := &h.sessions[e.sess]
		b := h.get(s, e.seq)
		if b == nil {
			t.Fatalf("entry %d (session %d seq %d) not found", i, s.id, e.seq)
		}
		if m := decodeOne(t, b); uint64(m.BidPrice) != e.seq {
			t.Fatalf("seq %d holds the message of %d", e.seq, m.BidPrice)
		}
	}
	if live != h.live {
		t.Fatalf("%d live entries, counted %d", live, h.live)
	}
	for i := range h.sessions {
		s := &h.sessions[i]
		if s.live != perSession[i] {
			t.Fatalf("session %d: live %d, entries %d", i, s.live, perSession[i])
		}
		held := 0
		for _, v := range s.slots {
			if v != 0 {
				held++
			}
		}
		if held != s.live {
			t.Fatalf("session %d: %d slots set, live %d", i, held, s.live)
		}
		if s.live > 0 && (h.get(s, s.lo) == nil || h.get(s, s.hi) == nil || s.hi-s.lo >= uint64(len(s.slots))) {
			t.Fatalf("session %d: lo %d hi %d not held or span over %d", i, s.lo, s.hi, len(s.slots))
		}
	}
}

func TestHistoryInOrder(t *testing.T) {
	h := newHistory(1000, 1<<20, int64(time.Hour))
	var m bus.Message
	var sym []byte
	for seq := uint64(1); seq <= 2500; seq++ {
		histMsg(seq, &m, sym)
		if !h.add(42, seq, &m, int64(seq)) {
			t.Fatalf("seq %d refused", seq)
		}
	}
	h.check(t)
	s := h.find(42)
	if s == nil || s.lo != 1501 || s.hi != 2500 || h.live != 1000 || h.evicted != 1500 {
		t.Fatalf("held %+v, live %d, evicted %d; want 1501-2500", s, h.live, h.evicted)
	}
	if h.get(s, 1500) != nil || h.get(s, 2501) != nil || h.find(43) != nil {
		t.Error("found what is not held")
	}
}

// A late fill (a message that comes after higher numbers, from the other
// line) is held and found like any other; a duplicate is refused.
func TestHistoryLateFillsAndHoles(t *testing.T) {
	h := newHistory(100, 1<<20, int64(time.Hour))
	var m bus.Message
	var sym []byte
	for _, seq := range []uint64{1, 2, 5, 6, 3, 9, 4} {
		histMsg(seq, &m, sym)
		if !h.add(7, seq, &m, 0) {
			t.Fatalf("seq %d refused", seq)
		}
	}
	h.check(t)
	s := h.find(7)
	for seq := uint64(1); seq <= 9; seq++ {
		if held := h.get(s, seq) != nil; held != (seq != 7 && seq != 8) {
			t.Errorf("seq %d held %v", seq, held)
		}
	}
	histMsg(5, &m, sym)
	if h.add(7, 5, &m, 0) || h.refused != 1 {
		t.Errorf("duplicate held; refused %d", h.refused)
	}
	// Evicting by arrival: 1, 2, 5, 6 go first; 3 (a late fill) stays,
	// so the lowest held is 3.
	for range 4 {
		h.evictOldest()
	}
	h.check(t)
	if s.lo != 3 || s.hi != 9 {
		t.Errorf("held %d-%d, want 3-9", s.lo, s.hi)
	}
}

// The byte bound evicts the oldest, the arena grows up to it, and a
// message never straddles the ring's end.
func TestHistoryBytes(t *testing.T) {
	h := newHistory(1_000_000, MinHistoryBytes, int64(time.Hour))
	body := make([]byte, 5000)
	for seq := uint64(1); seq <= 200; seq++ {
		m := bus.Message{Kind: bus.KindAppFirst, Symbol: []byte("BIG"), Body: body[:1000+int(seq*37)%4000]}
		// Stamp the number into the body, where check cannot see it:
		// check decodes quotes only, so check the bytes here.
		if !h.add(1, seq, &m, 0) {
			t.Fatalf("seq %d refused", seq)
		}
		if used := h.w - h.r; used > MinHistoryBytes {
			t.Fatalf("%d bytes used", used)
		}
	}
	if len(h.arena) != MinHistoryBytes || h.evicted == 0 {
		t.Errorf("arena %d, evicted %d", len(h.arena), h.evicted)
	}
	s := h.find(1)
	for seq := s.lo; seq <= s.hi; seq++ {
		b := h.get(s, seq)
		if m := decodeOne(t, b); len(m.Body) != 1000+int(seq*37)%4000 {
			t.Fatalf("seq %d: body of %d bytes", seq, len(m.Body))
		}
	}
}

func TestHistoryAge(t *testing.T) {
	h := newHistory(1000, 1<<20, int64(time.Second))
	var m bus.Message
	var sym []byte
	for seq := uint64(1); seq <= 10; seq++ {
		histMsg(seq, &m, sym)
		h.add(1, seq, &m, int64(seq)*int64(200*time.Millisecond))
	}
	h.expire(int64(2500 * time.Millisecond))
	h.check(t)
	if s := h.find(1); s.lo != 8 || s.hi != 10 {
		t.Errorf("held %d-%d after 2.5s, want 8-10", s.lo, s.hi)
	}
	h.expire(int64(time.Hour))
	if h.find(1) != nil || h.live != 0 || h.w != h.r {
		t.Errorf("held %d after an hour", h.live)
	}
}

// A jump past a session's span drops the lowest numbers from its index,
// however long the jump; their bytes go when the arena's tail comes.
func TestHistoryJump(t *testing.T) {
	h := newHistory(8, 1<<20, int64(time.Hour)) // span 16
	var m bus.Message
	var sym []byte
	for _, seq := range []uint64{1, 2, 3, 12, 20, 1 << 40, 1<<40 + 1} {
		histMsg(seq, &m, sym)
		if !h.add(5, seq, &m, 0) {
			t.Fatalf("seq %d refused", seq)
		}
		h.check(t)
	}
	s := h.find(5)
	if s.lo != 1<<40 || s.hi != 1<<40+1 || h.live != 2 || h.dropped != 5 {
		t.Errorf("held %d-%d, live %d, dropped %d", s.lo, s.hi, h.live, h.dropped)
	}
	// Too far below the span: refused.
	histMsg(1<<40-100, &m, sym)
	if h.add(5, 1<<40-100, &m, 0) {
		t.Error("a number far below the span was held")
	}
}

// Sessions beyond maxSessions evict the oldest until one is free.
func TestHistorySessions(t *testing.T) {
	h := newHistory(1000, 1<<20, int64(time.Hour))
	var m bus.Message
	var sym []byte
	for sess := uint64(1); sess <= 20; sess++ {
		for seq := uint64(1); seq <= 10; seq++ {
			histMsg(seq, &m, sym)
			h.add(sess, seq, &m, 0)
		}
		h.check(t)
	}
	if h.find(1) != nil || h.find(20) == nil || h.stats().sessions != maxSessions {
		t.Errorf("sessions held: %d", h.stats().sessions)
	}
}

// Random feeds: holes, late fills, duplicates, jumps, session changes,
// against every bound at once; the invariants hold after each message.
func TestHistoryRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var evicted, dropped, refused uint64
	for round := range 20 {
		h := newHistory(1+rng.IntN(300), MinHistoryBytes+int64(rng.IntN(1<<16)), int64(rng.IntN(1000)+1))
		var m bus.Message
		var sym []byte
		sess, next := uint64(1), uint64(1)
		var late []uint64
		for i := range 3000 {
			seq := next
			switch r := rng.IntN(100); {
			case r < 8: // a hole, maybe filled later
				late = append(late, next)
				next++
				seq = next
			case r < 12 && len(late) > 0:
				seq, late = late[0], late[1:]
				histMsg(seq, &m, sym)
				h.add(sess, seq, &m, int64(i))
				continue
			case r < 13:
				next += uint64(rng.IntN(1000))
				seq = next
			case r < 14:
				sess, next, late = sess+1, 1, nil
				seq = 1
			case r < 15:
				seq = next - 1 // a duplicate, or 0 past a new session
			}
			if seq == 0 {
				continue
			}
			histMsg(seq, &m, sym)
			h.add(sess, seq, &m, int64(i))
			if seq >= next {
				next = seq + 1
			}
			if i%97 == 0 {
				h.check(t)
			}
		}
		h.check(t)
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
		evicted, dropped, refused = evicted+h.evicted, dropped+h.dropped, refused+h.refused
	}
	// The rounds must have gone down every path.
	if evicted == 0 || dropped == 0 || refused == 0 {
		t.Errorf("evicted %d, dropped %d, refused %d: a path not taken", evicted, dropped, refused)
	}
}

// The arena, the entries and the slots grow by doubling, with late fills
// and holes on the way, and keep every message where it can be found.
func TestHistoryGrowth(t *testing.T) {
	h := newHistory(20_000, 8<<20, int64(time.Hour))
	body := make([]byte, 500)
	var m bus.Message
	var sym []byte
	add := func(seq uint64) {
		histMsg(seq, &m, sym)
		binary.LittleEndian.PutUint64(body, seq)
		m = bus.Message{Kind: bus.KindAppFirst, Symbol: m.Symbol, Body: body}
		if !h.add(9, seq, &m, 0) {
			t.Fatalf("seq %d refused", seq)
		}
	}
	for seq := uint64(1); seq <= 30_000; seq++ {
		switch {
		case seq%1000 == 10: // a hole, filled three messages later
		case seq%1000 == 13:
			add(seq - 3)
			add(seq)
		default:
			add(seq)
		}
	}
	if len(h.arena) != 8<<20 || len(h.ents) != 32768 || len(h.sessions[0].slots) < 8192 || h.evicted == 0 {
		t.Errorf("arena %d, entries %d, slots %d, evicted %d", len(h.arena), len(h.ents), len(h.sessions[0].slots), h.evicted)
	}
	s := h.find(9)
	for seq := s.lo; seq <= s.hi; seq++ {
		b := h.get(s, seq)
		if b == nil {
			t.Fatalf("seq %d not held in %d-%d", seq, s.lo, s.hi)
		}
		if m := decodeOne(t, b); len(m.Body) != 500 || binary.LittleEndian.Uint64(m.Body) != seq {
			t.Fatalf("seq %d: %+v", seq, m)
		}
	}
}

// Once its buffers have grown, add allocates nothing.
func TestHistoryAddAllocs(t *testing.T) {
	h := newHistory(10_000, 1<<20, int64(time.Hour))
	var m bus.Message
	sym := make([]byte, 0, 8)
	seq := uint64(0)
	for range 50_000 {
		seq++
		histMsg(seq, &m, sym)
		h.add(1, seq, &m, int64(seq))
	}
	allocs := testing.AllocsPerRun(10_000, func() {
		seq++
		histMsg(seq, &m, sym)
		h.add(1, seq, &m, int64(seq))
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
}

func BenchmarkHistoryAdd(b *testing.B) {
	h := newHistory(DefaultHistoryCount, DefaultHistoryBytes, int64(DefaultHistoryAge))
	m := bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 1, AskPrice: 2, BidSize: 3, AskSize: 4}
	b.ReportAllocs()
	for i := range b.N {
		h.add(1, uint64(i+1), &m, int64(i))
	}
}
