package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/synth"
)

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
	full, err := bus.ParseFullPolicy(c.onFull)
	if err != nil {
		return cli.UsageError{Err: fmt.Errorf("--on-full: %w", err)}
	}
	pub, err := bus.NewPublisher(c.lines, append(c.socket.Options(logf), bus.WithOnFull(full), bus.WithLinger(c.linger))...)
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
	for i, st := range pub.Stats() {
		if st.Dropped > 0 || st.Waits > 0 {
			fmt.Fprintf(stderr, "feedpub: line %s: %d frames dropped and %d waits because the line was full (--on-full %s)\n",
				bus.LineName(i), st.Dropped, st.Waits, c.onFull)
		}
	}
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
