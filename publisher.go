package feedbus

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
)

// Publisher puts an application's messages on the bus: it batches them
// into frames, numbers them, stamps each frame with the send time,
// compresses the bodies if asked, sends every frame on every line, and
// heartbeats while idle. See the package documentation for which goroutine
// may call what.
type Publisher struct {
	cfg publisherConfig

	mu         sync.Mutex // guards everything below, and the lines' sockets
	lines      *bus.Publisher
	comp       *bus.Compressor
	signer     *auth.Signer // nil without WithSigning
	budget     int          // frame budget for the body: frameBytes less the auth trailer
	maxFrame   int          // the largest frame the lines carry (a udp:// datagram)
	w          bus.FrameWriter
	hdr        bus.Header
	frameStart time.Time // when the frame in progress got its first message
	lastSend   time.Time
	closed     bool
	stats      PublisherStats

	wake    chan struct{} // kicks the flusher when a frame starts while it idles
	idle    bool          // the flusher sleeps until the next heartbeat
	stop    chan struct{}
	stopped chan struct{}
}

// PublisherStats counts what a Publisher sent.
type PublisherStats struct {
	Session    uint64
	Messages   uint64 // messages in frames sent
	Frames     uint64 // data frames sent
	Heartbeats uint64
	WireBytes  uint64 // bytes of data frames, after compression, per line
	// FirstSend and LastSend are the monotonic times of the first and the
	// last data frame (zero before the first).
	FirstSend, LastSend time.Time
	// Lines counts each line's frames, in line order.
	Lines []LineStats
}

// LineStats counts one line's frames and, in DroppedMessages, the
// messages in frames it dropped because its queue was full (bus.Drop).
type LineStats struct {
	bus.LineStats
}

// NewPublisher opens one socket per line endpoint (`epgm://eth1;239.192.1.1:5555`,
// `tcp://*:5555`, `ipc:///tmp/feed`, ...) and starts the flusher, which
// sends partial frames after their max delay and heartbeats while idle.
// The first heartbeat goes out at once, so subscribers can join before the
// first message.
func NewPublisher(endpoints []string, opts ...PublisherOption) (*Publisher, error) {
	cfg := defaultPublisherConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.session == 0 {
		cfg.session = NewSessionID()
	}
	comp, err := bus.NewCompressor(cfg.codec, cfg.dictionary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	sock := append([]bus.Option{bus.WithLinger(cfg.linger)}, cfg.socket...)
	lines, err := bus.NewPublisher(endpoints, sock...)
	if err != nil {
		return nil, err
	}
	// udp:// lines have no I/O threads: the sending goroutine writes.
	if len(cfg.ioCPUs) > 0 && !lines.Lines()[0].IsUDP() {
		if len(cfg.ioCPUs) != len(lines.Lines()) {
			lines.Close()
			return nil, fmt.Errorf("%w: %d I/O CPUs for %d lines: give one per line", ErrOption, len(cfg.ioCPUs), len(lines.Lines()))
		}
		if err := affinity.PinIOThreads(cfg.ioCPUs); err != nil {
			lines.Close()
			return nil, err
		}
	}
	p := &Publisher{
		cfg:     cfg,
		lines:   lines,
		comp:    comp,
		hdr:     bus.Header{Session: cfg.session, Stream: cfg.stream, FirstSeq: 1},
		wake:    make(chan struct{}, 1),
		idle:    true, // the flusher starts asleep until the first heartbeat is due
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	// A udp:// line carries a frame in one datagram: the budget is capped.
	p.maxFrame = lines.MaxFrame()
	p.budget = min(cfg.frameBytes, p.maxFrame)
	if cfg.keys != nil {
		if p.signer, err = auth.NewSigner(cfg.keys); err != nil {
			lines.Close()
			return nil, fmt.Errorf("%w: %w", ErrOption, err)
		}
		p.budget -= auth.TrailerLen
	}
	p.stats.Session = cfg.session
	p.stats.Lines = make([]LineStats, len(lines.Lines()))
	if err := p.Heartbeat(); err != nil {
		lines.Close()
		return nil, err
	}
	go p.flusher()
	return p, nil
}

// NewSessionID returns a random non-zero session id. A publisher takes a
// new one on every start, so a subscriber can tell a restart from a gap.
func NewSessionID() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// Lines returns the resolved endpoint of each line, in line order.
func (p *Publisher) Lines() []bus.Endpoint { return p.lines.Lines() }

// Session returns the publisher's session id.
func (p *Publisher) Session() uint64 { return p.cfg.session }

// Stream returns the stream id written in every frame (WithStream).
func (p *Publisher) Stream() uint32 { return p.cfg.stream }

// Publish adds m to the frame in progress. The frame goes out when the
// next message would overflow the frame budget, on Flush, or (unless
// WithManualFlush) once its first message has waited the max delay. m is
// copied: the caller may reuse it at once. A message the wire cannot carry
// (no symbol, a reserved kind, too large) is refused with an error that
// matches bus.ErrMalformed, and nothing is sent.
func (p *Publisher) Publish(m *bus.Message) error {
	n := m.EncodedLen()
	if bus.HeaderLen+n+auth.TrailerLen > p.maxFrame || n > bus.MaxMessageLen {
		return fmt.Errorf("%w: a message of %d bytes does not fit a frame of at most %d bytes", ErrTooLarge, n, p.maxFrame)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.w.Count() > 0 && p.w.Len()+n > p.budget {
		if err := p.flushLocked(); err != nil {
			return err
		}
	}
	if p.w.Count() == 0 {
		p.hdr.Flags = 0
		p.w.Begin(&p.hdr)
	}
	if err := p.w.Add(m); err != nil {
		return err
	}
	if p.w.Count() == 1 {
		p.frameStart = time.Now()
		if p.cfg.maxDelay == 0 && !p.cfg.manualFlush {
			return p.flushLocked()
		}
		if p.idle && !p.cfg.manualFlush {
			p.idle = false
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	if p.w.Len() >= p.budget {
		return p.flushLocked()
	}
	return nil
}

// Flush sends the frame in progress, if any.
func (p *Publisher) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.flushLocked()
}

// Cork holds the frames that go out from now on (full ones, flushed ones,
// heartbeats) until Uncork, so that a burst of frames costs one sendmmsg
// per udp:// line, or one per bus.MaxBatch frames, instead of a write
// each. Each frame is stamped when it is made, so the hold counts in its
// latency: uncork at the end of every burst. ZeroMQ lines batch in their
// I/O threads; for them it changes nothing.
func (p *Publisher) Cork() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.lines.Cork()
	}
}

// Uncork sends the frames held since Cork.
func (p *Publisher) Uncork() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.lines.Uncork()
}

// FrameStart returns when the frame in progress got its first message, or
// the zero time when no message is pending. A paced caller flushes when its
// next message is due after FrameStart plus its max delay.
func (p *Publisher) FrameStart() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w.Count() == 0 {
		return time.Time{}
	}
	return p.frameStart
}

// Pending returns how many messages wait in the frame in progress.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.w.Count())
}

// Heartbeat sends a heartbeat now: a frame with no messages that carries
// the next sequence number. The flusher sends one whenever the publisher
// has been silent for the heartbeat interval; call it to announce the
// session sooner (feedpub --warmup).
func (p *Publisher) Heartbeat() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.heartbeatLocked(time.Now())
}

func (p *Publisher) flushLocked() error {
	count := p.w.Count()
	if count == 0 {
		return nil
	}
	now := time.Now()
	frame := p.comp.Compress(p.w.Finish(now.UnixNano()))
	if p.signer != nil {
		var err error
		if frame, err = p.signer.Sign(frame); err != nil {
			return err
		}
	}
	err := p.lines.SendMessages(frame, int(count))
	if p.stats.Frames == 0 {
		p.stats.FirstSend = now
	}
	p.stats.LastSend, p.lastSend = now, now
	p.stats.Frames++
	p.stats.WireBytes += uint64(len(frame))
	p.stats.Messages += uint64(count)
	// The sequence moves on even if a line failed: the numbers were used.
	p.hdr.FirstSeq += uint64(count)
	p.w.Begin(&p.hdr) // empty: Count is 0 until the next Add
	return err
}

func (p *Publisher) heartbeatLocked(now time.Time) error { return p.beatLocked(now, bus.FlagHeartbeat) }

func (p *Publisher) beatLocked(now time.Time, flags uint8) error {
	if p.w.Count() > 0 {
		// Messages are waiting: they, not a heartbeat, go out next, and a
		// heartbeat now would announce their numbers as sent.
		return nil
	}
	h := p.hdr
	h.Flags = flags
	p.w.Begin(&h)
	frame := p.w.Finish(now.UnixNano())
	if p.signer != nil {
		var err error
		if frame, err = p.signer.Sign(frame); err != nil {
			return err
		}
	}
	err := p.lines.Send(frame)
	p.w.Begin(&p.hdr)
	p.lastSend = now
	p.stats.Heartbeats++
	return err
}

// flusher sends partial frames whose first message has waited the max
// delay, and heartbeats when the publisher has been silent for the
// heartbeat interval. While no frame is in progress it sleeps until the
// next heartbeat is due, and Publish wakes it when a frame starts; while
// frames keep coming it wakes at their deadlines.
func (p *Publisher) flusher() {
	defer close(p.stopped)
	timer := time.NewTimer(p.cfg.heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-timer.C:
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := time.Now()
		var next time.Duration
		switch {
		case p.w.Count() > 0 && !p.cfg.manualFlush:
			if due := p.frameStart.Add(p.cfg.maxDelay); now.Before(due) {
				next = due.Sub(now)
				break
			}
			// An error here is the line's, counted in its stats and
			// returned to the next caller that sends on it.
			_ = p.flushLocked()
			next = p.cfg.heartbeat
			p.idle = true
		default:
			if idle := now.Sub(p.lastSend); idle >= p.cfg.heartbeat {
				if p.w.Count() == 0 {
					_ = p.heartbeatLocked(now)
				}
				next = p.cfg.heartbeat
			} else {
				next = p.cfg.heartbeat - idle
			}
			p.idle = p.w.Count() == 0 || p.cfg.manualFlush
		}
		p.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// Stats returns the counters so far. It is safe from any goroutine.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Publisher) statsLocked() PublisherStats {
	s := p.stats
	s.Lines = append([]LineStats(nil), p.stats.Lines...)
	for i, st := range p.lines.Stats() {
		s.Lines[i].LineStats = st
	}
	return s
}

// Close sends the frame in progress, then keeps heartbeating for the
// linger time so subscribers can repair the tail of the feed while PGM
// still holds it, then sends an end-of-session heartbeat (bus.FlagEnd) and
// closes the lines, waiting up to the linger time for frames still queued.
// It is Shutdown with no deadline.
func (p *Publisher) Close() error { return p.Shutdown(context.Background()) }

// Shutdown is Close, cut short when ctx is done: the heartbeats stop, and
// the lines close at once with what libzmq still queues given up to the
// linger time. It is idempotent and safe from any goroutine; a second call
// returns ErrClosed.
func (p *Publisher) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	err := errors.Join(p.flushLocked(), p.lines.Uncork())
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.stopped

	// The flusher is gone and closed is set: this goroutine owns the
	// sockets now.
	if p.cfg.linger > 0 && ctx.Err() == nil {
		tick := min(p.cfg.heartbeat, 100*time.Millisecond)
		t := time.NewTimer(tick)
		end := time.Now().Add(p.cfg.linger)
	linger:
		for time.Now().Before(end) {
			p.mu.Lock()
			hbErr := p.heartbeatLocked(time.Now())
			p.mu.Unlock()
			if hbErr != nil {
				break
			}
			t.Reset(min(tick, time.Until(end)))
			select {
			case <-ctx.Done():
				break linger
			case <-t.C:
			}
		}
		t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The session's last word: subscribers know nothing more will come, and
	// follow the next session of the stream at once.
	if eerr := p.beatLocked(time.Now(), bus.FlagHeartbeat|bus.FlagEnd); err == nil {
		err = eerr
	}
	if cerr := p.lines.Close(); err == nil {
		err = cerr
	}
	return err
}
