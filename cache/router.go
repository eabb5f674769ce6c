package cache

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/recovery"
)

// sender sends one reply message to one client without waiting. The
// server's is its ROUTER socket; tests use fakes.
type sender interface {
	send(identity, msg []byte) error
}

// What a sender's error may match.
var (
	// errAgain: the client's queue is full (EAGAIN at the send HWM); try
	// again later.
	errAgain = errors.New("client's queue is full")
	// errGone: the client is not connected any more (EHOSTUNREACH).
	errGone = errors.New("client is gone")
)

// job is a request in progress: a stream of replies, built one at a time
// when the client can take one.
type job interface {
	// build appends the next reply to dst; last reports it ends the job.
	// Building again without commit builds the same reply (a frame gets
	// the new time).
	build(r *router, dst []byte, now time.Time) (msg []byte, last bool)
	// commit notes that the reply built last was sent.
	commit(c *counters)
	// held is the bytes the job holds for replies not sent yet.
	held() int
	// release gives back what the job holds.
	release(r *router)
}

// client is one DEALER identity with requests in progress, served in
// order of arrival.
type client struct {
	key  string
	id   []byte
	jobs []job
	// parked is when the client's queue first refused a reply, since the
	// last reply it took; zero while it takes them. Past
	// --client-timeout its requests are dropped.
	parked time.Time
	retry  time.Time
}

// Pacing of the ROUTER loop.
const (
	// burst is the replies one client is sent before the next client's
	// turn: round robin, so a big snapshot never holds up a small
	// retransmission for more than a few frames.
	burst = 16
	// parkRetry is how soon a parked client is tried again.
	parkRetry = 2 * time.Millisecond
	// idleWait bounds the loop's sleep, so Close and the history's age
	// bound take effect promptly on a quiet server.
	idleWait = 50 * time.Millisecond
	// recvBurst is the requests taken per wake-up before replies get a
	// turn: a flood of requests cannot starve the replies in progress.
	recvBurst = 64
	// maxFreeSnapshots bounds the snapshot buffers kept for reuse.
	maxFreeSnapshots = 4
)

// router serves requests: it parses them, starts jobs, and sends their
// replies without ever waiting on a client. It belongs to the ROUTER
// goroutine, and needs no lock of its own: it reads the feed under the
// feed's mutex, and publishes its counts through atomics.
type router struct {
	cfg    *config
	feed   *feed
	out    sender
	signer *auth.Signer // nil: frames go out unsigned
	c      *counters

	clients    map[string]*client
	order      []*client // round robin
	inProgress int
	heldBytes  int64

	buf   []byte // the reply being sent
	frame []byte // the frame being built
	free  []*snapshotJob
	req   recovery.Request
}

func newRouter(cfg *config, f *feed, c *counters) (*router, error) {
	r := &router{cfg: cfg, feed: f, c: c, clients: make(map[string]*client)}
	if cfg.keys != nil {
		s, err := auth.NewSigner(cfg.keys)
		if err != nil {
			return nil, fmt.Errorf("%w: signing: %w", ErrOption, err)
		}
		r.signer = s
	}
	return r, nil
}

// request handles one message received on the ROUTER: the client's
// identity, then its request. Nothing in it is trusted: whatever does not
// parse is answered CodeBadRequest and counted, and the loop carries on.
func (r *router) request(frames [][]byte, now time.Time) {
	r.c.requests.Add(1)
	if len(frames) == 0 || len(frames[0]) == 0 {
		r.c.bad.Add(1) // nobody to answer
		return
	}
	identity := frames[0]
	if len(frames) != 2 {
		r.c.bad.Add(1)
		r.replyError(identity, 0, recovery.CodeBadRequest, fmt.Sprintf(
			"%v: %d frames after the identity, want 1 (one request per message, from a DEALER)", recovery.ErrBadRequest, len(frames)-1))
		return
	}
	req := &r.req
	if err := recovery.ParseRequest(frames[1], req); err != nil {
		r.c.bad.Add(1)
		r.replyError(identity, req.ID, recovery.CodeBadRequest, err.Error())
		return
	}
	switch req.Op {
	case recovery.OpSnapshot:
		r.c.snapshots.Add(1)
	case recovery.OpRetransmit:
		r.c.retransmits.Add(1)
	}
	cl := r.clients[string(identity)]
	switch {
	case r.inProgress >= r.cfg.maxRequests:
		r.c.busy.Add(1)
		r.replyError(identity, req.ID, recovery.CodeBusy, fmt.Sprintf("%d requests in progress, the most this server takes", r.inProgress))
		return
	case cl != nil && len(cl.jobs) >= perClientRequests:
		r.c.busy.Add(1)
		r.replyError(identity, req.ID, recovery.CodeBusy, fmt.Sprintf("this client has %d requests in progress, the most one client may", len(cl.jobs)))
		return
	}
	var j job
	switch req.Op {
	case recovery.OpSnapshot:
		sj := r.newSnapshot()
		if code, text := sj.take(r.feed, req); code != 0 {
			r.freeSnapshot(sj)
			r.replyError(identity, req.ID, code, text)
			return
		}
		j = sj
	case recovery.OpRetransmit:
		rj := &retransmitJob{}
		if code, text := rj.start(r.feed, req, r.cfg.maxRetransmit); code != 0 {
			r.replyError(identity, req.ID, code, text)
			return
		}
		j = rj
	}
	if cl == nil {
		cl = &client{key: string(identity), id: bytes.Clone(identity)}
		r.clients[cl.key] = cl
		r.order = append(r.order, cl)
	}
	cl.jobs = append(cl.jobs, j)
	r.inProgress++
	r.heldBytes += int64(j.held())
	r.publish()
}

// replyError sends an error reply at once, or drops it (counted): an
// error reply never waits in a queue, so a flood of bad requests costs
// no memory.
func (r *router) replyError(identity []byte, id uint64, code recovery.Code, text string) {
	r.buf = recovery.AppendReply(r.buf[:0], &recovery.Reply{Type: recovery.ReplyError, ID: id, Code: code, Text: text})
	if err := r.out.send(identity, r.buf); err != nil {
		r.c.repliesLost.Add(1)
		return
	}
	r.c.errorsReplied.Add(1)
	r.c.replies.Add(1)
	r.c.replyBytes.Add(uint64(len(r.buf)))
}

// pump sends what the clients can take, round robin, drops the requests
// of clients parked too long, and returns how soon it wants to run again.
func (r *router) pump(now time.Time) time.Duration {
	wait := idleWait
	for _, cl := range r.order {
		if len(cl.jobs) == 0 {
			continue
		}
		if !cl.parked.IsZero() {
			if now.Sub(cl.parked) >= r.cfg.clientTimeout {
				r.drop(cl, &r.c.slowDrops)
				continue
			}
			if now.Before(cl.retry) {
				wait = min(wait, cl.retry.Sub(now))
				continue
			}
		}
		r.serve(cl, now)
		switch {
		case len(cl.jobs) == 0:
		case cl.parked.IsZero():
			wait = 0 // more to send at once
		default:
			wait = min(wait, parkRetry)
		}
	}
	r.sweep()
	return wait
}

// serve sends cl up to burst replies.
func (r *router) serve(cl *client, now time.Time) {
	for range burst {
		if len(cl.jobs) == 0 {
			return
		}
		j := cl.jobs[0]
		before := j.held()
		msg, last := j.build(r, r.buf[:0], now)
		r.buf = msg
		if err := r.out.send(cl.id, msg); err != nil {
			if errors.Is(err, errAgain) {
				if cl.parked.IsZero() {
					cl.parked = now
				}
				cl.retry = now.Add(parkRetry)
				return
			}
			if !errors.Is(err, errGone) {
				r.c.internal.Add(1)
			}
			r.drop(cl, &r.c.unreachable)
			return
		}
		cl.parked = time.Time{}
		j.commit(r.c)
		r.c.replies.Add(1)
		r.c.replyBytes.Add(uint64(len(msg)))
		r.heldBytes += int64(j.held() - before)
		if last {
			r.finish(cl)
		}
	}
}

// finish ends cl's first job.
func (r *router) finish(cl *client) {
	j := cl.jobs[0]
	r.heldBytes -= int64(j.held())
	j.release(r)
	n := copy(cl.jobs, cl.jobs[1:])
	cl.jobs[n] = nil
	cl.jobs = cl.jobs[:n]
	r.inProgress--
}

// drop abandons every request of cl, counting them in why.
func (r *router) drop(cl *client, why *atomic.Uint64) {
	why.Add(uint64(len(cl.jobs)))
	for i, j := range cl.jobs {
		r.heldBytes -= int64(j.held())
		j.release(r)
		cl.jobs[i] = nil
	}
	r.inProgress -= len(cl.jobs)
	cl.jobs = cl.jobs[:0]
	cl.parked = time.Time{}
}

// sweep forgets the clients with nothing in progress and publishes the
// counts.
func (r *router) sweep() {
	kept := r.order[:0]
	for _, cl := range r.order {
		if len(cl.jobs) == 0 {
			delete(r.clients, cl.key)
			continue
		}
		kept = append(kept, cl)
	}
	clear(r.order[len(kept):])
	r.order = kept
	r.publish()
}

// publish makes the gauges visible to Stats.
func (r *router) publish() {
	parked := 0
	for _, cl := range r.order {
		if !cl.parked.IsZero() && len(cl.jobs) > 0 {
			parked++
		}
	}
	r.c.inProgress.Store(int64(r.inProgress))
	r.c.clients.Store(int64(len(r.clients)))
	r.c.parked.Store(int64(parked))
	r.c.parkedBytes.Store(r.heldBytes)
}

// newSnapshot returns a snapshot job, reusing a free one's buffers.
func (r *router) newSnapshot() *snapshotJob {
	if n := len(r.free); n > 0 {
		j := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		return j
	}
	return &snapshotJob{}
}

// freeSnapshot keeps j's buffers for the next snapshot, up to
// maxFreeSnapshots of them.
func (r *router) freeSnapshot(j *snapshotJob) {
	if len(r.free) < maxFreeSnapshots {
		j.records, j.chunks = j.records[:0], j.chunks[:0]
		j.next = 0
		r.free = append(r.free, j)
	}
}

// abandon releases every job, for Close.
func (r *router) abandon() {
	for _, cl := range r.order {
		for i, j := range cl.jobs {
			j.release(r)
			cl.jobs[i] = nil
		}
		cl.jobs = cl.jobs[:0]
	}
	r.inProgress, r.heldBytes = 0, 0
	r.sweep()
}
