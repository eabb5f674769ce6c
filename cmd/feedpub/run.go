package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/feedtext"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/internal/synth"
	"github.com/feedbus/feedbus/metrics"
	"github.com/feedbus/feedbus/pump"
	"github.com/feedbus/feedbus/replay"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.trainDict != "" {
		src, err := synth.New(c.symbols, c.size, c.seed)
		if err != nil {
			return cli.UsageError{Err: err}
		}
		return trainDictionary(c, src, stderr)
	}
	logf := cli.Warner("feedpub", stderr)
	place, shown, err := c.affinity.Prepare(c.lines, stdout, logf)
	if err != nil || shown {
		return err
	}
	src, closeSrc, err := openSource(c)
	if err != nil {
		return err
	}
	defer closeSrc()
	opts, err := publisherOptions(c, place.Plan.IO, logf)
	if err != nil {
		return err
	}
	if err := c.metrics.Start("feedpub", stderr); err != nil {
		return err
	}
	defer c.metrics.Close() // after the publisher's linger, deferred next
	pub, err := feedbus.NewPublisher(c.lines, opts...)
	if err != nil {
		return err
	}
	// On every return: a cancelled ctx skips the heartbeat linger.
	defer pub.Shutdown(ctx)
	if err := c.metrics.Add(metrics.NewPublisherCollector(pub)); err != nil {
		return err
	}
	badInput, err := metrics.NewInputErrors(pub.Stream())
	if err := c.metrics.Add(badInput, err); err != nil {
		return err
	}
	tid, unlock, err := place.LockLoop("feedpub/send")
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(stderr, "feedpub: send loop on thread %d\n", tid)
	for i, e := range pub.Lines() {
		fmt.Fprintf(stderr, "feedpub: line %s %s session %016x\n", bus.LineName(i), e, pub.Session())
	}
	for _, w := range rateWarnings(c, pub.Lines()) {
		logf("%s", w)
	}
	if err := warmUp(ctx, pub, c.warmup, c.heartbeat); err != nil {
		return err
	}

	res := result{start: time.Now(), badInput: badInput}
	switch {
	case c.replay != "":
		err = runReplay(ctx, c, pub, src.(*replay.Reader), &res, stderr)
	default:
		err = runPump(ctx, c, pub, src.(pump.Source), &res, stderr)
	}
	if err != nil {
		return err
	}
	if err := pub.Shutdown(ctx); err != nil && !errors.Is(err, feedbus.ErrClosed) {
		return err
	}
	s := res.summary(pub.Stats(), pub.Lines())
	if c.json != "" {
		if err := summary.WriteJSONFile(c.json, s); err != nil {
			return err
		}
	}
	report(stderr, s, c.onFull)
	summaryDone()
	return nil
}

// summaryDone is called once the summary is out, while /metrics still
// serves: a test's last scrape.
var summaryDone = func() {}

// openSource opens the feed's source: the synthetic feed, a text file or
// standard input (--input), or a capture (--replay). It returns a
// pump.Source or a *replay.Reader, and what closes it.
func openSource(c *config) (any, func() error, error) {
	none := func() error { return nil }
	switch {
	case c.input == "-":
		return feedtext.NewReader(os.Stdin), none, nil
	case c.input != "":
		f, err := os.Open(c.input)
		if err != nil {
			return nil, nil, cli.UsageError{Err: fmt.Errorf("--input: %w", err)}
		}
		return feedtext.NewReader(f), f.Close, nil
	case c.replay != "":
		f, err := os.Open(c.replay)
		if err != nil {
			return nil, nil, cli.UsageError{Err: fmt.Errorf("--replay: %w", err)}
		}
		r, err := replay.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, cli.UsageError{Err: fmt.Errorf("--replay %s: %w", c.replay, err)}
		}
		return r, f.Close, nil
	}
	src, err := synth.New(c.symbols, c.size, c.seed)
	if err != nil {
		return nil, nil, cli.UsageError{Err: err}
	}
	return synthSource{src}, none, nil
}

// synthSource adapts the synthetic feed, which never ends, to pump.Source.
type synthSource struct{ *synth.Source }

func (s synthSource) Next(m *bus.Message) error { s.Source.Next(m); return nil }

func publisherOptions(c *config, ioCPUs []int, logf func(string, ...any)) ([]feedbus.PublisherOption, error) {
	var dictionary []byte
	if c.zstdDict != "" && c.codec == bus.CodecZstd { // with --replay alone it is for reading the capture
		d, err := os.ReadFile(c.zstdDict)
		if err != nil {
			return nil, cli.UsageError{Err: fmt.Errorf("--zstd-dict: %w", err)}
		}
		dictionary = d
	}
	full, err := bus.ParseFullPolicy(c.onFull)
	if err != nil {
		return nil, cli.UsageError{Err: fmt.Errorf("--on-full: %w", err)}
	}
	opts := []feedbus.PublisherOption{
		feedbus.WithFrameBytes(c.frameBytes),
		feedbus.WithMaxDelay(c.maxDelay),
		feedbus.WithHeartbeat(c.heartbeat),
		feedbus.WithLinger(c.linger),
		feedbus.WithStream(uint32(c.stream)),
		feedbus.WithCompression(c.codec, dictionary),
		feedbus.WithPublisherSockets(append(c.socket.Options(logf), bus.WithOnFull(full))...),
	}
	if len(ioCPUs) > 0 {
		opts = append(opts, feedbus.WithIOCPUs(ioCPUs...))
	}
	if c.authKey != "" {
		keys, err := loadKeys(c.authKey, logf)
		if err != nil {
			return nil, err
		}
		opts = append(opts, feedbus.WithSigning(keys))
	}
	if c.input == "" {
		// The synthetic feed and a replay know when their next message is
		// due and flush themselves; a text source may block on a read, so
		// it leaves partial frames to the publisher's flusher.
		opts = append(opts, feedbus.WithManualFlush())
	}
	return opts, nil
}

// warmUp sends only heartbeats for d, so subscribers join the session
// before its first message.
func warmUp(ctx context.Context, pub *feedbus.Publisher, d, heartbeat time.Duration) error {
	if d <= 0 {
		return nil
	}
	tick := time.NewTicker(min(heartbeat, 100*time.Millisecond))
	defer tick.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		if err := pub.Heartbeat(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-tick.C:
		}
	}
}

// result is what a run did, beyond the publisher's own counters.
type result struct {
	start    time.Time
	rejected uint64
	badInput *metrics.InputErrors // --input's bad lines as they come, for --metrics
}

func runPump(ctx context.Context, c *config, pub *feedbus.Publisher, src pump.Source, res *result, stderr io.Writer) error {
	o := pump.Options{Rate: c.rate, Count: c.count, Duration: c.duration, MaxDelay: c.maxDelay}
	if c.input != "" {
		o.OnError = func(err error) error {
			res.badInput.Add()
			if c.strict {
				return cli.UsageError{Err: fmt.Errorf("--input %s: %w (--strict)", c.input, err)}
			}
			fmt.Fprintf(stderr, "feedpub: --input %s: %v (skipped)\n", c.input, err)
			return nil
		}
	}
	st, err := pump.Run(ctx, pub, src, o)
	res.start, res.rejected = st.Start, st.Rejected
	return err
}

func runReplay(ctx context.Context, c *config, pub *feedbus.Publisher, r *replay.Reader, res *result, stderr io.Writer) error {
	var dicts [][]byte
	if c.zstdDict != "" {
		d, err := os.ReadFile(c.zstdDict)
		if err != nil {
			return cli.UsageError{Err: fmt.Errorf("--zstd-dict: %w", err)}
		}
		dicts = append(dicts, d)
	}
	dec, err := bus.NewDecoder(dicts...)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	defer dec.Close()
	res.start = time.Now()
	st, err := replay.Run(ctx, r, dec, pub, replay.Options{Speed: c.speed})
	res.rejected = st.Malformed
	if err != nil {
		return fmt.Errorf("--replay %s: %w", c.replay, err)
	}
	fmt.Fprintf(stderr, "feedpub: --replay %s: %d frames read (%d heartbeats, %d malformed), %d messages published, %d second copies and %d of unknown kinds skipped\n",
		c.replay, st.Frames, st.Heartbeats, st.Malformed, st.Messages, st.Duplicates, st.Skipped)
	if st.Messages == 0 && st.Malformed > 0 {
		hint := ""
		if c.zstdDict == "" {
			hint = "; if the feed was compressed with a zstd dictionary, give it with --zstd-dict"
		}
		return fmt.Errorf("--replay %s: none of its %d data frames decoded%s", c.replay, st.Malformed, hint)
	}
	return nil
}

func (res *result) summary(st feedbus.PublisherStats, lines []bus.Endpoint) *summary.Publisher {
	s := &summary.Publisher{
		Session:    fmt.Sprintf("%016x", st.Session),
		Messages:   st.Messages,
		Frames:     st.Frames,
		Heartbeats: st.Heartbeats,
		WireBytes:  st.WireBytes,
		Rejected:   res.rejected,
	}
	if st.Frames > 0 {
		s.ElapsedS = st.LastSend.Sub(res.start).Seconds()
		if s.ElapsedS > 0 {
			s.MsgsPerS = float64(st.Messages) / s.ElapsedS
		}
	}
	for i, e := range lines {
		ln := st.Lines[i]
		s.Lines = append(s.Lines, summary.PublisherLine{
			Name:            bus.LineName(i),
			Endpoint:        e.String(),
			Frames:          ln.Sent,
			DroppedFrames:   ln.Dropped,
			DroppedMessages: ln.DroppedMessages,
			Messages:        st.Messages - ln.DroppedMessages,
			Waits:           ln.Waits,
		})
	}
	return s
}

func report(w io.Writer, s *summary.Publisher, onFull string) {
	rate := "too short to time"
	if s.ElapsedS >= 0.001 {
		rate = fmt.Sprintf("%.0f msg/s", s.MsgsPerS)
	}
	fmt.Fprintf(w, "feedpub: published %d messages in %d frames (%.1f a frame, %d bytes on the wire) and %d heartbeats in %.3fs, %s\n",
		s.Messages, s.Frames, float64(s.Messages)/max(float64(s.Frames), 1), s.WireBytes, s.Heartbeats, s.ElapsedS, rate)
	if s.Rejected > 0 {
		fmt.Fprintf(w, "feedpub: %d bad input records skipped\n", s.Rejected)
	}
	for _, ln := range s.Lines {
		if ln.DroppedFrames > 0 || ln.Waits > 0 {
			fmt.Fprintf(w, "feedpub: line %s sent %d messages: %d frames (%d messages) dropped and %d waits because the line was full (--on-full %s)\n",
				ln.Name, ln.Messages, ln.DroppedFrames, ln.DroppedMessages, ln.Waits, onFull)
		}
	}
}

// rateWarnings says when PGM's rate limit, not --rate, will set the pace.
// It applies to pgm and epgm lines only.
func rateWarnings(c *config, lines []bus.Endpoint) []string {
	multicast := false
	for _, e := range lines {
		multicast = multicast || e.Multicast()
	}
	if !multicast || c.input != "" || c.replay != "" {
		return nil
	}
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

// loadKeys reads an --auth-key file, passing its warnings (a file others
// can read) to logf.
func loadKeys(path string, logf func(string, ...any)) (*auth.Keys, error) {
	keys, err := auth.LoadKeys(path)
	if err != nil {
		return nil, cli.UsageError{Err: fmt.Errorf("--auth-key: %w", err)}
	}
	for _, w := range keys.Warnings() {
		logf("%s", w)
	}
	return keys, nil
}
