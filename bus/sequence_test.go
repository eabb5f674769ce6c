package bus

import (
	"testing"
	"time"
)

// feed runs one frame through the tracker and returns which of its
// sequence numbers were admitted.
func feed(t *Tracker, session uint64, first uint64, count int, now int64) []uint64 {
	h := Header{Session: session, FirstSeq: first, Count: uint32(count)}
	if count == 0 {
		h.Flags = FlagHeartbeat
	}
	t.Begin(&h, now)
	var got []uint64
	for i := 0; i < count; i++ {
		if seq := first + uint64(i); t.Admit(seq, now) {
			got = append(got, seq)
		}
	}
	return got
}

func wantStats(t *testing.T, got, want SeqStats) {
	t.Helper()
	if got != want {
		t.Fatalf("stats = %+v\n          want %+v", got, want)
	}
}

func TestTrackerInOrder(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 1, 10, 0)
	feed(tr, 1, 11, 5, 0)
	feed(tr, 1, 16, 0, 0) // heartbeat carrying the next sequence
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 15})
}

func TestTrackerJoinMidStream(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 5000, 3, 0)
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 3})
}

func TestTrackerGap(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 1, 10, 0)
	if got := feed(tr, 1, 15, 2, 0); len(got) != 2 {
		t.Fatalf("admitted %v after a gap, want both", got)
	}
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 12, Gaps: 4, GapEvents: 1})
}

func TestTrackerHeartbeatRevealsGap(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 1, 10, 0)
	feed(tr, 1, 14, 0, 0)
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 10, Gaps: 3, GapEvents: 1})
	// A heartbeat that is not ahead changes nothing.
	feed(tr, 1, 14, 0, 0)
	feed(tr, 1, 3, 0, 0)
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 10, Gaps: 3, GapEvents: 1})
}

func TestTrackerDuplicates(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 1, 10, 0)
	if got := feed(tr, 1, 1, 10, 0); len(got) != 0 {
		t.Fatalf("admitted duplicates %v", got)
	}
	// A frame overlapping the last one delivers only its new tail.
	if got := feed(tr, 1, 8, 5, 0); len(got) != 2 || got[0] != 11 || got[1] != 12 {
		t.Fatalf("overlap admitted %v, want [11 12]", got)
	}
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 12, Duplicates: 13})
}

func TestTrackerReorderWithinWait(t *testing.T) {
	wait := 50 * time.Millisecond
	tr := NewTracker(wait)
	feed(tr, 1, 1, 5, 0)
	feed(tr, 1, 9, 2, 0) // 6,7,8 missing on this line
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 7, Pending: 3})
	// Another line fills the middle first, then the edges.
	if got := feed(tr, 1, 7, 1, int64(time.Millisecond)); len(got) != 1 {
		t.Fatalf("fill admitted %v", got)
	}
	feed(tr, 1, 6, 1, int64(2*time.Millisecond))
	feed(tr, 1, 8, 1, int64(3*time.Millisecond))
	tr.Expire(int64(time.Second))
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 10, Reordered: 3})
	// The other line's copies of everything are duplicates.
	feed(tr, 1, 1, 10, int64(time.Second))
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 10, Reordered: 3, Duplicates: 10})
}

func TestTrackerDeclaresAfterWait(t *testing.T) {
	wait := 50 * time.Millisecond
	tr := NewTracker(wait)
	feed(tr, 1, 1, 5, 0)
	feed(tr, 1, 10, 1, 0)
	tr.Expire(int64(wait) - 1)
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 6, Pending: 4})
	tr.Expire(int64(wait))
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 6, Gaps: 4, GapEvents: 1})
	// A copy arriving after the declaration is late, and no longer a gap.
	feed(tr, 1, 7, 1, int64(time.Second))
	wantStats(t, tr.Stats(), SeqStats{Sessions: 1, Delivered: 7, Gaps: 3, GapEvents: 1, Late: 1})
}

func TestTrackerRestartIsNewSession(t *testing.T) {
	tr := NewTracker(0)
	feed(tr, 1, 1, 100, 0)
	// The publisher restarts: a new session numbering from 1 again.
	if got := feed(tr, 2, 1, 100, 0); len(got) != 100 {
		t.Fatalf("new session admitted %d of 100", len(got))
	}
	wantStats(t, tr.Stats(), SeqStats{Sessions: 2, Delivered: 200})
	// A straggler of the old session is still judged against the old one.
	if got := feed(tr, 1, 50, 1, 0); len(got) != 0 {
		t.Fatalf("old session's duplicate admitted: %v", got)
	}
}

func TestTrackerBoundsMemory(t *testing.T) {
	tr := NewTracker(time.Hour)
	// Every other message missing: far more holes than remembered.
	for seq := uint64(1); seq < 10*maxHoles; seq += 2 {
		feed(tr, 1, seq, 1, 0)
	}
	s := tr.Stats()
	if len(tr.sessions[0].holes) > maxHoles {
		t.Fatalf("%d holes remembered, limit %d", len(tr.sessions[0].holes), maxHoles)
	}
	if s.Gaps+s.Pending != 5*maxHoles-1 {
		t.Fatalf("gaps %d + pending %d, want %d missing in all", s.Gaps, s.Pending, 5*maxHoles-1)
	}
	for id := uint64(10); id < 10+2*maxSessions; id++ {
		feed(tr, id, 1, 1, int64(id))
	}
	if len(tr.sessions) > maxSessions {
		t.Fatalf("%d sessions remembered, limit %d", len(tr.sessions), maxSessions)
	}
	if got := tr.Stats().Sessions; got != 1+2*maxSessions {
		t.Fatalf("sessions = %d, want %d", got, 1+2*maxSessions)
	}
}

func TestTrackerNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	tr := NewTracker(0)
	h := Header{Session: 1, FirstSeq: 1, Count: 32}
	n := testing.AllocsPerRun(100, func() {
		tr.Begin(&h, 0)
		for i := uint64(0); i < 32; i++ {
			tr.Admit(h.FirstSeq+i, 0)
		}
		h.FirstSeq += 32
	})
	if n != 0 {
		t.Fatalf("in-order path allocates %.1f times per frame", n)
	}
}

// SetPlausible refuses a frame far ahead while the session is live, and
// follows the jump once such frames have come alone for the resync time.
func TestTrackerPlausible(t *testing.T) {
	const ms = int64(time.Millisecond)
	tr := NewTracker(0)
	tr.SetPlausible(10, 100*time.Millisecond) // 10 ahead at most
	h := Header{Session: 1, FirstSeq: 1, Count: 1}
	if !tr.Begin(&h, ms) || !tr.Admit(1, ms) {
		t.Fatal("the first frame was refused")
	}
	far := Header{Session: 1, FirstSeq: 1000, Count: 1}
	if tr.Begin(&far, 2*ms) {
		t.Fatal("a frame 998 ahead was accepted")
	}
	near := Header{Session: 1, FirstSeq: 2, Count: 1}
	if !tr.Begin(&near, 3*ms) || !tr.Admit(2, 3*ms) {
		t.Fatal("the next frame was refused")
	}
	if tr.Begin(&far, 50*ms) || tr.Begin(&far, 120*ms) { // the run of refusals began at 50 ms
		t.Fatal("a far frame was accepted before the resync time")
	}
	if !tr.Begin(&far, 151*ms) {
		t.Fatal("far frames alone for the resync time were still refused")
	}
	tr.Admit(1000, 151*ms)
	if st := tr.Stats(); st.Implausible != 3 || st.Gaps != 997 {
		t.Fatalf("implausible %d gaps %d, want 3 and 997", st.Implausible, st.Gaps)
	}
}

// Expect makes a new session start at the given number, so its lost
// first messages are a gap.
func TestTrackerExpect(t *testing.T) {
	tr := NewTracker(0)
	tr.Expect(9, 1, 1, 0)
	h := Header{Session: 9, Stream: 1, FirstSeq: 5, Count: 1}
	tr.Begin(&h, 1)
	tr.Admit(5, 1)
	if st := tr.Stats(); st.Gaps != 4 || st.Sessions != 1 {
		t.Fatalf("gaps %d sessions %d, want 4 and 1", st.Gaps, st.Sessions)
	}
}
