package cache

import (
	"fmt"
	"time"

	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/recovery"
)

// frameBudget bounds a retransmitted frame's header and messages: about
// a dozen PGM TPDUs, small enough that one client's frame never holds up
// another's for long, large enough that the per-frame costs (a MAC, a
// ZeroMQ message) are spread over hundreds of messages. A message larger
// than the budget travels alone.
const frameBudget = 16 << 10

// retransmitJob is a retransmission in progress. Unlike a snapshot it
// needs no consistency point (a message, once numbered, never changes),
// so it holds no copy of the history: each frame is built when the
// client can take it, under the feed's mutex for as long as it takes to
// copy one frame's messages out of the arena. What was evicted meanwhile
// is simply not held any more: the reply ends Partial.
type retransmitJob struct {
	id      uint64
	session uint64
	stream  uint32
	first   uint64 // as asked, for the counters' sake
	next    uint64 // the first number not sent yet
	last    uint64
	sent    int // messages sent
	limit   int
	skipped bool // a number of the range was not held
	ended   bool // the frames are done: the end reply is next
	status  recovery.Status

	// What build made last, applied by commit once it is sent.
	b struct {
		next    uint64
		count   int
		skipped bool
		ended   bool
		status  recovery.Status
	}
}

// start checks req against the feed and readies j. It returns a code
// other than 0, with a reason, when the request cannot be served.
func (j *retransmitJob) start(f *feed, req *recovery.Request, limit int) (recovery.Code, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, text := f.refuse(req.Stream, false); code != 0 {
		return code, text
	}
	if f.hist.find(req.Session) == nil {
		return recovery.CodeUnknownSession, fmt.Sprintf("session %016x: no message of it is held", req.Session)
	}
	*j = retransmitJob{id: req.ID, session: req.Session, stream: req.Stream,
		first: req.First, next: req.First, last: req.Last, limit: limit}
	return 0, ""
}

// build appends the next reply to dst: a frame of consecutive held
// messages, stamped now and signed when the server signs, or the end.
func (j *retransmitJob) build(r *router, dst []byte, now time.Time) (msg []byte, last bool) {
	f := r.feed
	if j.ended {
		var held [2]uint64
		f.mu.Lock()
		if s := f.hist.find(j.session); s != nil {
			held = [2]uint64{s.lo, s.hi}
		}
		f.mu.Unlock()
		return recovery.AppendReply(dst, &recovery.Reply{Type: recovery.ReplyRetransmitEnd, ID: j.id,
			Status: j.status, Next: j.next, Held: held}), true
	}

	f.mu.Lock()
	s := f.hist.find(j.session)
	seq, skipped := j.next, j.skipped
	count, first, size := 0, uint64(0), bus.HeaderLen
	var hi uint64
	if s != nil {
		if seq < s.lo {
			skipped, seq = true, s.lo
		}
		hi = min(j.last, s.hi)
		for seq <= hi && j.sent+count < j.limit {
			b := f.hist.get(s, seq)
			if b == nil { // a hole: the frame ends before it
				if count > 0 {
					break
				}
				skipped = true
				seq++
				continue
			}
			if count > 0 && size+len(b) > frameBudget {
				break
			}
			if count == 0 {
				first = seq
			}
			size += len(b)
			count++
			seq++
		}
		if count > 0 {
			if cap(r.frame) < size+auth.TrailerLen {
				r.frame = make([]byte, 0, max(size+auth.TrailerLen, frameBudget+bus.MaxMessageLen))
			}
			r.frame = bus.AppendHeader(r.frame[:0], &bus.Header{Session: j.session, Stream: j.stream,
				Count: uint32(count), FirstSeq: first, SendTime: now.UnixNano()})
			for q := first; q < first+uint64(count); q++ {
				r.frame = append(r.frame, f.hist.get(s, q)...)
			}
		}
	}
	sHi, have := uint64(0), s != nil
	if have {
		sHi = s.hi
	}
	f.mu.Unlock()

	b := &j.b
	b.next, b.count, b.skipped, b.ended = seq, count, skipped, true
	switch {
	case seq > j.last:
		// The whole range was looked at: Next is one past it, even
		// when what is held began above it.
		b.next = j.last + 1
		b.status = recovery.Complete
		if skipped {
			b.status = recovery.Partial
		}
	case !have || seq > sHi:
		b.status = recovery.Partial // the rest of the range is not held
	case j.sent+count >= j.limit:
		b.status = recovery.Limited
	default:
		b.ended = false // more frames to come
	}
	if count == 0 {
		// Nothing held from here on: straight to the end.
		j.commit(r.c)
		return j.build(r, dst, now)
	}
	frame := r.frame
	if r.signer != nil {
		signed, err := r.signer.Sign(frame)
		if err != nil { // a frame this server built is always signable
			r.c.internal.Add(1)
			b.next, b.count, b.ended, b.status = j.next, 0, true, recovery.Partial
			j.commit(r.c)
			return j.build(r, dst, now)
		}
		frame = signed
	}
	return recovery.AppendReply(dst, &recovery.Reply{Type: recovery.ReplyFrame, ID: j.id, Body: frame}), false
}

// commit applies what build made, now that it was sent.
func (j *retransmitJob) commit(c *counters) {
	b := &j.b
	if b.count > 0 {
		c.framesSent.Add(1)
		c.messagesSent.Add(uint64(b.count))
	}
	j.next, j.skipped, j.ended, j.status = b.next, b.skipped, b.ended, b.status
	j.sent += b.count
	b.count = 0
}

// held is 0: a retransmission holds one frame at a time, in the router's
// buffer.
func (j *retransmitJob) held() int { return 0 }

// release has nothing to give back.
func (j *retransmitJob) release(*router) {}
