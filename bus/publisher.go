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
	batch    *heldFrames  // frames held while corked (udp:// lines)
	corked   bool
	one      [1][]byte // an uncorked frame, for sendUDP without allocating
	oneCount [1]int
}

// LineStats counts one line's frames.
type LineStats struct {
	Sent    uint64 // frames the line's socket took
	Dropped uint64 // frames dropped because the line's queue was full (OnFull Drop)
	// DroppedMessages counts the messages in the dropped frames, as the
	// caller of SendMessages gave them.
	DroppedMessages uint64
	Waits           uint64 // times Send waited for a full line (OnFull Block)
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
			if p.batch == nil {
				p.batch = newHeldFrames(o.MaxDatagram)
			}
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
func (p *Publisher) Send(frame []byte) error { return p.SendMessages(frame, 0) }

// SendMessages is Send for a frame that holds messages messages: a line
// that drops the frame counts them in LineStats.DroppedMessages. While the
// publisher is corked, frames for udp:// lines are held (copied) and go
// out with Uncork, or when MaxBatch are held, in one sendmmsg per line.
func (p *Publisher) SendMessages(frame []byte, messages int) error {
	if p.ctx == nil {
		return ErrClosed
	}
	if p.udp != nil {
		if len(frame) > p.opts.MaxDatagram {
			return fmt.Errorf("%w: a frame of %d bytes does not fit a %d-byte datagram (--max-datagram)", ErrTooLarge, len(frame), p.opts.MaxDatagram)
		}
		if !p.corked && p.batch.len() == 0 {
			p.one[0], p.oneCount[0] = frame, messages
			return p.sendUDP(p.one[:], p.oneCount[:])
		}
		p.batch.add(frame, messages)
		if p.corked && p.batch.len() < MaxBatch {
			return nil
		}
		return p.flushBatch()
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
			p.stats[i].DroppedMessages += uint64(messages)
		default:
			errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), err))
		}
	}
	return errs
}

// MaxBatch is the most frames a corked publisher holds before it sends
// them: one sendmmsg call per line.
const MaxBatch = 32

// Cork holds the frames sent from now on until Uncork, so that a burst of
// frames costs one sendmmsg per udp:// line instead of a write each. A
// frame's send time is stamped before it is held: the hold counts in its
// latency. On ZeroMQ lines, which batch in their I/O threads, it changes
// nothing.
func (p *Publisher) Cork() { p.corked = true }

// Uncork sends the frames held since Cork.
func (p *Publisher) Uncork() error {
	p.corked = false
	if p.batch == nil || p.batch.len() == 0 || p.ctx == nil {
		return nil
	}
	return p.flushBatch()
}

// flushBatch sends the held frames.
func (p *Publisher) flushBatch() error {
	defer p.batch.reset()
	return p.sendUDP(p.batch.frames, p.batch.messages)
}

// sendUDP sends frames on every udp:// line, in order, each as one
// datagram; messages[k] is how many messages frames[k] holds.
func (p *Publisher) sendUDP(frames [][]byte, messages []int) error {
	var errs error
	for i, u := range p.udp {
		for k := 0; k < len(frames); {
			n, full, err := u.sendBatch(frames[k:])
			p.stats[i].Sent += uint64(n)
			k += n
			switch {
			case err != nil:
				// The line is broken: what it has not taken is not sent.
				errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), err))
				k = len(frames)
			case full && p.opts.OnFull == Block:
				p.stats[i].Waits++
				if werr := u.waitWritable(fullPollInterval); werr != nil {
					errs = errors.Join(errs, fmt.Errorf("line %s: send: %w", LineName(i), werr))
					k = len(frames)
				}
			case full:
				p.stats[i].Dropped++
				p.stats[i].DroppedMessages += uint64(messages[k])
				k++
			}
		}
	}
	return errs
}

// heldFrames holds copies of frames for one sendmmsg per line.
type heldFrames struct {
	buf      []byte   // MaxBatch slots of the datagram size
	slot     int      // bytes a slot
	frames   [][]byte // the held frames, slices of buf
	messages []int    // each frame's message count
}

func newHeldFrames(maxDatagram int) *heldFrames {
	return &heldFrames{buf: make([]byte, MaxBatch*maxDatagram), slot: maxDatagram,
		frames: make([][]byte, 0, MaxBatch), messages: make([]int, 0, MaxBatch)}
}

func (b *heldFrames) add(frame []byte, messages int) {
	k := len(b.frames)
	dst := b.buf[k*b.slot : k*b.slot+len(frame)]
	copy(dst, frame)
	b.frames = append(b.frames, dst)
	b.messages = append(b.messages, messages)
}

func (b *heldFrames) len() int { return len(b.frames) }

func (b *heldFrames) reset() { b.frames, b.messages = b.frames[:0], b.messages[:0] }

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
	if p.batch != nil && p.batch.len() > 0 {
		errs = errors.Join(errs, p.flushBatch()) // held by a Cork not undone
	}
	for _, u := range p.udp {
		errs = errors.Join(errs, u.close()) // the kernel sends what it took
	}
	p.udp = nil
	errs = errors.Join(errs, p.ctx.Term())
	p.ctx = nil
	for _, e := range p.lines {
		errs = errors.Join(errs, e.RemoveSocketFile())
	}
	return errs
}
