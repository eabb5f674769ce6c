package bus

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
	"golang.org/x/sys/unix"
)

// Subscriber receives frames from one or more lines, each a SUB socket on
// its own ZeroMQ I/O thread. It subscribes to every frame: a line's
// sequence numbers cover the whole stream, so filtering by symbol happens
// after sequencing, not in ZeroMQ.
//
// A Subscriber is owned by one goroutine, its receive loop: Recv and Close
// must not be called concurrently.
type Subscriber struct {
	ctx      *zmq.Context
	lines    []Endpoint
	socks    []*zmq.Socket
	poller   *zmq.Poller
	next     int
	opts     Options
	warnings []string
	rcvtimeo time.Duration // ZMQ_RCVTIMEO set on a lone line's socket
	timeoSet bool          // whether rcvtimeo has been set on the current socket
	spinTill time.Time     // with Options.Spin: poll without sleeping until then

	// udp:// lines: a receiver each, in line order (socks holds nil for
	// them, then the attached sockets).
	udp       []*udpReceiver
	waiting   atomic.Bool // the loop sleeps (or is about to): receivers wake it
	release   int         // line whose ring slot Recv handed out last; -1 none
	stamp     int64       // the kernel's receive time of the last frame, ns; 0 none
	truncated []uint64    // per line, datagrams larger than MaxDatagram, dropped
	pollFDs   []unix.PollFd
}

// NewSubscriber joins every endpoint. See NewPublisher for the syntax.
func NewSubscriber(endpoints []string, opts ...Option) (*Subscriber, error) {
	ctx, lines, o, err := prepare(endpoints, opts)
	if err != nil {
		return nil, err
	}
	s := &Subscriber{ctx: ctx, lines: lines, opts: o, poller: zmq.NewPoller(), release: -1}
	s.warnings = BufferWarnings(0, o.RecvBuffer)
	for _, w := range s.warnings {
		o.logf("%s", w)
	}
	if lines[0].IsUDP() {
		s.truncated = make([]uint64, len(lines))
		for i, e := range lines {
			cpu := -1
			if i < len(o.LineCPUs) {
				cpu = o.LineCPUs[i]
			}
			r, err := openUDPReceiver(e, i, &o, &s.waiting, cpu)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("line %s (%s): %w", LineName(i), e, err)
			}
			s.udp = append(s.udp, r)
			s.socks = append(s.socks, nil)
		}
		return s, nil
	}
	for i, e := range lines {
		sock, err := openSocket(ctx, zmq.SUB, e, i, &o)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.socks = append(s.socks, sock)
		s.poller.Add(sock, zmq.POLLIN)
	}
	return s, nil
}

// Lines returns the resolved endpoint of each line, in line order.
func (s *Subscriber) Lines() []Endpoint { return s.lines }

// Context returns the subscriber's ZeroMQ context, for sockets that talk
// to the receive loop over inproc:// (they must share its context). Close
// them before the Subscriber: closing it terminates the context.
func (s *Subscriber) Context() *zmq.Context { return s.ctx }

// Attach adds a socket that Recv reads beside the lines, such as the
// loop's end of a pipe from a helper goroutine; Recv returns its messages
// with the index len(Lines()) + k for the k-th socket attached. The
// Subscriber owns it from now on and closes it.
func (s *Subscriber) Attach(sock *zmq.Socket) int {
	s.socks = append(s.socks, sock)
	s.poller.Add(sock, zmq.POLLIN)
	return len(s.socks) - 1
}

// Warnings returns what the subscriber found limiting at start.
func (s *Subscriber) Warnings() []string { return s.warnings }

// Recv returns the next frame from any line, waiting at most timeout. It
// returns a nil frame when the timeout passes first. Lines are served in
// turn so that a busy line cannot starve another. A frame of a udp://
// line is valid until the next Recv (it is a slot of the line's ring):
// copy it to keep it, or check Ephemeral. Other frames are the caller's.
//
// With Options.Spin, Recv first polls without sleeping until Spin has
// passed since the last frame (or the timeout, if that is sooner).
func (s *Subscriber) Recv(timeout time.Duration) (frame []byte, line int, err error) {
	if s.ctx == nil {
		return nil, -1, ErrClosed
	}
	if s.udp != nil {
		return s.recvUDP(timeout)
	}
	if s.opts.Spin > 0 {
		start := time.Now()
		var now time.Time
		frame, line, now, err = s.spin(start, timeout)
		if frame == nil && err == nil {
			if left := timeout - now.Sub(start); left > 0 {
				frame, line, err = s.wait(left)
				now = time.Now()
			}
		}
		if frame != nil {
			s.spinTill = now.Add(s.opts.Spin)
		}
		return frame, line, err
	}
	return s.wait(timeout)
}

// wait returns the next frame, sleeping until one comes or timeout passes.
func (s *Subscriber) wait(timeout time.Duration) (frame []byte, line int, err error) {
	if len(s.socks) == 1 && s.socks[0] != nil {
		return s.recvOne(timeout)
	}
	if frame, line, err = s.tryRecv(); frame != nil || err != nil {
		return frame, line, err
	}
	// Nothing queued: wait. Polling only when idle keeps the busy path to
	// one receive call per frame.
	if _, err := s.poller.Poll(timeout); err != nil {
		return nil, -1, fmt.Errorf("bus: poll: %w", err)
	}
	return s.tryRecv()
}

// recvOne serves a single line with one blocking receive per frame: no
// poll, so a frame reaches the caller as soon as libzmq has it.
func (s *Subscriber) recvOne(timeout time.Duration) ([]byte, int, error) {
	sock := s.socks[0]
	if !s.timeoSet || timeout != s.rcvtimeo {
		if err := sock.SetRcvtimeo(timeout); err != nil {
			return nil, -1, fmt.Errorf("line A: setting ZMQ_RCVTIMEO: %w", err)
		}
		s.rcvtimeo, s.timeoSet = timeout, true
	}
	b, err := sock.RecvBytes(0)
	if err != nil {
		if isAgain(err) {
			return nil, -1, nil
		}
		return nil, -1, fmt.Errorf("line A: receive: %w", err)
	}
	return b, 0, nil
}

// spin polls every line without sleeping until the spin budget since the
// last frame or the timeout runs out, whichever is first. It returns its
// last clock reading with the result, so a frame found at once costs no
// clock read beyond the caller's.
func (s *Subscriber) spin(now time.Time, timeout time.Duration) ([]byte, int, time.Time, error) {
	end := s.spinTill // zero until the first frame: no budget to spend
	if t := now.Add(timeout); t.Before(end) {
		end = t
	}
	for {
		if b, line, err := s.tryRecv(); b != nil || err != nil {
			return b, line, now, err
		}
		if now = time.Now(); !now.Before(end) {
			return nil, -1, now, nil
		}
	}
}

func (s *Subscriber) tryRecv() ([]byte, int, error) {
	n := len(s.socks)
	for k := 0; k < n; k++ {
		i := (s.next + k) % n
		if s.socks[i] == nil {
			continue
		}
		b, err := s.socks[i].RecvBytes(zmq.DONTWAIT)
		if err != nil {
			if isAgain(err) {
				continue
			}
			if i >= len(s.lines) {
				return nil, -1, fmt.Errorf("bus: socket %d: receive: %w", i, err)
			}
			return nil, -1, fmt.Errorf("line %s: receive: %w", LineName(i), err)
		}
		s.next = (i + 1) % n
		return b, i, nil
	}
	return nil, -1, nil
}

// Ephemeral reports whether Recv's frames are valid only until the next
// Recv: those of udp:// lines.
func (s *Subscriber) Ephemeral() bool { return s.udp != nil }

// Stamp returns the kernel's receive time of the last frame Recv returned
// (SO_TIMESTAMPNS, ns since the epoch), or 0 when there is none: a udp://
// line's time of arrival, before the receive thread and the loop woke.
func (s *Subscriber) Stamp() int64 { return s.stamp }

// UDPLineStats are a udp:// line's kernel and ring counts.
type UDPLineStats struct {
	KernelDrops uint64 // datagrams the socket dropped for want of buffer (SO_RXQ_OVFL)
	Truncated   uint64 // datagrams larger than MaxDatagram, dropped
	RingFull    uint64 // times the receive thread found the loop a whole ring behind
	Errors      uint64 // receive errors on the line's socket (each retried after 50 ms)
	ThreadID    int    // the receive thread's id
}

// UDPStats returns each udp:// line's counts (nil for ZeroMQ lines). Only
// the receive loop may call it.
func (s *Subscriber) UDPStats() []UDPLineStats { return s.AppendUDPStats(nil) }

// AppendUDPStats appends each udp:// line's counts to dst and returns it:
// UDPStats without allocating, given room. Only the receive loop may call
// it.
func (s *Subscriber) AppendUDPStats(dst []UDPLineStats) []UDPLineStats {
	for i, r := range s.udp {
		dst = append(dst, UDPLineStats{KernelDrops: r.drops.Load(), Truncated: s.truncated[i], RingFull: r.full.Load(), Errors: r.errs.Load(), ThreadID: int(r.tid.Load())})
	}
	return dst
}

// recvUDP is Recv for udp:// lines.
func (s *Subscriber) recvUDP(timeout time.Duration) ([]byte, int, error) {
	if s.release >= 0 {
		s.udp[s.release].release()
		s.release = -1
	}
	if b, line, err := s.tryUDP(); b != nil || err != nil {
		if b != nil && s.opts.Spin > 0 {
			s.spinTill = time.Now().Add(s.opts.Spin)
		}
		return b, line, err
	}
	if timeout <= 0 {
		return nil, -1, nil
	}
	if s.opts.Spin > 0 {
		// Busy-poll the rings until the spin budget since the last frame
		// runs out: no wake-up of this thread for the next datagram.
		end := s.spinTill
		if t := time.Now().Add(timeout); t.Before(end) {
			end = t
		}
		for now := time.Now(); now.Before(end); now = time.Now() {
			if b, line, err := s.tryUDP(); b != nil || err != nil {
				if b != nil {
					s.spinTill = now.Add(s.opts.Spin)
				}
				return b, line, err
			}
		}
	}
	// Say we sleep, then look once more: a receiver that published just
	// before it saw the flag would otherwise not wake us.
	s.waiting.Store(true)
	b, line, err := s.tryUDP()
	if b == nil && err == nil && !s.attachedReady() {
		s.pollFDs = s.pollFDs[:0]
		for _, r := range s.udp {
			s.pollFDs = append(s.pollFDs, unix.PollFd{Fd: int32(r.wakeFD()), Events: unix.POLLIN})
		}
		for _, sock := range s.socks[len(s.lines):] {
			if fd, ferr := sock.GetFd(); ferr == nil {
				s.pollFDs = append(s.pollFDs, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
			}
		}
		err = pollFor(s.pollFDs, timeout)
		for _, r := range s.udp {
			r.drainWake()
		}
		if err == nil {
			b, line, err = s.tryUDP()
		}
	}
	s.waiting.Store(false)
	return b, line, err
}

// attachedReady reports whether an attached socket has a message: its
// file descriptor only signals changes, so it is asked before sleeping.
func (s *Subscriber) attachedReady() bool {
	for _, sock := range s.socks[len(s.lines):] {
		if ev, err := sock.GetEvents(); err == nil && ev&zmq.POLLIN != 0 {
			return true
		}
	}
	return false
}

// tryUDP takes the next frame from any line's ring or attached socket,
// lines in turn, without waiting.
func (s *Subscriber) tryUDP() ([]byte, int, error) {
	n := len(s.socks)
	for k := 0; k < n; k++ {
		i := (s.next + k) % n
		if i < len(s.udp) {
			r := s.udp[i]
			for {
				b, stamp, truncated, ok := r.next()
				if !ok {
					break
				}
				if truncated {
					s.truncated[i]++
					r.release()
					continue
				}
				s.next, s.release, s.stamp = (i+1)%n, i, stamp
				return b, i, nil
			}
			continue
		}
		b, err := s.socks[i].RecvBytes(zmq.DONTWAIT)
		if err != nil {
			if isAgain(err) {
				continue
			}
			return nil, -1, fmt.Errorf("bus: socket %d: receive: %w", i, err)
		}
		s.next, s.stamp = (i+1)%n, 0
		return b, i, nil
	}
	return nil, -1, nil
}

// Rejoin leaves line i and joins it again with a new socket. A PGM
// receiver that has lost data its sender no longer holds keeps asking for
// it (libzmq fixes that at 50 NAKs, about ten seconds) and delivers nothing
// newer meanwhile; a new socket starts from the data now on the wire.
// Frames queued on the old socket are dropped.
func (s *Subscriber) Rejoin(i int) error {
	if s.socks == nil {
		return ErrClosed
	}
	if i < 0 || i >= len(s.lines) {
		return fmt.Errorf("bus: rejoin: no line %d", i)
	}
	if s.udp != nil {
		if err := s.udp[i].rejoin(s.lines[i]); err != nil {
			return fmt.Errorf("line %s: rejoin: %w", LineName(i), err)
		}
		return nil
	}
	if err := s.poller.RemoveBySocket(s.socks[i]); err != nil {
		return fmt.Errorf("line %s: rejoin: %w", LineName(i), err)
	}
	if err := s.socks[i].Close(); err != nil {
		return fmt.Errorf("line %s: rejoin: closing: %w", LineName(i), err)
	}
	s.timeoSet = false // a new socket has libzmq's default
	sock, err := openSocket(s.ctx, zmq.SUB, s.lines[i], i, &s.opts)
	if err != nil {
		// Keep the slot usable for Close; the line stays down.
		s.socks[i] = nil
		return fmt.Errorf("rejoin: %w", err)
	}
	s.socks[i] = sock
	s.poller.Add(sock, zmq.POLLIN)
	return nil
}

// Close leaves every line and closes the context. It is idempotent.
func (s *Subscriber) Close() error {
	if s.ctx == nil {
		return nil
	}
	var errs error
	for _, sock := range s.socks {
		if sock != nil {
			errs = errors.Join(errs, sock.Close())
		}
	}
	s.socks = nil
	for _, r := range s.udp {
		errs = errors.Join(errs, r.close())
	}
	s.udp = nil
	errs = errors.Join(errs, s.ctx.Term())
	s.ctx = nil
	return errs
}
