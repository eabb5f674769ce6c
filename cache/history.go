package cache

import (
	"math/bits"

	"github.com/feedbus/feedbus/bus"
)

// history holds the feed's recent messages for retransmission, each
// encoded as on the wire (bus.AppendMessage) in one byte arena, bounded by
// count, bytes and age; the oldest to arrive go first.
//
// Two orders meet here. Eviction is by arrival: the arena is a ring, and
// a ring frees bytes only at its tail. Lookup is by (session, sequence
// number): a subscriber with two lines delivers a message that one line
// lost when the other line's copy arrives, after messages numbered above
// it (a late fill), so arrival order is not sequence order. So the
// entries sit in a ring in arrival order, beside the arena, and each
// session has a sequence index, a ring of slots addressed by sequence
// number that names the entry holding it: lookup is O(1), a late fill
// takes its slot like any other message, and a hole (a message the cache
// never got) is an empty slot.
//
// A session's index spans from its lowest held number to its highest, so
// holes cost slots: the span is capped at twice the count bound (rounded
// up to a power of two), and when a jump would pass it the lowest numbers
// are dropped from the index (their entries marked dead, their bytes freed
// when the arena's tail reaches them).
//
// Every buffer grows by doubling up to its bound and is then reused, so
// add allocates nothing once warm. history is not safe for concurrent use:
// the feed's mutex guards it.
type history struct {
	maxCount int
	maxBytes uint64
	maxAge   int64 // ns
	maxSpan  int   // slots of one session's index, at most

	arena []byte
	r, w  uint64 // absolute arena positions: bytes [r, w) are held, pads included

	ents       []entry // ring, a power of two long; [head, tail) are held
	head, tail uint64
	live       int // entries not dead

	sessions [maxSessions]seqIndex

	evicted uint64 // messages evicted by a bound
	refused uint64 // messages not held: duplicates, too old for the index, not encodable
	dropped uint64 // messages dropped from an index by a jump past its span
}

// entry is one held message.
type entry struct {
	seq  uint64
	pos  uint64 // absolute arena position of its first byte
	mono int64  // arrival, ns on the server's monotonic clock
	n    uint32 // encoded length
	sess uint8  // index into history.sessions
	dead bool   // no longer in its session's index; its bytes wait for the tail
}

// seqIndex maps one session's sequence numbers to entries.
type seqIndex struct {
	id     uint64
	live   int    // entries of this session in the index; 0: the index is free
	lo, hi uint64 // lowest and highest number held; meaningful while live > 0
	// slots[seq & (len-1)] is the ring index of seq's entry plus 1, or 0.
	// Invariant: every slot outside [lo, hi] is 0, and slots lo and hi
	// are held, whenever live > 0; all are 0 when live == 0.
	slots []uint32
}

const (
	// maxSessions bounds the publisher sessions held at once: a few
	// restarts' worth. A new session beyond it evicts the oldest messages
	// until a session is free.
	maxSessions = 8
	// initialArena, initialEntries and initialSlots are where the
	// buffers start before doubling up to their bounds: a cache of a
	// small feed stays small.
	initialArena   = 1 << 20
	initialEntries = 1 << 12
	initialSlots   = 1 << 12
)

func newHistory(maxCount int, maxBytes int64, maxAge int64) *history {
	maxEnts := 1 << bits.Len(uint(maxCount-1)) // a power of two ≥ maxCount
	return &history{
		maxCount: maxCount,
		maxBytes: uint64(maxBytes),
		maxAge:   maxAge,
		maxSpan:  2 * maxEnts,
		arena:    make([]byte, min(initialArena, maxBytes)),
		ents:     make([]entry, min(initialEntries, maxEnts)),
	}
}

// add holds m, numbered seq in session, arriving at mono. It evicts what
// the bounds require first. It reports false, holding nothing, for a
// message it refuses (counted): one already held, one too far below its
// session's index, or one that cannot be encoded.
func (h *history) add(session, seq uint64, m *bus.Message, mono int64) bool {
	n := m.EncodedLen()
	if n > bus.MaxMessageLen {
		h.refused++
		return false
	}
	h.expire(mono)
	si := h.sessionFor(session)
	for h.tail-h.head >= uint64(h.maxCount) {
		h.evictOldest()
		h.evicted++
	}
	if h.tail-h.head == uint64(len(h.ents)) {
		h.growEntries()
	}
	pos := h.place(n)
	p := pos % uint64(len(h.arena))
	b, err := bus.AppendMessage(h.arena[p:p:p+uint64(n)], m)
	if err != nil || len(b) != n {
		h.refused++
		return false
	}
	idx := uint32(h.tail & uint64(len(h.ents)-1))
	if !h.index(si, seq, idx) {
		h.refused++
		return false
	}
	h.ents[idx] = entry{seq: seq, pos: pos, mono: mono, n: uint32(n), sess: uint8(si)}
	h.tail++
	h.w = pos + uint64(n)
	h.live++
	return true
}

// expire evicts what has been held longer than the age bound.
func (h *history) expire(mono int64) {
	for h.head < h.tail && mono-h.ents[h.head&uint64(len(h.ents)-1)].mono > h.maxAge {
		h.evictOldest()
		h.evicted++
	}
}

// sessionFor returns the index of session's seqIndex, taking a free one
// (evicting the oldest messages until one is free, if need be).
func (h *history) sessionFor(session uint64) int {
	free := -1
	for i := range h.sessions {
		s := &h.sessions[i]
		if s.live > 0 {
			if s.id == session {
				return i
			}
			continue
		}
		if free < 0 || s.id == session { // its own old index keeps its slots
			free = i
		}
	}
	for free < 0 {
		h.evictOldest()
		h.evicted++
		for i := range h.sessions {
			if h.sessions[i].live == 0 {
				free = i
				break
			}
		}
	}
	s := &h.sessions[free]
	if s.id != session {
		s.id = session
		if len(s.slots) > initialSlots {
			// A span grown by a past session's holes: give it back.
			s.slots = nil
		}
	}
	return free
}

// place reserves n contiguous arena bytes after w and returns their
// absolute position, evicting the oldest messages or growing the arena
// (up to the byte bound) until they fit. A message never wraps: when the
// rest of the ring is too short, it starts at the ring's beginning and
// the rest is padding, freed with the message before it.
func (h *history) place(n int) uint64 {
	for {
		if h.head == h.tail {
			h.r, h.w = 0, 0
		}
		size := uint64(len(h.arena))
		pos := h.w
		if p := pos % size; p+uint64(n) > size {
			pos += size - p
		}
		if pos+uint64(n)-h.r <= size {
			return pos
		}
		if size < h.maxBytes {
			h.growArena()
			continue
		}
		h.evictOldest()
		h.evicted++
	}
}

// index puts seq of sessions[si] in the index, naming entry idx. It
// reports false for a number already held, or one below the span.
func (h *history) index(si int, seq uint64, idx uint32) bool {
	s := &h.sessions[si]
	if len(s.slots) == 0 {
		s.slots = make([]uint32, min(initialSlots, h.maxSpan))
	}
	switch {
	case s.live == 0:
		s.lo, s.hi = seq, seq
	case seq > s.hi:
		if seq-s.lo >= uint64(len(s.slots)) {
			h.widen(si, seq)
		}
		if s.live == 0 {
			s.lo = seq
		}
		s.hi = seq
	case seq < s.lo:
		if s.hi-seq >= uint64(len(s.slots)) && !h.growSlots(si, s.hi-seq+1) {
			return false
		}
		s.lo = seq
	case s.slots[seq&uint64(len(s.slots)-1)] != 0:
		return false
	}
	s.slots[seq&uint64(len(s.slots)-1)] = idx + 1
	s.live++
	return true
}

// widen makes sessions[si]'s span reach hi: it grows the slots up to
// maxSpan, then drops the lowest numbers from the index.
func (h *history) widen(si int, hi uint64) {
	s := &h.sessions[si]
	if h.growSlots(si, hi-s.lo+1) {
		return
	}
	newLo := hi - uint64(len(s.slots)) + 1
	mask := uint64(len(s.slots) - 1)
	if newLo-s.lo >= uint64(len(s.slots)) {
		// Every slot is below newLo: clear them all at once instead of
		// walking a jump of any length.
		for i, v := range s.slots {
			if v != 0 {
				h.ents[v-1].dead = true
				s.slots[i] = 0
				h.dropped++
				h.live--
			}
		}
		s.live = 0
		return
	}
	for seq := s.lo; seq < newLo; seq++ {
		if v := s.slots[seq&mask]; v != 0 {
			h.ents[v-1].dead = true
			s.slots[seq&mask] = 0
			s.live--
			h.dropped++
			h.live--
		}
	}
	if s.live > 0 {
		s.lo = newLo
		for s.slots[s.lo&mask] == 0 {
			s.lo++
		}
	}
}

// growSlots doubles sessions[si]'s slots until want numbers fit, up to
// maxSpan. It reports whether they fit.
func (h *history) growSlots(si int, want uint64) bool {
	s := &h.sessions[si]
	size := uint64(len(s.slots))
	for size < want && size < uint64(h.maxSpan) {
		size *= 2
	}
	if size > uint64(len(s.slots)) {
		slots := make([]uint32, size)
		if s.live > 0 {
			old := uint64(len(s.slots) - 1)
			for seq := s.lo; seq <= s.hi; seq++ {
				slots[seq&(size-1)] = s.slots[seq&old]
			}
		}
		s.slots = slots
	}
	return want <= size
}

// evictOldest drops the entry that arrived first. The caller counts why.
func (h *history) evictOldest() {
	mask := uint64(len(h.ents) - 1)
	e := &h.ents[h.head&mask]
	if !e.dead {
		h.unindex(e)
		h.live--
	}
	h.head++
	if h.head < h.tail {
		h.r = h.ents[h.head&mask].pos
	} else {
		h.r = h.w
	}
}

// unindex clears e's slot in its session's index, keeping the invariant.
func (h *history) unindex(e *entry) {
	s := &h.sessions[e.sess]
	mask := uint64(len(s.slots) - 1)
	s.slots[e.seq&mask] = 0
	s.live--
	if s.live == 0 {
		return
	}
	switch e.seq {
	case s.lo:
		for s.slots[s.lo&mask] == 0 {
			s.lo++
		}
	case s.hi:
		for s.slots[s.hi&mask] == 0 {
			s.hi--
		}
	}
}

// growEntries doubles the entry ring, moving the held entries to its
// start and renumbering their slots.
func (h *history) growEntries() {
	n := h.tail - h.head
	ents := make([]entry, 2*len(h.ents))
	mask := uint64(len(h.ents) - 1)
	for i := uint64(0); i < n; i++ {
		e := h.ents[(h.head+i)&mask]
		ents[i] = e
		if !e.dead {
			s := &h.sessions[e.sess]
			s.slots[e.seq&uint64(len(s.slots)-1)] = uint32(i + 1)
		}
	}
	h.ents, h.head, h.tail = ents, 0, n
}

// growArena doubles the arena, up to the byte bound, packing the held
// messages at its start.
func (h *history) growArena() {
	arena := make([]byte, min(2*uint64(len(h.arena)), h.maxBytes))
	size, mask := uint64(len(h.arena)), uint64(len(h.ents)-1)
	var w uint64
	for i := h.head; i < h.tail; i++ {
		e := &h.ents[i&mask]
		p := e.pos % size
		copy(arena[w:], h.arena[p:p+uint64(e.n)])
		e.pos = w
		w += uint64(e.n)
	}
	h.arena, h.r, h.w = arena, 0, w
}

// find returns the index of session, or nil when none of it is held.
func (h *history) find(session uint64) *seqIndex {
	for i := range h.sessions {
		if s := &h.sessions[i]; s.id == session && s.live > 0 {
			return s
		}
	}
	return nil
}

// get returns the encoded message seq of s, aliasing the arena (valid
// until the next add), or nil when it is not held.
func (h *history) get(s *seqIndex, seq uint64) []byte {
	if s.live == 0 || seq < s.lo || seq > s.hi {
		return nil
	}
	v := s.slots[seq&uint64(len(s.slots)-1)]
	if v == 0 {
		return nil
	}
	e := &h.ents[v-1]
	if e.seq != seq || e.dead { // cannot happen while the invariant holds
		return nil
	}
	p := e.pos % uint64(len(h.arena))
	return h.arena[p : p+uint64(e.n) : p+uint64(e.n)]
}

// historyStats is what Stats reports of the history.
type historyStats struct {
	count    int
	bytes    int64
	sessions int
	oldest   int64 // arrival of the oldest entry, monotonic ns; 0 with none
}

func (h *history) stats() historyStats {
	st := historyStats{count: h.live, bytes: int64(h.w - h.r)}
	for i := range h.sessions {
		if h.sessions[i].live > 0 {
			st.sessions++
		}
	}
	if h.head < h.tail {
		mask := uint64(len(h.ents) - 1)
		st.oldest = h.ents[h.head&mask].mono
	}
	return st
}
