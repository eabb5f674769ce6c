package bus

import (
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Publisher sends frames on one or more lines, each an XPUB socket on its
// own ZeroMQ I/O thread. Every frame goes out on every line.
//
// A plain PUB socket drops frames silently at its high-water mark, which
// PGM's rate limiter reaches whenever the feed outruns ZMQ_RATE. The XPUB
// sockets here are set to ZMQ_XPUB_NODROP, so a full line is seen: Send
// then waits for it or drops and counts, as Options.OnFull says.
//
// A Publisher is owned by one goroutine: Send and Close must not be called
// concurrently (ZeroMQ sockets are not thread safe).
type Publisher struct {
	ctx      *zmq.Context
	lines    []Endpoint
	socks    []*zmq.Socket
	opts     Options
	warnings []string
	stats    []LineStats
	pollers  []*zmq.Poller
	udp      []*udpSender // udp:// lines instead of socks
}

// LineStats counts one line's frames.
type LineStats struct {
	Sent    uint64 // frames the line's socket took
	Dropped uint64 // frames dropped because the line's queue was full (OnFull Drop)
	Waits   uint64 // times Send waited for a full line (OnFull Block)
}

// NewPublisher opens a PUB socket per endpoint. Endpoints are ZeroMQ's
// (`epgm://eth1;239.192.1.1:5555`, `pgm://...`, `tcp://host:port`,
// `ipc:///path`); interface names are resolved to addresses, and every
// error names the line and endpoint at fault.
func NewPublisher(endpoints []string, opts ...Option) (*Publisher, error) {
	ctx, lines, o, err := prepare(endpoints, opts)
	if err != nil {
		return nil, err
	}
	p := &Publisher{ctx: ctx, lines: lines, opts: o, stats: make([]LineStats, len(lines))}
	p.warnings = BufferWarnings(o.SendBuffer, o.RecvBuffer)
	for _, w := range p.warnings {
		o.logf("%s", w)
	}
	for i, e := range lines {
		if e.IsUDP() {
			u, err := openUDPSender(e, &o)
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("line %s (%s): %w", LineName(i), e, err)
			}
			p.udp = append(p.udp, u)
			continue
		}
		s, err := openSocket(ctx, zmq.XPUB, e, i, &o)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.socks = append(p.socks, s)
		poller := zmq.NewPoller()
		poller.Add(s, zmq.POLLOUT)
		p.pollers = append(p.pollers, poller)
	}
	return p, nil
}

// Lines returns the resolved endpoint of each line, in line order.
func (p *Publisher) Lines() []Endpoint { return p.lines }

// Options returns the settings in force.
func (p *Publisher) Options() Options { return p.opts }

// Warnings returns what the publisher found limiting at start.
func (p *Publisher) Warnings() []string { return p.warnings }

// Send sends one frame on every line. For a line whose queue is full it
// waits, or drops the frame for that line and counts it (Options.OnFull);
// it never blocks on the fast path.
func (p *Publisher) Send(frame []byte) error {
	if p.ctx == nil {
		return ErrClosed
	}
	if p.udp != nil {
		return p.sendUDP(frame)
	}
	var errs error
	for i, s := range p.socks {
		_, err := s.SendBytes(frame, zmq.DONTWAIT)
		for err != nil && isAgain(err) && p.opts.OnFull == Block {
			p.stats[i].Waits++
			if _, perr := p.pollers[i].Poll(fullPollInterval); perr != nil {
				err = perr
				break
			}
			_, err = s.SendBytes(frame, zmq.DONTWAIT)
		}
		switch {
		case err == nil:
			p.stats[i].Sent++
		case isAgain(err):
			p.stats[i].Dropped++
		default:
			errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), err))
		}
	}
	return errs
}

// sendUDP sends frame as one datagram on every udp:// line.
func (p *Publisher) sendUDP(frame []byte) error {
	if len(frame) > p.opts.MaxDatagram {
		return fmt.Errorf("%w: a frame of %d bytes does not fit a %d-byte datagram (--max-datagram)", ErrTooLarge, len(frame), p.opts.MaxDatagram)
	}
	var errs error
	for i, u := range p.udp {
		full, err := u.send(frame)
		for err == nil && full && p.opts.OnFull == Block {
			p.stats[i].Waits++
			if err = u.waitWritable(fullPollInterval); err == nil {
				full, err = u.send(frame)
			}
		}
		switch {
		case err != nil:
			errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), err))
		case full:
			p.stats[i].Dropped++
		default:
			p.stats[i].Sent++
		}
	}
	return errs
}

// MaxFrame is the largest frame Send takes: the datagram size on udp://
// lines, else MaxFrameLen.
func (p *Publisher) MaxFrame() int {
	if len(p.lines) > 0 && p.lines[0].IsUDP() {
		return p.opts.MaxDatagram
	}
	return MaxFrameLen
}

// fullPollInterval bounds one wait for a full line, so that a Block
// publisher still notices a closed context.
const fullPollInterval = 100 * time.Millisecond

// Stats returns each line's frame counters, in line order.
func (p *Publisher) Stats() []LineStats { return p.stats }

// Close closes the sockets and the context, first giving frames still
// queued in libzmq up to Options.Linger to go out: a frame dropped at close
// would be lost without being counted. It is idempotent.
func (p *Publisher) Close() error {
	if p.ctx == nil {
		return nil
	}
	var errs error
	for _, s := range p.socks {
		errs = errors.Join(errs, s.SetLinger(p.opts.Linger), s.Close())
	}
	p.socks = nil
	for _, u := range p.udp {
		errs = errors.Join(errs, u.close()) // the kernel sends what it took
	}
	p.udp = nil
	errs = errors.Join(errs, p.ctx.Term())
	p.ctx = nil
	return errs
}
