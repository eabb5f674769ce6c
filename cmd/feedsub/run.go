package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/snail"
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
	workers  int
	queueLen int
	overflow string
	work     time.Duration
	workOn   string
	drain    time.Duration
	books    int
	hlog     string
	expected time.Duration
	snail    snail.Config
	onSnail  string
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
	fs.IntVar(&c.workers, "workers", 0, "worker goroutines, messages sharded by symbol (default: one per --pin-workers CPU, else the CPUs the pinned I/O and receive threads leave, at least 1)")
	fs.IntVar(&c.queueLen, "queue-len", fanout.DefaultQueueLen, "messages queued per worker before --overflow applies")
	fs.StringVar(&c.overflow, "overflow", "drop", "when a worker's queue is full: drop (and count) or conflate (keep the newest quote and trade per symbol)")
	fs.DurationVar(&c.work, "work", 0, "simulated cost per message in each worker, for tests and capacity planning")
	fs.StringVar(&c.workOn, "work-on", "", "comma-separated workers that get --work (default: all), to model one slow worker")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "at the end, how long workers may take to finish what is queued before it is abandoned (and counted)")
	fs.StringVar(&c.hlog, "hlog", "", "write an HdrHistogram interval log (.hlog, ns) of the latency, one interval per --status step (1s if 0)")
	fs.DurationVar(&c.expected, "expected-interval", 0, "the publisher's interval between messages (1/rate): also report latency corrected for coordinated omission")
	fs.IntVar(&c.books, "books", 10, "last-value books of the first N symbols to print in the summary and the JSON (SIGUSR1 prints all while running)")
	c.snail = snail.DefaultConfig()
	c.snail.RegisterFlags(fs)
	fs.StringVar(&c.onSnail, "snail-action", "warn", "when the subscriber cannot keep up: warn (log and count) or exit (summary, one line, exit code 3)")
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
	if c.onSnail != "warn" && c.onSnail != "exit" {
		return nil, cli.Usagef("--snail-action %q: want warn or exit", c.onSnail)
	}
	if err := c.snail.Validate(); err != nil {
		return nil, cli.UsageError{Err: err}
	}
	if c.workers < 0 || c.books < 0 {
		return nil, cli.Usagef("--workers and --books must not be negative")
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
	logf := cli.Warner("feedsub", stderr)
	place, shown, err := c.affinity.Prepare(c.lines, stdout, logf)
	if err != nil || shown {
		return err
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
	det, err := snail.New(c.snail)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	fan, err := newFanout(c, place, det)
	if err != nil {
		return err
	}
	defer fan.Stop()
	sub, err := bus.NewSubscriber(c.lines, c.socket.Options(logf)...)
	if err != nil {
		return err
	}
	defer sub.Close()
	unlock, err := place.Start("feedsub", "recv", stderr)
	if err != nil {
		return err
	}
	defer unlock()
	for i, e := range sub.Lines() {
		fmt.Fprintf(stderr, "feedsub: line %s %s joined\n", bus.LineName(i), e)
	}

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	r := newReceiver(c, sub, dec, fan, det, stdout, stderr)
	r.usr1 = usr1
	if c.hlog != "" {
		f, err := os.Create(c.hlog)
		if err != nil {
			return fmt.Errorf("--hlog: %w", err)
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		defer w.Flush()
		if err := r.lat.LogTo(w, "feedsub one-way latency, ns: "+strings.Join(c.lines, " "), time.Now()); err != nil {
			return err
		}
	}
	r.loop(ctx)
	drain(fan, r.verdict == nil, c.drain)
	s := r.summary()
	if c.json != "" {
		if err := summary.WriteJSONFile(c.json, s); err != nil {
			return err
		}
	}
	if err := summary.WriteTable(stdout, s); err != nil {
		return err
	}
	if c.books > 0 {
		fmt.Fprintln(stdout)
		if err := fan.WriteBooks(stdout, c.books); err != nil {
			return err
		}
	}
	if r.verdict != nil {
		return snailExit{*r.verdict}
	}
	return nil
}

// drain lets the workers finish their queues for at most d (not at all
// after a snail verdict: the subscriber already cannot keep up), then
// abandons the rest, which the workers count.
func drain(fan *fanout.Fanout, wait bool, d time.Duration) {
	if !wait || d <= 0 {
		fan.Stop()
		return
	}
	done := make(chan struct{})
	go func() { fan.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		fan.Stop()
		<-done
	}
}

// snailExit ends feedsub with ExitSnail; its message is the verdict.
type snailExit struct{ v snail.Verdict }

func (e snailExit) Error() string { return e.v.String() }
func (e snailExit) ExitCode() int { return cli.ExitSnail }

// newFanout starts the workers: as many as --workers, or one per
// --pin-workers CPU, or one per CPU that pinned hot threads leave free.
func newFanout(c *config, place *cli.Placement, det *snail.Detector) (*fanout.Fanout, error) {
	policy, err := fanout.ParsePolicy(c.overflow)
	if err != nil {
		return nil, cli.Usagef("--overflow %q: want drop or conflate", c.overflow)
	}
	pins := place.Plan.Workers.CPUs()
	n := c.workers
	switch {
	case n > 0 && len(pins) > 0 && n != len(pins):
		return nil, cli.Usagef("--workers %d but --pin-workers (or pin_workers) names %d CPUs", n, len(pins))
	case n == 0 && len(pins) > 0:
		n = len(pins)
	case n == 0:
		busy := map[int]bool{}
		for _, cpu := range place.Plan.IO {
			busy[cpu] = true
		}
		if place.Plan.Recv != nil {
			busy[*place.Plan.Recv] = true
		}
		n = max(1, runtime.NumCPU()-len(busy))
	}
	var workOn []int
	if c.workOn != "" {
		for _, f := range strings.Split(c.workOn, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || i < 0 || i >= n {
				return nil, cli.Usagef("--work-on %q: want worker numbers 0-%d", c.workOn, n-1)
			}
			workOn = append(workOn, i)
		}
	}
	f, err := fanout.New(fanout.Config{
		Workers:  n,
		WorkOn:   workOn,
		QueueLen: c.queueLen,
		Overflow: policy,
		Work:     c.work,
		PinCPUs:  pins,
		Detector: det,
	})
	if err != nil {
		return nil, cli.UsageError{Err: err}
	}
	return f, nil
}

// receiver is the receive loop and everything it owns: sockets, sequence
// tracking, histograms and counters. Nothing here is shared with another
// goroutine, so nothing needs a lock.
type receiver struct {
	cfg     *config
	sub     *bus.Subscriber
	dec     *bus.Decoder
	fan     *fanout.Fanout
	det     *snail.Detector
	probe   *snail.Probe
	out     io.Writer
	status  io.Writer
	usr1    chan os.Signal
	verdict *snail.Verdict
	gaps    uint64 // tracker gaps already reported to the probe
	tracker *bus.Tracker
	lat     *latency.Recorder
	lines   []lineState
	topics  [][]byte

	frame bus.Frame
	msg   bus.Message

	received, filtered, malformed  uint64
	frames, heartbeats             uint64
	lastMalformed                  error
	firstData, lastData            time.Time
	endReason                      string
	statusReceived                 uint64
	statusFrames, statusHeartbeats uint64
	timeline                       []summary.Interval
	tickWon                        []uint64 // per line, won at the last tick
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

func newReceiver(c *config, sub *bus.Subscriber, dec *bus.Decoder, fan *fanout.Fanout, det *snail.Detector, out, status io.Writer) *receiver {
	r := &receiver{
		cfg:     c,
		sub:     sub,
		dec:     dec,
		fan:     fan,
		det:     det,
		probe:   det.Probe("receive loop"),
		out:     out,
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
		select {
		case v := <-r.det.Verdicts():
			if r.onVerdict(v) {
				r.endReason = "snail"
				return
			}
		case <-r.usr1:
			r.fan.WriteBooks(r.out, 0)
		default:
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
			r.reportGaps(now.UnixNano())
		}
		if r.cfg.rejoin > 0 && len(r.lines) > 1 && !now.Before(nextStallCheck) {
			r.rejoinStalled(now)
			nextStallCheck = now.Add(pollEvery)
		}
	}
}

// onVerdict handles a trip of the snail detector and reports whether the
// subscriber should stop.
func (r *receiver) onVerdict(v snail.Verdict) bool {
	if r.cfg.onSnail == "exit" {
		r.verdict = &v
		return true
	}
	fmt.Fprintf(r.status, "feedsub: warning: %s\n", v)
	return false
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
		r.fan.Dispatch(&r.msg, seq, f.SendTime, ns)
	}
	r.probe.Observe(ns, f.SendTime)
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
	r.reportGaps(ns)
}

// reportGaps tells the snail detector about gaps declared since last time.
func (r *receiver) reportGaps(ns int64) {
	if g := r.tracker.Gaps(); g > r.gaps {
		r.probe.Gap(ns, int(g-r.gaps))
		r.gaps = g
	}
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
	p := r.lat.Interval(now)
	if r.cfg.status > 0 {
		st := r.tracker.Stats()
		rate := float64(r.received-r.statusReceived) / every.Seconds()
		// A quiet feed still heartbeats; a dead one says nothing at all.
		state := ""
		if r.frames == r.statusFrames {
			state = " (silent: no frames)"
			if r.heartbeats > r.statusHeartbeats {
				state = " (quiet: heartbeats only)"
			}
		}
		fmt.Fprintf(r.status, "feedsub: %s rate %.0f msg/s recv %d gaps %d dup %d bad %d p50 %s p99 %s%s\n",
			now.Format("15:04:05"), rate, r.received, st.Gaps, st.Duplicates, r.malformed,
			latency.Format(p.P50), latency.Format(p.P99), state)
	}
	r.statusReceived, r.statusFrames, r.statusHeartbeats = r.received, r.frames, r.heartbeats
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
		Workers:         r.fan.Stats(),
		Snail:           r.det.Stats(),
	}
	for _, w := range s.Workers {
		s.Dropped += w.Dropped
		s.Conflated += w.Conflated
	}
	if r.verdict != nil {
		s.SnailVerdict = r.verdict.String()
	}
	if r.cfg.books > 0 {
		books := r.fan.Books()
		s.Books = books[:min(r.cfg.books, len(books))]
	}
	s.VmHWMBytes = peakRSS()
	if r.cfg.expected > 0 {
		c := r.lat.Corrected(int64(r.cfg.expected))
		s.LatencyCorrectedUS = &c
		s.ExpectedIntervalUS = float64(r.cfg.expected) / 1e3
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

// peakRSS returns this process's peak resident set (VmHWM), or 0.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
