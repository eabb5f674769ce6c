package bus

import (
	"errors"
	"fmt"

	zmq "github.com/pebbe/zmq4"
)

// Publisher sends frames on one or more lines, each a PUB socket on its
// own ZeroMQ I/O thread. Every frame goes out on every line.
//
// A Publisher is owned by one goroutine: Send and Close must not be called
// concurrently (ZeroMQ sockets are not thread safe).
type Publisher struct {
	ctx      *zmq.Context
	lines    []Endpoint
	socks    []*zmq.Socket
	opts     Options
	warnings []string
	sent     []uint64
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
	p := &Publisher{ctx: ctx, lines: lines, opts: o, sent: make([]uint64, len(lines))}
	p.warnings = BufferWarnings(o.SendBuffer, o.RecvBuffer)
	for _, w := range p.warnings {
		o.logf("%s", w)
	}
	for i, e := range lines {
		s, err := openSocket(ctx, zmq.PUB, e, i, &o)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.socks = append(p.socks, s)
	}
	return p, nil
}

// Lines returns the resolved endpoint of each line, in line order.
func (p *Publisher) Lines() []Endpoint { return p.lines }

// Options returns the settings in force.
func (p *Publisher) Options() Options { return p.opts }

// Warnings returns what the publisher found limiting at start.
func (p *Publisher) Warnings() []string { return p.warnings }

// Send sends one frame on every line. A PUB socket never blocks: past its
// high-water mark ZeroMQ drops the frame for that line.
func (p *Publisher) Send(frame []byte) error {
	if p.socks == nil {
		return ErrClosed
	}
	var errs error
	for i, s := range p.socks {
		if _, err := s.SendBytes(frame, zmq.DONTWAIT); err != nil {
			if isAgain(err) {
				continue
			}
			errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), err))
			continue
		}
		p.sent[i]++
	}
	return errs
}

// Sent returns the number of frames handed to each line's socket.
func (p *Publisher) Sent() []uint64 { return p.sent }

// Close closes the sockets and the context. It is idempotent.
func (p *Publisher) Close() error {
	if p.ctx == nil {
		return nil
	}
	var errs error
	for _, s := range p.socks {
		errs = errors.Join(errs, s.Close())
	}
	p.socks = nil
	errs = errors.Join(errs, p.ctx.Term())
	p.ctx = nil
	return errs
}
