package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/feedbus/feedbus/bus"
)

// conflator holds, for one worker under the Conflate policy, the newest
// quote and the newest trade of each symbol that did not fit in the queue
// (or arrived while older ones were still here). Quote and trade have a
// slot each because a quote must not erase the last trade, which the book
// shows and VWAP needs.
//
// Both sides take mu for O(1) work only: Dispatch for one map lookup and
// one item copy, the worker for popping one slot. A slot is created, and
// the map and slices grow, only the first time a symbol overflows.
type conflator struct {
	pending atomic.Int32 // slots in fifo; read without mu

	mu    sync.Mutex
	index map[symKey]int32 // symbol -> slots index
	slots []cslot
	fifo  []int32 // ring of queued slot indices, oldest first
	head  int     // fifo index of the oldest
	n     int     // queued slots
}

// cslot is one symbol's conflated updates. doc.go states its size; a test
// checks it.
type cslot struct {
	q, t   item
	hasQ   bool
	hasT   bool
	queued bool // in fifo
}

func newConflator() *conflator {
	return &conflator{index: make(map[symKey]int32)}
}

// put stores it in its symbol's slot and reports whether it overwrote an
// update of the same kind the worker had not taken yet.
func (c *conflator) put(it *item) (overwrote bool) {
	c.mu.Lock()
	i, ok := c.index[it.key]
	if !ok {
		i = int32(len(c.slots))
		c.slots = append(c.slots, cslot{})
		c.index[it.key] = i
	}
	s := &c.slots[i]
	if it.kind == bus.KindTrade {
		overwrote = s.hasT
		s.t, s.hasT = *it, true
	} else {
		overwrote = s.hasQ
		s.q, s.hasQ = *it, true
	}
	if !s.queued {
		s.queued = true
		c.push(i)
		c.pending.Add(1)
	}
	c.mu.Unlock()
	return overwrote
}

// push appends i to fifo, growing it if full. A slot is queued at most
// once, so fifo never holds more than len(slots) entries and grows only
// while new symbols appear.
func (c *conflator) push(i int32) {
	if c.n == len(c.fifo) {
		grown := make([]int32, max(16, 2*len(c.fifo)))
		for k := 0; k < c.n; k++ {
			grown[k] = c.fifo[(c.head+k)%len(c.fifo)]
		}
		c.fifo, c.head = grown, 0
	}
	c.fifo[(c.head+c.n)%len(c.fifo)] = i
	c.n++
}

// take moves the oldest queued slot's updates into dst and empties the
// slot. It reports false if none is queued.
func (c *conflator) take(dst *cslot) bool {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return false
	}
	i := c.fifo[c.head]
	if c.head++; c.head == len(c.fifo) {
		c.head = 0
	}
	c.n--
	s := &c.slots[i]
	*dst = *s
	s.hasQ, s.hasT, s.queued = false, false, false
	c.pending.Add(-1)
	c.mu.Unlock()
	return true
}

// discard empties every queued slot and returns the number of updates it
// held. Used by Stop only.
func (c *conflator) discard() uint64 {
	var n uint64
	var s cslot
	for c.take(&s) {
		if s.hasQ {
			n++
		}
		if s.hasT {
			n++
		}
	}
	return n
}
