package cache

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
)

// Server is a recovery server: it follows a feed like a subscriber and
// answers snapshot and retransmission requests on a ROUTER socket. See
// the package documentation for which goroutine may call what.
type Server struct {
	cfg       config
	feed      *feed
	c         counters
	sub       *feedbus.Subscriber
	endpoints []string // as bound: a tcp port * resolved

	stop      chan struct{} // closed by Close: the ROUTER goroutine returns
	loopDone  chan struct{} // closed when it has returned
	done      chan struct{} // closed when the server has stopped, by itself or by Close
	closeOnce sync.Once
	closeErr  error
	loopErr   error // the ROUTER goroutine's, readable once loopDone is closed
}

// Socket settings of the ROUTER.
const (
	// rcvHWM bounds the requests queued from one client before ZeroMQ
	// stops reading its connection.
	rcvHWM = 256
	// statusEvery is how often the subscriber's counts are copied into
	// Stats.
	statusEvery = time.Second
	// expireEvery is how often the ROUTER goroutine applies the history's
	// age bound, which the feed's messages apply otherwise: a quiet feed
	// still lets old messages go.
	expireEvery = 100 * time.Millisecond
)

// New binds the ROUTER socket to every WithListen endpoint, joins the
// feed's lines (as feedbus.Subscribe, with one worker) and starts serving.
// Until the feed is heard, requests are answered CodeNotReady.
func New(lines []string, opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrOption)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if len(cfg.listen) == 0 {
		return nil, fmt.Errorf("%w: no endpoint to listen on (WithListen, --listen tcp://HOST:PORT)", ErrOption)
	}
	s := &Server{cfg: cfg, stop: make(chan struct{}), loopDone: make(chan struct{}), done: make(chan struct{})}
	s.feed = newFeed(&s.cfg)
	r, err := newRouter(&s.cfg, s.feed, &s.c)
	if err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	go s.run(r, ready)
	if err := <-ready; err != nil {
		<-s.loopDone
		return nil, err
	}
	subOpts := []feedbus.SubscriberOption{feedbus.WithQueue(DefaultFeedQueue, fanout.Drop), feedbus.WithThreadName("feedcache/recv")}
	subOpts = append(subOpts, cfg.subOpts...)
	if cfg.streamSet {
		subOpts = append(subOpts, feedbus.WithFollowStream(cfg.stream))
	}
	subOpts = append(subOpts, feedbus.WithWorkers(1), feedbus.WithEvents(s.onEvent), feedbus.WithStatus(statusEvery, s.onStatus))
	sub, err := feedbus.Subscribe(lines, s.feed, subOpts...)
	if err != nil {
		close(s.stop)
		<-s.loopDone
		return nil, err
	}
	s.sub = sub
	go func() {
		select {
		case <-sub.Done():
		case <-s.loopDone:
		}
		close(s.done)
	}()
	return s, nil
}

// onEvent learns the followed stream, which messages do not carry, and
// passes every event on.
func (s *Server) onEvent(e feedbus.Event) {
	if e.Kind == feedbus.SessionStart {
		s.feed.learnStream(e.Stream)
	}
	if s.cfg.events != nil {
		s.cfg.events(e)
	}
}

func (s *Server) onStatus(st feedbus.Status) {
	s.c.feedReceived.Store(st.Received)
	s.c.feedGaps.Store(st.Gaps)
	s.c.feedDuplicates.Store(st.Duplicates)
	s.c.feedMalformed.Store(st.Malformed)
}

// Endpoints returns the endpoints the ROUTER is bound to, as ZeroMQ
// reports them (tcp://127.0.0.1:* resolved to its port).
func (s *Server) Endpoints() []string { return append([]string(nil), s.endpoints...) }

// Lines returns the feed's lines as the subscriber resolved them.
func (s *Server) Lines() []string {
	var out []string
	for _, e := range s.sub.Lines() {
		out = append(out, e.String())
	}
	return out
}

// Stats returns the server's counts; safe at any time from any goroutine.
func (s *Server) Stats() Stats {
	var st Stats
	s.feed.fill(&st, time.Now())
	s.c.fill(&st)
	return st
}

// Done is closed when the server has stopped: by Close, or by itself when
// its subscriber's receive loop or its ROUTER loop failed (Err says why).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped by itself, once Done is closed; nil
// before, and after a Close that found nothing wrong.
func (s *Server) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	select {
	case <-s.loopDone:
		if s.loopErr != nil {
			return s.loopErr
		}
	default:
	}
	return s.sub.Err()
}

// Close stops serving (requests in progress are abandoned), leaves the
// lines, and waits for every goroutine. It returns the first errors of
// the ROUTER loop and the subscriber, if any. It is idempotent and safe
// from any goroutine.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.loopDone
		subErr := s.sub.Close()
		if sum := s.sub.Summary(); sum != nil {
			s.c.feedReceived.Store(sum.Received)
			s.c.feedGaps.Store(sum.Gaps)
			s.c.feedDuplicates.Store(sum.Duplicates)
			s.c.feedMalformed.Store(sum.Malformed)
		}
		<-s.done
		s.closeErr = errors.Join(s.loopErr, subErr)
	})
	return s.closeErr
}

// run is the ROUTER goroutine: it owns the socket and its context from
// creation to close, so every ZeroMQ call on them happens here.
func (s *Server) run(r *router, ready chan<- error) {
	defer close(s.loopDone)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx, err := zmq.NewContext()
	if err != nil {
		ready <- fmt.Errorf("%w: context: %w", ErrSocket, err)
		return
	}
	defer ctx.Term()
	sock, err := ctx.NewSocket(zmq.ROUTER)
	if err != nil {
		ready <- fmt.Errorf("%w: ROUTER socket: %w", ErrSocket, err)
		return
	}
	defer sock.Close()
	// ROUTER_MANDATORY: a send to a full or gone client fails (EAGAIN,
	// EHOSTUNREACH) instead of dropping the reply silently. MAXMSGSIZE:
	// a peer that sends a frame longer than any request is disconnected
	// by ZeroMQ before it costs memory here.
	if err := errors.Join(sock.SetLinger(0), sock.SetRouterMandatory(1), sock.SetSndhwm(s.cfg.sendHWM),
		sock.SetRcvhwm(rcvHWM), sock.SetMaxmsgsize(recovery.MaxRequestLen)); err != nil {
		ready <- fmt.Errorf("%w: ROUTER options: %w", ErrSocket, err)
		return
	}
	for _, e := range s.cfg.listen {
		if err := sock.Bind(e); err != nil {
			ready <- fmt.Errorf("%w: %s: %w", ErrListen, e, err)
			return
		}
		if ep, err := bus.ParseEndpoint(e); err == nil {
			// libzmq leaves an ipc:// socket's file behind: the
			// server removes it when it stops.
			defer ep.RemoveSocketFile()
		}
		bound, err := sock.GetLastEndpoint()
		if err != nil {
			bound = e
		}
		s.endpoints = append(s.endpoints, bound)
	}
	r.out = routerSender{sock}
	ready <- nil
	defer r.abandon()

	poller := zmq.NewPoller()
	poller.Add(sock, zmq.POLLIN)
	wait := idleWait
	nextExpire := time.Now().Add(expireEvery)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		if wait > 0 && wait < time.Millisecond {
			wait = time.Millisecond // zmq_poll counts whole milliseconds
		}
		polled, err := poller.Poll(wait)
		if err != nil {
			if zmq.AsErrno(err) == zmq.Errno(syscall.EINTR) {
				continue
			}
			s.loopErr = fmt.Errorf("%w: poll: %w", ErrSocket, err)
			return
		}
		now := time.Now()
		if len(polled) > 0 {
			for range recvBurst {
				frames, err := sock.RecvMessageBytes(zmq.DONTWAIT)
				if err != nil {
					break // EAGAIN: all read
				}
				r.request(frames, now)
			}
		}
		wait = r.pump(now)
		if now.After(nextExpire) {
			s.feed.expire(now)
			nextExpire = now.Add(expireEvery)
		}
	}
}

// routerSender sends on the ROUTER: the identity frame, then the reply,
// neither ever waiting.
type routerSender struct{ sock *zmq.Socket }

func (z routerSender) send(identity, msg []byte) error {
	// With ROUTER_MANDATORY the identity frame is where a full or gone
	// client is refused; once it is taken, the rest of the message is.
	if _, err := z.sock.SendBytes(identity, zmq.SNDMORE|zmq.DONTWAIT); err != nil {
		return sendError(err)
	}
	if _, err := z.sock.SendBytes(msg, zmq.DONTWAIT); err != nil {
		return sendError(err)
	}
	return nil
}

func sendError(err error) error {
	switch zmq.AsErrno(err) {
	case zmq.Errno(syscall.EAGAIN):
		return errAgain
	case zmq.EHOSTUNREACH:
		return errGone
	}
	return err
}
