package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
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
	maxDelay   time.Duration
	compress   string
	codec      bus.Codec
	zstdDict   string
	trainDict  string
	dictSize   int
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
	fs.DurationVar(&c.maxDelay, "max-delay", 50*time.Microsecond, "longest a message waits in a frame for more to fill it; a frame goes out at once when the next message is due later")
	fs.StringVar(&c.compress, "compress", "none", "frame body compression: none, s2 or zstd")
	fs.StringVar(&c.zstdDict, "zstd-dict", "", "zstd dictionary file (see --train-dict); subscribers need the same file")
	fs.StringVar(&c.trainDict, "train-dict", "", "train a zstd dictionary on the synthetic feed (--symbols, --size), write it to this file and exit")
	fs.IntVar(&c.dictSize, "dict-size", 16<<10, "size of the dictionary --train-dict builds, in bytes")
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
	codec, err := bus.ParseCodec(c.compress)
	if err != nil {
		return nil, cli.Usagef("--compress %q: want none, s2 or zstd", c.compress)
	}
	c.codec = codec
	switch {
	case c.trainDict != "":
		if c.dictSize < 256 || c.dictSize > 1<<20 {
			return nil, cli.Usagef("--dict-size %d: want 256 to 1048576 bytes", c.dictSize)
		}
		return c, nil
	case c.zstdDict != "" && c.codec != bus.CodecZstd:
		return nil, cli.Usagef("--zstd-dict needs --compress zstd")
	case c.maxDelay < 0:
		return nil, cli.Usagef("--max-delay %v must not be negative", c.maxDelay)
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
	if c.trainDict != "" {
		return trainDictionary(c, src, stderr)
	}
	var dictionary []byte
	if c.zstdDict != "" {
		if dictionary, err = os.ReadFile(c.zstdDict); err != nil {
			return cli.UsageError{Err: fmt.Errorf("--zstd-dict: %w", err)}
		}
	}
	comp, err := bus.NewCompressor(c.codec, dictionary)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	logf := cli.Warner("feedpub", stderr)
	place, shown, err := c.affinity.Prepare(c.lines, stdout, logf)
	if err != nil || shown {
		return err
	}
	pub, err := bus.NewPublisher(c.lines, c.socket.Options(logf)...)
	if err != nil {
		return err
	}
	defer pub.Close()
	unlock, err := place.Start("feedpub", "send", stderr)
	if err != nil {
		return err
	}
	defer unlock()

	session := newSessionID()
	for i, e := range pub.Lines() {
		fmt.Fprintf(stderr, "feedpub: line %s %s session %016x\n", bus.LineName(i), e, session)
	}
	for _, w := range rateWarnings(c) {
		logf("%s", w)
	}
	p := &publisher{cfg: c, pub: pub, src: src, comp: comp, hdr: bus.Header{Session: session, Stream: uint32(c.stream), FirstSeq: 1}}
	if err := p.loop(ctx); err != nil {
		return err
	}
	elapsed := p.lastData.Sub(p.firstData).Seconds()
	fmt.Fprintf(stderr, "feedpub: sent %d messages in %d frames (%.1f a frame, %d bytes on the wire) and %d heartbeats in %.2fs, %.0f msg/s\n",
		p.messages, p.frames, float64(p.messages)/max(float64(p.frames), 1), p.wireBytes, p.heartbeats, elapsed, float64(p.messages)/max(elapsed, 1e-9))
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

	comp       *bus.Compressor
	frameStart time.Time // when the frame in progress got its first message
	wireBytes  uint64    // bytes of data frames sent, after compression
	lastSend   time.Time
	firstData  time.Time // first data frame sent
	lastData   time.Time // last data frame sent
	messages   uint64
	frames     uint64
	heartbeats uint64
}

// loop paces the feed. It sleeps until messages are due, then packs what
// is due into the frame in progress. A frame goes out when it is full, or
// when holding it for the next message would exceed --max-delay: at low
// rates every message leaves at once, at high rates frames fill up.
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
			left := p.cfg.count - pacer.Total()
			if left == 0 {
				break
			}
			n = int(min(uint64(n), left))
		}
		n, wait := pacer.Due(now, n)
		if n > 0 {
			if err := p.addMessages(n, now); err != nil {
				return err
			}
			pacer.Sent(n)
			if _, wait = pacer.Due(now, 1); wait == 0 {
				continue // more are due already: keep filling
			}
		}
		if p.w.Count() > 0 {
			// Hold the frame only if the next message comes before its deadline.
			deadline := p.frameStart.Add(p.cfg.maxDelay)
			if !now.Add(wait).Before(deadline) {
				if err := p.flush(); err != nil {
					return err
				}
			} else {
				sleep(deadline.Sub(now))
				continue
			}
		} else if now.Sub(p.lastSend) >= p.cfg.heartbeat {
			if err := p.sendHeartbeat(now); err != nil {
				return err
			}
		}
		if wait > 0 {
			sleep(min(wait, p.cfg.heartbeat))
		}
	}
	if p.w.Count() > 0 {
		if err := p.flush(); err != nil {
			return err
		}
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

// addMessages adds n messages to the frame in progress, sending frames as
// they fill up.
func (p *publisher) addMessages(n int, now time.Time) error {
	for i := 0; i < n; i++ {
		p.src.Next(&p.msg)
		if p.w.Count() > 0 && p.w.Len()+p.msg.EncodedLen() > p.cfg.frameBytes {
			if err := p.flush(); err != nil {
				return err
			}
		}
		if p.w.Count() == 0 {
			p.hdr.Flags = 0
			p.w.Begin(&p.hdr)
			p.frameStart = now
		}
		if err := p.w.Add(&p.msg); err != nil {
			return err
		}
	}
	return nil
}

// flush stamps, compresses and sends the frame in progress and moves the
// sequence on.
func (p *publisher) flush() error {
	now := time.Now()
	frame := p.comp.Compress(p.w.Finish(now.UnixNano()))
	if err := p.pub.Send(frame); err != nil {
		return err
	}
	if p.frames == 0 {
		p.firstData = now
	}
	p.lastSend, p.lastData = now, now
	p.frames++
	p.wireBytes += uint64(len(frame))
	p.messages += uint64(p.w.Count())
	p.hdr.FirstSeq += uint64(p.w.Count())
	p.w.Begin(&p.hdr) // empty: Count() is 0 until the next Add
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

// rateWarnings says when PGM's rate limit, not --rate, will set the pace.
func rateWarnings(c *config) []string {
	size := max(c.size, 40)
	perFrame := max(1, (c.frameBytes-bus.HeaderLen)/size)
	// Wire bytes per message: its share of the frame header and of the
	// PGM, UDP and IP headers (about 60 bytes a packet).
	perMsg := float64(size) + float64(bus.HeaderLen+60)/float64(perFrame)
	ceiling := float64(c.socket.Rate) * 1000 / 8 / perMsg
	switch {
	case c.rate == 0:
		return []string{fmt.Sprintf("--rate 0: --pgm-rate %d kbit/s caps the feed at about %.0f msg/s of %d bytes (uncompressed)", c.socket.Rate, ceiling, size)}
	case c.rate > ceiling:
		return []string{fmt.Sprintf("--rate %.0f msg/s of %d bytes needs about %.0f kbit/s, above --pgm-rate %d kbit/s: PGM will hold the feed to about %.0f msg/s",
			c.rate, size, c.rate*perMsg*8/1000, c.socket.Rate, ceiling)}
	}
	return nil
}

// trainDictionary builds a zstd dictionary from frames of the synthetic
// feed as this configuration would send them.
func trainDictionary(c *config, src *synth.Source, stderr io.Writer) error {
	var w bus.FrameWriter
	var m bus.Message
	var frames [][]byte
	seq := uint64(1)
	for len(frames) < 2000 {
		w.Begin(&bus.Header{Session: 1, Stream: uint32(c.stream), FirstSeq: seq})
		for {
			src.Next(&m)
			if w.Count() > 0 && w.Len()+m.EncodedLen() > c.frameBytes {
				break
			}
			if err := w.Add(&m); err != nil {
				return err
			}
		}
		seq += uint64(w.Count())
		frames = append(frames, bytes.Clone(w.Finish(0)))
	}
	d, err := bus.TrainDictionary(frames, c.dictSize)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.trainDict, d, 0o644); err != nil {
		return fmt.Errorf("writing dictionary: %w", err)
	}
	fmt.Fprintf(stderr, "feedpub: wrote a %d-byte zstd dictionary trained on %d frames to %s\n", len(d), len(frames), c.trainDict)
	return nil
}
