package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/pace"
	"github.com/feedbus/feedbus/internal/synth"
)

type config struct {
	lines      cli.Strings
	rate       float64
	count      uint64
	duration   time.Duration
	size       int
	symbols    int
	frameBytes int
	heartbeat  time.Duration
	warmup     time.Duration
	linger     time.Duration
	stream     uint
	seed       uint64
	socket     cli.Socket
	affinity   cli.Affinity
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("feedpub", flag.ContinueOnError)
	fs.Var(&c.lines, "line", "line endpoint, repeatable, one per NIC: epgm://IFACE;GROUP:PORT, pgm://..., tcp://HOST:PORT (bound) or ipc://PATH")
	fs.Float64Var(&c.rate, "rate", 10_000, "messages per second; 0 = as fast as possible")
	fs.Uint64Var(&c.count, "count", 0, "stop after this many messages (0 = no limit)")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long (0 = no limit)")
	fs.IntVar(&c.size, "size", 64, "bytes per market message on the wire, padding included (its natural size if smaller)")
	fs.IntVar(&c.symbols, "symbols", 100, "number of symbols in the synthetic feed")
	fs.IntVar(&c.frameBytes, "frame-bytes", 1400, "frame budget in bytes: messages are batched into frames up to this size (1400 fits one PGM TPDU)")
	fs.DurationVar(&c.heartbeat, "heartbeat", 500*time.Millisecond, "send a heartbeat after this long without data")
	fs.DurationVar(&c.warmup, "warmup", 0, "send only heartbeats for this long before data, so subscribers can join the session")
	fs.DurationVar(&c.linger, "linger", 2*time.Second, "after the last message keep heartbeating this long so PGM can repair losses")
	fs.UintVar(&c.stream, "stream", 1, "stream id written in every frame")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the synthetic feed")
	c.socket.Register(fs, "send")
	c.affinity.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedpub --line ENDPOINT [--line ENDPOINT] [flags]\n\nPublishes a synthetic market-data feed on every line.\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	switch {
	case len(c.lines) == 0:
		return nil, cli.Usagef("no --line given (e.g. --line 'epgm://eth1;239.192.1.1:5555')")
	case c.rate < 0:
		return nil, cli.Usagef("--rate %v must not be negative", c.rate)
	case c.duration < 0:
		return nil, cli.Usagef("--duration %v must not be negative", c.duration)
	case c.frameBytes < bus.HeaderLen+64 || c.frameBytes > bus.MaxFrameLen:
		return nil, cli.Usagef("--frame-bytes %d: want %d-%d", c.frameBytes, bus.HeaderLen+64, bus.MaxFrameLen)
	case c.size > c.frameBytes-bus.HeaderLen:
		return nil, cli.Usagef("--size %d does not fit in --frame-bytes %d", c.size, c.frameBytes)
	case c.heartbeat <= 0:
		return nil, cli.Usagef("--heartbeat %v must be positive", c.heartbeat)
	case c.warmup < 0 || c.linger < 0:
		return nil, cli.Usagef("--warmup and --linger must not be negative")
	case c.stream > 1<<32-1:
		return nil, cli.Usagef("--stream %d does not fit in 32 bits", c.stream)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	src, err := synth.New(c.symbols, c.size, c.seed)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	lines, err := bus.ParseLines(c.lines)
	if err != nil {
		return err
	}
	place, err := c.affinity.Resolve(lines)
	if err != nil {
		return err
	}
	if c.affinity.ShowPlan() {
		return place.Print(stdout)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "feedpub: warning: "+format+"\n", args...) }
	for _, w := range place.Warnings {
		logf("%s", w)
	}
	pub, err := bus.NewPublisher(c.lines, c.socket.Options(logf)...)
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := place.PinIO(); err != nil {
		return err
	}
	tid, unlock, err := place.LockLoop("feedpub/send")
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(stderr, "feedpub: send loop on thread %d\n", tid)

	session := newSessionID()
	for i, e := range pub.Lines() {
		fmt.Fprintf(stderr, "feedpub: line %s %s session %016x\n", bus.LineName(i), e, session)
	}
	p := &publisher{cfg: c, pub: pub, src: src, hdr: bus.Header{Session: session, Stream: uint32(c.stream), FirstSeq: 1}}
	if err := p.loop(ctx); err != nil {
		return err
	}
	elapsed := p.lastData.Sub(p.firstData).Seconds()
	fmt.Fprintf(stderr, "feedpub: sent %d messages in %d frames (and %d heartbeats) in %.2fs, %.0f msg/s\n",
		p.messages, p.frames, p.heartbeats, elapsed, float64(p.messages)/max(elapsed, 1e-9))
	return nil
}

// newSessionID returns a random non-zero id, new on every start, so a
// subscriber can tell a restart from a gap.
func newSessionID() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

type publisher struct {
	cfg *config
	pub *bus.Publisher
	src *synth.Source
	hdr bus.Header
	w   bus.FrameWriter
	msg bus.Message

	lastSend   time.Time
	firstData  time.Time // first data frame sent
	lastData   time.Time // last data frame sent
	messages   uint64
	frames     uint64
	heartbeats uint64
}

// loop paces the feed: it sleeps until messages are due, then sends what
// is due in frames filled up to the budget, heartbeating while idle.
func (p *publisher) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}

	start := time.Now()
	for now := start; now.Sub(start) < p.cfg.warmup; now = time.Now() {
		if err := p.sendHeartbeat(now); err != nil {
			return err
		}
		if !sleep(min(p.cfg.heartbeat, 100*time.Millisecond)) {
			return nil
		}
	}

	start = time.Now()
	pacer := pace.New(p.cfg.rate, start)
	perFrame := max(1, (p.cfg.frameBytes-bus.HeaderLen)/max(p.cfg.size, 32))
	batch := perFrame * 64
	for ctx.Err() == nil {
		now := time.Now()
		if p.cfg.duration > 0 && now.Sub(start) >= p.cfg.duration {
			break
		}
		n := batch
		if p.cfg.count > 0 {
			left := p.cfg.count - p.messages
			if left == 0 {
				break
			}
			n = int(min(uint64(n), left))
		}
		n, wait := pacer.Due(now, n)
		if n == 0 {
			if now.Sub(p.lastSend) >= p.cfg.heartbeat {
				if err := p.sendHeartbeat(now); err != nil {
					return err
				}
			}
			sleep(min(wait, p.cfg.heartbeat))
			continue
		}
		if err := p.sendMessages(n); err != nil {
			return err
		}
		pacer.Sent(n)
	}
	if ctx.Err() != nil {
		return nil
	}
	// Let subscribers see the last sequence number and repair any tail
	// loss while the PGM window still holds the data.
	for end := time.Now().Add(p.cfg.linger); time.Now().Before(end); {
		if err := p.sendHeartbeat(time.Now()); err != nil {
			return err
		}
		if !sleep(min(p.cfg.heartbeat, 100*time.Millisecond)) {
			return nil
		}
	}
	return nil
}

func (p *publisher) sendMessages(n int) error {
	p.hdr.Flags = 0
	p.w.Begin(&p.hdr)
	for i := 0; i < n; i++ {
		p.src.Next(&p.msg)
		if p.w.Count() > 0 && p.w.Len()+p.msg.EncodedLen() > p.cfg.frameBytes {
			if err := p.flush(); err != nil {
				return err
			}
			p.w.Begin(&p.hdr)
		}
		if err := p.w.Add(&p.msg); err != nil {
			return err
		}
	}
	return p.flush()
}

// flush stamps and sends the frame in progress and moves the sequence on.
func (p *publisher) flush() error {
	now := time.Now()
	frame := p.w.Finish(now.UnixNano())
	if err := p.pub.Send(frame); err != nil {
		return err
	}
	if p.frames == 0 {
		p.firstData = now
	}
	p.lastSend, p.lastData = now, now
	p.frames++
	p.messages += uint64(p.w.Count())
	p.hdr.FirstSeq += uint64(p.w.Count())
	return nil
}

func (p *publisher) sendHeartbeat(now time.Time) error {
	h := p.hdr
	h.Flags = bus.FlagHeartbeat
	p.w.Begin(&h)
	if err := p.pub.Send(p.w.Finish(now.UnixNano())); err != nil {
		return err
	}
	p.lastSend = now
	p.heartbeats++
	return nil
}
