package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
)

type config struct {
	lines    cli.Strings
	topics   cli.Strings
	count    uint64
	idle     time.Duration
	json     string
	status   time.Duration
	gapWait  time.Duration
	gapFlag  cli.AutoDuration
	rejoin   time.Duration
	dicts    cli.Strings
	socket   cli.Socket
	affinity cli.Affinity
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("feedsub", flag.ContinueOnError)
	fs.Var(&c.lines, "line", "line endpoint to join, repeatable: epgm://IFACE;GROUP:PORT, pgm://..., tcp://HOST:PORT or ipc://PATH")
	fs.Var(&c.topics, "topic", "deliver only symbols with this prefix, repeatable (default: all)")
	fs.Uint64Var(&c.count, "count", 0, "stop after this many messages (0 = no limit)")
	fs.DurationVar(&c.idle, "idle", 0, "stop after this long without data (0 = never)")
	fs.StringVar(&c.json, "json", "", "write a machine-readable summary to this file at the end")
	fs.DurationVar(&c.status, "status", time.Second, "print a status line this often (0 = never)")
	fs.Var(&c.gapFlag, "gap-wait", "how long a hole may wait for another line to fill it before it is a gap (default: 0 with one line, 100ms with more)")
	fs.Var(&c.dicts, "zstd-dict", "zstd dictionary file the publisher compresses with, repeatable")
	fs.DurationVar(&c.rejoin, "rejoin-after", time.Second, "with two lines or more, rejoin a line that has delivered nothing for this long while another line delivers (0 = never)")
	c.socket.Register(fs, "receive")
	c.affinity.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedsub --line ENDPOINT [--line ENDPOINT] [flags]\n\nJoins every line, keeps the first copy of each message, and reports rate, loss and latency.\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	if len(c.lines) == 0 {
		return nil, cli.Usagef("no --line given (e.g. --line 'epgm://eth1;239.192.1.1:5555')")
	}
	if c.idle < 0 || c.status < 0 || c.rejoin < 0 {
		return nil, cli.Usagef("--idle, --status and --rejoin-after must not be negative")
	}
	for _, t := range c.topics {
		if t == "" || len(t) > bus.MaxSymbolLen {
			return nil, cli.Usagef("--topic %q: want a symbol prefix of 1-%d bytes", t, bus.MaxSymbolLen)
		}
	}
	c.gapWait = c.gapFlag.D
	if !c.gapFlag.IsSet && len(c.lines) > 1 {
		c.gapWait = 100 * time.Millisecond
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
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
	var dicts [][]byte
	for _, path := range c.dicts {
		d, err := os.ReadFile(path)
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
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "feedsub: warning: "+format+"\n", args...) }
	for _, w := range place.Warnings {
		logf("%s", w)
	}
	sub, err := bus.NewSubscriber(c.lines, c.socket.Options(logf)...)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := place.PinIO(); err != nil {
		return err
	}
	tid, unlock, err := place.LockLoop("feedsub/recv")
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(stderr, "feedsub: receive loop on thread %d\n", tid)
	for i, e := range sub.Lines() {
		fmt.Fprintf(stderr, "feedsub: line %s %s joined\n", bus.LineName(i), e)
	}

	r := newReceiver(c, sub, dec, stderr)
	r.loop(ctx)
	s := r.summary()
	if c.json != "" {
		if err := summary.WriteJSONFile(c.json, s); err != nil {
			return err
		}
	}
	return summary.WriteTable(stdout, s)
}

// receiver is the receive loop and everything it owns: sockets, sequence
// tracking, histograms and counters. Nothing here is shared with another
// goroutine, so nothing needs a lock.
type receiver struct {
	cfg     *config
	sub     *bus.Subscriber
	dec     *bus.Decoder
	status  io.Writer
	tracker *bus.Tracker
	lat     *latency.Recorder
	lines   []lineState
	topics  [][]byte

	frame bus.Frame
	msg   bus.Message

	received, filtered, malformed uint64
	frames, heartbeats            uint64
	lastMalformed                 error
	firstData, lastData           time.Time
	endReason                     string
	statusReceived                uint64
	timeline                      []summary.Interval
	tickWon                       []uint64 // per line, won at the last tick
}

type lineState struct {
	tracker   *bus.Tracker // this line alone, for its own gaps
	lat       *latency.Recorder
	received  uint64
	won       uint64
	frames    uint64
	lastFrame time.Time // last frame of any kind, or the last (re)join
	rejoins   uint64
}

func newReceiver(c *config, sub *bus.Subscriber, dec *bus.Decoder, status io.Writer) *receiver {
	r := &receiver{
		cfg:     c,
		sub:     sub,
		dec:     dec,
		status:  status,
		tracker: bus.NewTracker(c.gapWait),
		lat:     latency.New(),
		lines:   make([]lineState, len(sub.Lines())),
		tickWon: make([]uint64, len(sub.Lines())),
	}
	now := time.Now()
	for i := range r.lines {
		r.lines[i] = lineState{tracker: bus.NewTracker(0), lat: latency.New(), lastFrame: now}
	}
	for _, t := range c.topics {
		r.topics = append(r.topics, []byte(t))
	}
	return r
}

// pollEvery bounds how long the loop waits for a frame before it looks at
// the clock, the signal and the idle limit.
const pollEvery = 50 * time.Millisecond

func (r *receiver) loop(ctx context.Context) {
	start := time.Now()
	nextStallCheck := start
	every := r.cfg.status
	if every <= 0 {
		every = time.Second
	}
	nextTick := start.Add(every)
	for {
		if ctx.Err() != nil {
			r.endReason = "signal"
			return
		}
		b, line, err := r.sub.Recv(pollEvery)
		now := time.Now()
		if err != nil {
			fmt.Fprintf(r.status, "feedsub: %v\n", err)
		} else if b != nil {
			r.handle(b, line, now)
			if r.cfg.count > 0 && r.received >= r.cfg.count {
				r.endReason = "count"
				return
			}
		} else if r.cfg.idle > 0 {
			last := r.lastData
			if last.IsZero() {
				last = start
			}
			if now.Sub(last) >= r.cfg.idle {
				r.endReason = "idle"
				return
			}
		}
		if !now.Before(nextTick) {
			r.tick(now, now.Sub(start), every)
			nextTick = now.Add(every)
		}
		if b == nil {
			r.tracker.Expire(now.UnixNano())
		}
		if r.cfg.rejoin > 0 && len(r.lines) > 1 && !now.Before(nextStallCheck) {
			r.rejoinStalled(now)
			nextStallCheck = now.Add(pollEvery)
		}
	}
}

// rejoinStalled rejoins each line that has been silent for --rejoin-after
// while another line has not: the feed is alive, so the silent line is
// stuck (PGM waiting for repairs that will never come) or cut off.
func (r *receiver) rejoinStalled(now time.Time) {
	alive := false
	for i := range r.lines {
		if now.Sub(r.lines[i].lastFrame) < r.cfg.rejoin {
			alive = true
		}
	}
	if !alive {
		return
	}
	for i := range r.lines {
		ln := &r.lines[i]
		if now.Sub(ln.lastFrame) < r.cfg.rejoin {
			continue
		}
		ln.lastFrame = now
		ln.rejoins++
		err := r.sub.Rejoin(i)
		fmt.Fprintf(r.status, "feedsub: line %s silent for %v while the feed runs on: rejoined (%v)\n",
			bus.LineName(i), r.cfg.rejoin, orOK(err))
	}
}

func orOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// handle is the per-frame path: decode, arbitrate, record. It allocates
// nothing for a good frame.
func (r *receiver) handle(b []byte, line int, now time.Time) {
	if err := r.dec.Decode(b, &r.frame); err != nil {
		r.malformed++
		r.lastMalformed = err
		return
	}
	ns := now.UnixNano()
	f := &r.frame
	ln := &r.lines[line]
	ln.lastFrame = now
	r.tracker.Begin(&f.Header, ns)
	ln.tracker.Begin(&f.Header, ns)
	if f.Heartbeat() {
		r.heartbeats++
		r.tracker.Expire(ns)
		return
	}
	r.frames++
	ln.frames++
	lat := ns - f.SendTime
	won := 0
	delivered := 0
	for {
		seq, ok := f.Next(&r.msg)
		if !ok {
			break
		}
		ln.tracker.Admit(seq, ns)
		if !r.tracker.Admit(seq, ns) {
			continue
		}
		won++
		if !r.match(r.msg.Symbol) {
			r.filtered++
			continue
		}
		delivered++
	}
	ln.received += uint64(f.Count)
	ln.won += uint64(won)
	ln.lat.Record(lat, int64(f.Count))
	if delivered > 0 {
		r.lat.Record(lat, int64(delivered))
		r.received += uint64(delivered)
		if r.firstData.IsZero() {
			r.firstData = now
		}
		r.lastData = now
	}
	r.tracker.Expire(ns)
}

func (r *receiver) match(symbol []byte) bool {
	if len(r.topics) == 0 {
		return true
	}
	for _, t := range r.topics {
		if bytes.HasPrefix(symbol, t) {
			return true
		}
	}
	return false
}

// tick runs once an interval: the timeline entry and the status line.
func (r *receiver) tick(now time.Time, sinceStart, every time.Duration) {
	if len(r.timeline) < summary.MaxTimeline {
		iv := summary.Interval{T: sinceStart.Seconds(), Received: r.received - r.statusReceived, Won: make([]uint64, len(r.lines))}
		for i := range r.lines {
			iv.Won[i] = r.lines[i].won - r.tickWon[i]
			r.tickWon[i] = r.lines[i].won
		}
		r.timeline = append(r.timeline, iv)
	}
	p := r.lat.Interval()
	if r.cfg.status > 0 {
		st := r.tracker.Stats()
		rate := float64(r.received-r.statusReceived) / every.Seconds()
		fmt.Fprintf(r.status, "feedsub: %s rate %.0f msg/s recv %d gaps %d dup %d bad %d p50 %s p99 %s\n",
			now.Format("15:04:05"), rate, r.received, st.Gaps, st.Duplicates, r.malformed,
			latency.Format(p.P50), latency.Format(p.P99))
	}
	r.statusReceived = r.received
}

func (r *receiver) summary() *summary.Summary {
	r.tracker.Expire(time.Now().UnixNano())
	st := r.tracker.Stats()
	s := &summary.Summary{
		Received:        r.received,
		Gaps:            st.Gaps,
		GapEvents:       st.GapEvents,
		Duplicates:      st.Duplicates,
		Reordered:       st.Reordered,
		Late:            st.Late,
		Pending:         st.Pending,
		Filtered:        r.filtered,
		Malformed:       r.malformed,
		Sessions:        st.Sessions,
		Frames:          r.frames,
		Heartbeats:      r.heartbeats,
		NegativeLatency: r.lat.Negative(),
		LatencyUS:       r.lat.Summary(),
		EndReason:       r.endReason,
		Timeline:        r.timeline,
	}
	if r.lastMalformed != nil {
		s.LastMalformed = r.lastMalformed.Error()
	}
	if !r.firstData.IsZero() {
		s.ElapsedS = r.lastData.Sub(r.firstData).Seconds()
		if s.ElapsedS > 0 {
			s.MsgsPerS = float64(s.Received) / s.ElapsedS
		}
	}
	for i, e := range r.sub.Lines() {
		ln := &r.lines[i]
		s.Lines = append(s.Lines, summary.Line{
			Name:      bus.LineName(i),
			Endpoint:  e.String(),
			Received:  ln.received,
			Won:       ln.won,
			Gaps:      ln.tracker.Stats().Gaps,
			Frames:    ln.frames,
			Rejoins:   ln.rejoins,
			LatencyUS: ln.lat.Summary(),
		})
	}
	return s
}
