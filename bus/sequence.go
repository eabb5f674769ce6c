package bus

import "time"

// Tracker follows the sequence numbers of a feed, per publisher session,
// and decides which copy of each message is the first. Every line of a
// subscriber feeds the same Tracker: the first copy of a sequence number
// wins, later copies are duplicates.
//
// A hole in the sequence is first pending: another line may still fill
// it. Once it has waited GapWait it is declared a gap. A message that
// fills a hole before then is counted as reordered, after then as late.
//
// A new session id is a publisher restart: its numbering starts afresh and
// is not a gap. The first message seen of a session is where the
// subscriber joined it, so joining mid-stream is not a gap either.
//
// A Tracker is not safe for concurrent use; it belongs to the receive loop.
type Tracker struct {
	// OnSession, if set, is called when a session is first seen, with the
	// sequence number the subscriber joined it at.
	OnSession func(session uint64, stream uint32, first uint64)
	// OnGap, if set, is called when a hole is declared a gap: messages
	// [from, to) of the session are missing on every line.
	OnGap func(session uint64, stream uint32, from, to uint64)

	wait     int64
	maxJump  uint64 // how far ahead of the next number a frame may start; 0: any
	resync   int64  // refusing this long with nothing plausible in between accepts the jump
	sessions []session
	cur      *session
	pending  int // holes not yet declared, across sessions
	declared uint64
	stats    SeqStats
}

// SeqStats are a Tracker's counters, in messages.
type SeqStats struct {
	Sessions   uint64 // distinct publisher sessions seen
	Delivered  uint64 // first copies, handed on
	Duplicates uint64 // later copies, dropped
	Reordered  uint64 // filled a hole before it was declared a gap
	Late       uint64 // filled a hole after it was declared a gap
	Gaps       uint64 // declared missing and never filled
	GapEvents  uint64 // holes declared
	Pending    uint64 // missing, not yet declared
	// Implausible counts frames refused (see SetPlausible), in frames.
	Implausible uint64
}

const (
	maxSessions = 8  // sessions remembered; older ones are forgotten
	maxHoles    = 64 // holes remembered per session; older ones are given up
)

type session struct {
	id       uint64
	stream   uint32
	next     uint64 // next sequence number expected
	lastSeen int64
	refusing int64 // when the current run of implausible frames began; 0: none
	holes    []hole
}

type hole struct {
	from, to uint64 // [from, to)
	since    int64
	declared bool
}

// NewTracker returns a Tracker that declares a hole a gap after gapWait.
// A single line has nothing to wait for: use 0.
func NewTracker(gapWait time.Duration) *Tracker {
	return &Tracker{wait: int64(gapWait), sessions: make([]session, 0, maxSessions)}
}

// SetPlausible bounds how far ahead of the next expected number a frame
// may start: maxJump messages. A frame beyond that is refused by Begin and
// counted as implausible: a forged frame far ahead would otherwise open
// holes that swallow the real messages as they come. Only while plausible
// frames keep coming, though: once frames have been refused for resync
// with none accepted in between, the session really has moved on (its
// publisher dropped, a line was down), and the next frame is accepted, its
// hole becoming a gap like any other. maxJump 0 accepts any jump.
func (t *Tracker) SetPlausible(maxJump uint64, resync time.Duration) {
	t.maxJump, t.resync = maxJump, int64(resync)
}

// Expect makes the tracker expect message next as the first of a session
// it has not seen yet: a subscriber that knows a publisher restarted, and
// so numbers from 1, counts the new session's lost first messages as a gap
// instead of joining it where its first frame happens to start.
func (t *Tracker) Expect(session uint64, stream uint32, next uint64, now int64) {
	h := Header{Session: session, Stream: stream, FirstSeq: next}
	t.cur = t.session(&h, now)
}

// Begin starts a frame: it selects the frame's session, and for a
// heartbeat notes that every message before h.FirstSeq should have come.
// It reports false, and the caller must skip the frame, when the frame is
// implausibly far ahead (see SetPlausible).
func (t *Tracker) Begin(h *Header, now int64) bool {
	c := t.cur
	if c == nil || c.id != h.Session || c.stream != h.Stream {
		c = t.session(h, now)
		t.cur = c
	}
	if t.maxJump > 0 && h.FirstSeq > c.next {
		if h.FirstSeq-c.next > t.maxJump {
			if c.refusing == 0 {
				c.refusing = max(now, 1)
			}
			if now-c.refusing < t.resync {
				t.stats.Implausible++
				return false
			}
		}
	}
	c.refusing = 0
	c.lastSeen = now
	if h.Heartbeat() && h.FirstSeq > c.next {
		t.addHole(c, c.next, h.FirstSeq, now)
		c.next = h.FirstSeq
	}
	return true
}

// Admit reports whether seq, from the frame passed to Begin, is the first
// copy of that message.
func (t *Tracker) Admit(seq uint64, now int64) bool {
	c := t.cur
	if seq == c.next {
		c.next++
		t.stats.Delivered++
		return true
	}
	if seq > c.next {
		t.addHole(c, c.next, seq, now)
		c.next = seq + 1
		t.stats.Delivered++
		return true
	}
	if t.fill(c, seq) {
		t.stats.Delivered++
		return true
	}
	t.stats.Duplicates++
	return false
}

// Resume makes the current session expect next, holes none: what came
// before is accounted for elsewhere. A receive loop that joined a running
// feed from a recovery snapshot, holding the frames it heard meanwhile,
// resumes just after the snapshot.
func (t *Tracker) Resume(next uint64) {
	if c := t.cur; c != nil {
		c.next = next
	}
}

// Skip moves the current session past every message before next: those
// not seen become a hole as of since (monotonic ns), declared once it has
// waited the gap wait from then. A receive loop that delivers in order
// calls it for a hole it gave up on.
func (t *Tracker) Skip(next uint64, since int64) {
	c := t.cur
	if c == nil || next <= c.next {
		return
	}
	t.addHole(c, c.next, next, since)
	c.next = next
}

// Expire declares the holes that have waited long enough. Call it now and
// then from the receive loop; it costs nothing while no hole is pending.
func (t *Tracker) Expire(now int64) {
	if t.pending == 0 {
		return
	}
	for i := range t.sessions {
		c := &t.sessions[i]
		for j := range c.holes {
			if h := &c.holes[j]; !h.declared && now-h.since >= t.wait {
				t.declare(c, h)
			}
		}
	}
}

// Gaps returns the messages declared missing and not filled since, for
// the summary. A late fill lowers it.
func (t *Tracker) Gaps() uint64 { return t.stats.Gaps }

// Declared returns the messages ever declared missing, cheaply, for a
// receive loop that tells a loss detector about new gaps: unlike Gaps it
// never goes down, so a late fill cannot hide a later loss from it.
func (t *Tracker) Declared() uint64 { return t.declared }

// Stats returns the counters so far.
func (t *Tracker) Stats() SeqStats {
	s := t.stats
	for i := range t.sessions {
		for _, h := range t.sessions[i].holes {
			if !h.declared {
				s.Pending += h.to - h.from
			}
		}
	}
	return s
}

func (t *Tracker) session(h *Header, now int64) *session {
	for i := range t.sessions {
		if c := &t.sessions[i]; c.id == h.Session && c.stream == h.Stream {
			return c
		}
	}
	t.stats.Sessions++
	if len(t.sessions) == cap(t.sessions) {
		// Forget the session heard from least recently; its pending holes
		// can no longer be filled.
		old := 0
		for i := range t.sessions {
			if t.sessions[i].lastSeen < t.sessions[old].lastSeen {
				old = i
			}
		}
		for j := range t.sessions[old].holes {
			if h := &t.sessions[old].holes[j]; !h.declared {
				t.declare(&t.sessions[old], h)
			}
		}
		t.sessions[old] = t.sessions[len(t.sessions)-1]
		t.sessions = t.sessions[:len(t.sessions)-1]
	}
	t.sessions = append(t.sessions, session{id: h.Session, stream: h.Stream, next: h.FirstSeq, lastSeen: now})
	if t.OnSession != nil {
		t.OnSession(h.Session, h.Stream, h.FirstSeq)
	}
	return &t.sessions[len(t.sessions)-1]
}

func (t *Tracker) addHole(c *session, from, to uint64, now int64) {
	if len(c.holes) == maxHoles {
		t.giveUpOldest(c)
	}
	c.holes = append(c.holes, hole{from: from, to: to, since: now})
	t.pending++
	if t.wait <= 0 {
		t.declare(c, &c.holes[len(c.holes)-1])
	}
}

func (t *Tracker) declare(c *session, h *hole) {
	h.declared = true
	t.pending--
	t.stats.GapEvents++
	t.stats.Gaps += h.to - h.from
	t.declared += h.to - h.from
	if t.OnGap != nil {
		t.OnGap(c.id, c.stream, h.from, h.to)
	}
}

// fill removes seq from the hole holding it, if any.
func (t *Tracker) fill(c *session, seq uint64) bool {
	for j := range c.holes {
		h := &c.holes[j]
		if seq < h.from || seq >= h.to {
			continue
		}
		if h.declared {
			t.stats.Late++
			t.stats.Gaps--
		} else {
			t.stats.Reordered++
		}
		switch {
		case h.to-h.from == 1:
			if !h.declared {
				t.pending--
			}
			c.holes = append(c.holes[:j], c.holes[j+1:]...)
		case seq == h.from:
			h.from++
		case seq == h.to-1:
			h.to--
		default:
			// Split in two; the hole count grows by one, bounded as usual.
			right := hole{from: seq + 1, to: h.to, since: h.since, declared: h.declared}
			h.to = seq
			if !right.declared {
				t.pending++
			}
			if len(c.holes) == maxHoles {
				t.giveUpOldest(c)
			}
			c.holes = append(c.holes, right)
		}
		return true
	}
	return false
}

func (t *Tracker) giveUpOldest(c *session) {
	if h := &c.holes[0]; !h.declared {
		t.declare(c, h)
	}
	c.holes = append(c.holes[:0], c.holes[1:]...)
}
