package recovery

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Client defaults.
const (
	// DefaultTimeout is how long a server may take to send a request's
	// first reply, or the next one: past it, the request goes to the next
	// server (the guide's Lazy Pirate). Snapshots of 100,000 symbols start
	// within milliseconds; a server that is up answers far sooner.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultTries is how many servers in turn a request is sent to, at
	// most, before it is answered CodeUnavailable: each of two servers
	// twice.
	DefaultTries = 4
)

// ClientConfig configures a Client; zero values take the defaults.
type ClientConfig struct {
	Timeout time.Duration
	Tries   int
}

// Client asks recovery servers for snapshots and retransmissions on behalf
// of a receive loop. The loop sends a request (AppendRequest) on its end of
// the client's pipe and reads the replies there, as they come from the
// server, on the same socket it reads its lines with (bus.Subscriber's
// Attach). A request goes to one server at a time, the last that answered
// first; a server that does not answer within the timeout has its socket
// closed and reopened and the request goes to the next, until Tries sends
// have failed, when the client answers ReplyError CodeUnavailable itself.
// Replies to an abandoned try are dropped by request id.
//
// The Client's goroutine owns the server sockets and its end of the pipe;
// Pipe's socket belongs to the loop. The loop may have one request in
// progress: a request sent before the last one ended replaces it. Close
// is idempotent and waits for the goroutine; call it before closing the
// context.
type Client struct {
	ctx       *zmq.Context
	endpoints []string
	cfg       ClientConfig
	pipeAddr  string
	pipe      *zmq.Socket // the loop's end
	stop      chan struct{}
	done      chan struct{}
	once      sync.Once
	ready     chan error

	stats clientCounters
}

// ClientStats are a client's counts.
type ClientStats struct {
	Requests    uint64 // requests the loop sent
	Timeouts    uint64 // tries a server did not answer in time
	Failovers   uint64 // tries sent to another server after a timeout or a busy reply
	Unavailable uint64 // requests no server answered
	BadReplies  uint64 // replies that did not parse, or answered no request in progress
}

type clientCounters struct {
	requests, timeouts, failovers, unavailable, bad atomic.Uint64
}

var pipeSeq atomic.Uint64

// NewClient starts a client of the servers at endpoints (tcp:// or
// ipc://), with sockets in ctx. The loop's end of its pipe is Pipe().
func NewClient(ctx *zmq.Context, endpoints []string, cfg ClientConfig) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrEndpoint)
	}
	for _, e := range endpoints {
		if !strings.HasPrefix(e, "tcp://") && !strings.HasPrefix(e, "ipc://") && !strings.HasPrefix(e, "inproc://") {
			return nil, fmt.Errorf("%w: %q: want tcp://HOST:PORT or ipc://PATH", ErrEndpoint, e)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultTries
	}
	c := &Client{ctx: ctx, endpoints: append([]string(nil), endpoints...), cfg: cfg,
		pipeAddr: fmt.Sprintf("inproc://feedbus-recovery-%d", pipeSeq.Add(1)),
		stop:     make(chan struct{}), done: make(chan struct{}), ready: make(chan error, 1)}
	pipe, err := ctx.NewSocket(zmq.PAIR)
	if err != nil {
		return nil, fmt.Errorf("recovery: pipe: %w", err)
	}
	if err := pipe.Bind(c.pipeAddr); err != nil {
		pipe.Close()
		return nil, fmt.Errorf("recovery: pipe: %w", err)
	}
	c.pipe = pipe
	go c.run()
	if err := <-c.ready; err != nil {
		pipe.Close()
		<-c.done
		return nil, err
	}
	return c, nil
}

// Pipe returns the loop's end of the pipe: send requests on it, read
// replies from it. The loop owns it (and closes it, or hands it to a
// bus.Subscriber that will).
func (c *Client) Pipe() *zmq.Socket { return c.pipe }

// Stats returns the client's counts; safe from any goroutine.
func (c *Client) Stats() ClientStats {
	return ClientStats{Requests: c.stats.requests.Load(), Timeouts: c.stats.timeouts.Load(),
		Failovers: c.stats.failovers.Load(), Unavailable: c.stats.unavailable.Load(), BadReplies: c.stats.bad.Load()}
}

// Close stops the client's goroutine and closes its sockets, once.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// rcvHWM bounds the replies queued from one server: 1000 × MaxReplyLen,
// 64 MiB at most, while the loop catches up.
const rcvHWM = 1000

// pollEvery bounds how long the goroutine sleeps, so Close is prompt.
const pollEvery = 50 * time.Millisecond

// attempt is the request in progress.
type attempt struct {
	req      []byte // as the loop sent it
	id       uint64
	server   int       // the server it went to last
	tries    int       // sends so far
	deadline time.Time // for the next reply (monotonic)
}

func (c *Client) run() {
	defer close(c.done)
	pipe, err := c.ctx.NewSocket(zmq.PAIR)
	if err == nil {
		err = pipe.Connect(c.pipeAddr)
	}
	if err != nil {
		c.ready <- fmt.Errorf("recovery: pipe: %w", err)
		return
	}
	defer pipe.Close()
	servers := make([]*zmq.Socket, len(c.endpoints))
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.Close()
			}
		}
	}()
	for i := range servers {
		if servers[i], err = c.dial(i); err != nil {
			c.ready <- err
			return
		}
	}
	// The loop's end may be slow to read (it is applying a snapshot):
	// forwarding waits for it, but never past Close.
	if err := pipe.SetSndtimeo(pollEvery); err != nil {
		c.ready <- fmt.Errorf("recovery: pipe: %w", err)
		return
	}
	forward := func(b []byte) bool {
		for {
			if _, err := pipe.SendBytes(b, 0); err == nil {
				return true
			}
			select {
			case <-c.stop:
				return false
			default:
			}
		}
	}
	c.ready <- nil

	var cur *attempt
	preferred := 0
	var reply Reply
	var poller *zmq.Poller
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		if poller == nil { // again after a server's socket is replaced
			poller = zmq.NewPoller()
			poller.Add(pipe, zmq.POLLIN)
			for _, s := range servers {
				poller.Add(s, zmq.POLLIN)
			}
		}
		wait := pollEvery
		if cur != nil {
			wait = min(wait, max(0, time.Until(cur.deadline)))
		}
		polled, err := poller.Poll(wait)
		if err != nil && zmq.AsErrno(err) != zmq.Errno(4) { // EINTR
			return
		}
		for _, p := range polled {
			if p.Socket == pipe {
				b, err := pipe.RecvBytes(zmq.DONTWAIT)
				if err != nil || len(b) < HeaderLen {
					continue
				}
				c.stats.requests.Add(1)
				cur = &attempt{req: b, id: idOf(b), server: preferred}
				c.send(servers, cur)
				continue
			}
			for i, s := range servers {
				if p.Socket != s {
					continue
				}
				for {
					b, err := s.RecvBytes(zmq.DONTWAIT)
					if err != nil {
						break
					}
					if cur == nil || ParseReply(b, &reply) != nil || reply.ID != cur.id || i != cur.server {
						c.stats.bad.Add(1) // late, foreign or broken: never the loop's
						continue
					}
					if reply.Type == ReplyError && (reply.Code == CodeBusy || reply.Code == CodeNotReady) {
						if c.next(servers, cur, pipe, false) {
							cur = nil
						}
						break
					}
					if !forward(b) {
						return
					}
					cur.deadline = time.Now().Add(c.cfg.Timeout)
					if reply.Type != ReplyRecords && reply.Type != ReplyFrame {
						preferred = i
						cur = nil
						break
					}
				}
			}
		}
		if cur != nil && !time.Now().Before(cur.deadline) {
			c.stats.timeouts.Add(1)
			// Lazy Pirate: the socket may hold the lost request or a
			// half-sent reply; only a new one is clean.
			servers[cur.server].Close()
			if servers[cur.server], err = c.dial(cur.server); err != nil {
				return
			}
			poller = nil
			if c.next(servers, cur, pipe, true) {
				cur = nil
			}
		}
	}
}

// next sends cur to the next server, or answers the loop CodeUnavailable
// when every try is spent and reports that it gave up.
func (c *Client) next(servers []*zmq.Socket, cur *attempt, pipe *zmq.Socket, timedOut bool) (gaveUp bool) {
	if cur.tries >= c.cfg.Tries {
		c.stats.unavailable.Add(1)
		text := "no recovery server answered"
		if !timedOut {
			text = "every recovery server was busy or not ready"
		}
		pipe.SendBytes(AppendReply(nil, &Reply{Type: ReplyError, ID: cur.id, Code: CodeUnavailable,
			Text: fmt.Sprintf("%s (%d tries of %s)", text, cur.tries, strings.Join(c.endpoints, ", "))}), 0)
		return true
	}
	c.stats.failovers.Add(1)
	cur.server = (cur.server + 1) % len(servers)
	c.send(servers, cur)
	return false
}

// send sends cur to its server and starts the timer.
func (c *Client) send(servers []*zmq.Socket, cur *attempt) {
	cur.tries++
	cur.deadline = time.Now().Add(c.cfg.Timeout)
	// A new socket queues the request until it has connected; a full
	// queue (a server long gone) fails the send, and the try times out.
	servers[cur.server].SendBytes(cur.req, zmq.DONTWAIT)
}

// dial opens the socket to server i.
func (c *Client) dial(i int) (*zmq.Socket, error) {
	s, err := c.ctx.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, fmt.Errorf("recovery: socket for %s: %w", c.endpoints[i], err)
	}
	err = errors.Join(s.SetLinger(0), s.SetRcvhwm(rcvHWM), s.SetSndhwm(16))
	if err == nil {
		err = s.Connect(c.endpoints[i])
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("recovery: connecting to %s: %w", c.endpoints[i], err)
	}
	return s, nil
}

func idOf(b []byte) uint64 {
	var id uint64
	for i := 7; i >= 0; i-- {
		id = id<<8 | uint64(b[8+i])
	}
	return id
}
