package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/metrics"
	"github.com/prometheus/procfs"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// SIGUSR1 prints the books. Catch it first thing: its default effect
	// ends the process, and an operator may send it at any time.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := cli.Warner("feedsub", stderr)
	place, shown, err := c.affinity.Prepare(c.lines, stdout, logf)
	if err != nil || shown {
		return err
	}
	if w := spinWarning(c.spin, place.Plan); w != "" {
		logf("%s", w)
	}
	opts, err := subscriberOptions(c, place, stderr, logf)
	if err != nil {
		return err
	}
	if err := c.metrics.Start("feedsub", stderr); err != nil {
		return err
	}
	defer c.metrics.Close()
	var rec *capture.Recorder
	finishCapture := func() error { return nil }
	if c.capture != "" {
		r, finish, err := openCapture(c)
		if err != nil {
			return err
		}
		rec, finishCapture = r, finish
		defer finish()
		opts = append(opts, feedbus.WithCapture(rec))
	}
	var hlogDone func() error
	if c.hlog != "" {
		o, done, err := openHlog(c)
		if err != nil {
			return err
		}
		opts, hlogDone = append(opts, o), done
	}

	books := feedbus.NewBooks()
	books.MaxSymbols = c.maxSyms
	sub, err := feedbus.Subscribe(c.lines, books, opts...)
	if err != nil {
		return err
	}
	sub.SetDrain(c.drain)
	defer sub.Close()
	if err := c.metrics.Add(metrics.NewSubscriberCollector(sub)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "feedsub: recv loop on thread %d\n", sub.LoopThread())
	for i, e := range sub.Lines() {
		fmt.Fprintf(stderr, "feedsub: line %s %s joined\n", bus.LineName(i), e)
	}

	endReason := ""
wait:
	for {
		select {
		case <-ctx.Done():
			endReason = "signal"
			if c.drain > 0 {
				fmt.Fprintf(stderr, "feedsub: stopping: the workers may take up to --drain %v to finish their queues; interrupt again to quit at once\n", c.drain)
			}
			break wait
		case <-sub.Done():
			break wait
		case <-usr1:
			books.WriteBooks(stdout, 0)
		}
	}
	loopErr := sub.Close()
	if hlogDone != nil {
		if err := hlogDone(); err != nil {
			return err
		}
	}
	if rec != nil {
		if err := finishCapture(); err != nil {
			return fmt.Errorf("--capture %s: %w", c.capture, err)
		}
		st := rec.Stats()
		fmt.Fprintf(stderr, "feedsub: captured %d frames (%d bytes) to %s; %d not captured because the disk was behind, %d failed to write\n", st.Recorded, st.Bytes, c.capture, st.Dropped, st.Failed)
	}
	s := sub.Summary()
	if endReason != "" {
		s.EndReason = endReason
	}
	if c.books > 0 {
		all := books.Snapshot()
		s.Books = all[:min(c.books, len(all))]
	}
	s.BooksRefused = books.Refused()
	s.VmHWMBytes = peakRSS()
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
		if err := books.WriteBooks(stdout, c.books); err != nil {
			return err
		}
	}
	summaryDone()
	if errors.Is(loopErr, feedbus.ErrSnail) {
		return exitError{cli.ExitSnail, s.SnailVerdict}
	}
	if loopErr != nil {
		return loopErr
	}
	return outcome(s)
}

// summaryDone is called once the summary is out, while /metrics still
// serves: a test's last scrape.
var summaryDone = func() {}

// outcome turns a clean summary into exit code 0, and a run that lost
// messages or received none into its own exit code, so a script can tell.
func outcome(s *summary.Summary) error {
	lost := s.Gaps + s.Pending + s.Dropped + s.Abandoned
	switch {
	case s.Received == 0:
		return exitError{exitNothing, "received nothing"}
	case lost > 0:
		return exitError{exitLoss, fmt.Sprintf("ended with loss: %d gaps, %d pending, %d dropped and %d abandoned by the workers", s.Gaps, s.Pending, s.Dropped, s.Abandoned)}
	}
	return nil
}

// Exit codes beyond cli's: see the README.
const (
	exitLoss    = 4 // the run lost messages (gaps or worker drops)
	exitNothing = 5 // the run received no message at all
)

// exitError ends feedsub with a given code; its message is one line.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

func subscriberOptions(c *config, place *cli.Placement, stderr io.Writer, logf func(string, ...any)) ([]feedbus.SubscriberOption, error) {
	dicts, err := cli.ReadDicts(c.dicts)
	if err != nil {
		return nil, err
	}
	policy, err := fanout.ParsePolicy(c.overflow)
	if err != nil {
		return nil, cli.Usagef("--overflow %q: want drop or conflate", c.overflow)
	}
	pins := place.Plan.Workers.CPUs()
	if c.workers > 0 && len(pins) > 0 && c.workers != len(pins) {
		return nil, cli.Usagef("--workers %d but --pin-workers (or pin_workers) names %d CPUs", c.workers, len(pins))
	}
	codecs, err := cli.ParseCodecs(c.codecs)
	if err != nil {
		return nil, err
	}
	opts := []feedbus.SubscriberOption{
		feedbus.WithCodecs(codecs...),
		feedbus.WithMaxRatio(c.maxRatio),
		feedbus.WithRejoinAfter(c.rejoin),
		feedbus.WithTopics(c.topics...),
		feedbus.WithQueue(c.queueLen, policy),
		feedbus.WithSnail(c.snail, c.onSnail == "exit"),
		feedbus.WithDictionaries(dicts...),
		feedbus.WithSubscriberSockets(append(c.socket.Options(logf), bus.WithSpin(c.spin))...),
		feedbus.WithPlacement(place.Plan),
		feedbus.WithCount(c.count),
		feedbus.WithIdle(c.idle),
		feedbus.WithExpectedInterval(c.expected),
		feedbus.WithMaxClockSkew(c.maxSkew),
		feedbus.WithRestartAfter(c.restart),
		feedbus.WithMaxJump(c.maxJump),
		feedbus.WithThreadName("feedsub/recv"),
		feedbus.WithEvents(func(e feedbus.Event) { printEvent(stderr, e) }),
	}
	every := c.status
	if every <= 0 {
		every = time.Second // the timeline and --hlog still tick
	}
	opts = append(opts, feedbus.WithStatus(every, func(st feedbus.Status) {
		if c.status > 0 {
			printStatus(stderr, st)
		}
	}))
	if c.workers > 0 {
		opts = append(opts, feedbus.WithWorkers(c.workers))
	}
	if c.stream >= 0 {
		opts = append(opts, feedbus.WithFollowStream(uint32(c.stream)))
	}
	if c.authKey != "" {
		keys, err := auth.LoadKeys(c.authKey)
		if err != nil {
			return nil, cli.UsageError{Err: fmt.Errorf("--auth-key: %w", err)}
		}
		for _, w := range keys.Warnings() {
			logf("%s", w)
		}
		opts = append(opts, feedbus.WithVerifying(keys, c.authWin))
	}
	if c.gapFlag.IsSet {
		opts = append(opts, feedbus.WithGapWait(c.gapWait))
	}
	if len(c.recovery) > 0 {
		opts = append(opts, feedbus.WithRecovery(c.recovery...), feedbus.WithRecoveryTimeout(c.recTime, c.recTries),
			feedbus.WithHold(c.holdMB<<20, c.holdWait), feedbus.WithSnapshot(c.snapshot))
	}
	if c.work > 0 || c.workOn != "" {
		workOn, err := parseWorkOn(c.workOn, c.workers, len(pins))
		if err != nil {
			return nil, err
		}
		opts = append(opts, feedbus.WithSimulatedWork(c.work, workOn...))
	}
	return opts, nil
}

// parseWorkOn parses --work-on against the number of workers, when known.
func parseWorkOn(s string, workers, pins int) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	n := max(workers, pins)
	var out []int
	for _, f := range strings.Split(s, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 || (n > 0 && i >= n) {
			if n > 0 {
				return nil, cli.Usagef("--work-on %q: want worker numbers 0-%d", s, n-1)
			}
			return nil, cli.Usagef("--work-on %q: want worker numbers", s)
		}
		out = append(out, i)
	}
	return out, nil
}

func printEvent(w io.Writer, e feedbus.Event) {
	switch e.Kind {
	case feedbus.Snail:
		fmt.Fprintf(w, "feedsub: warning: %s\n", e.Text)
	case feedbus.Rejoin:
		fmt.Fprintf(w, "feedsub: line %s %s: rejoined\n", bus.LineName(e.Line), e.Text)
	case feedbus.SessionStart, feedbus.SessionEnd:
		fmt.Fprintf(w, "feedsub: %s\n", e)
	}
}

func printStatus(w io.Writer, st feedbus.Status) {
	// A quiet feed still heartbeats; a dead one says nothing at all.
	state := ""
	switch {
	case st.Silent:
		state = " (silent: no frames)"
	case st.Quiet:
		state = " (quiet: heartbeats only)"
	}
	fmt.Fprintf(w, "feedsub: %s rate %.0f msg/s recv %d gaps %d dup %d bad %d p50 %s p99 %s%s\n",
		time.Unix(0, st.Time).Format("15:04:05"), st.Rate, st.Received, st.Gaps, st.Duplicates, st.Malformed,
		latency.Format(st.Latency.P50), latency.Format(st.Latency.P99), state)
}

// openCapture creates the --capture file; finish stops the recorder and
// flushes and closes the file, once, reporting the first error.
func openCapture(c *config) (*capture.Recorder, func() error, error) {
	lines, err := bus.ParseLines(c.lines)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(lines))
	for i, e := range lines {
		names[i] = e.String()
	}
	// What the writer refuses is refused before the file is created, so a
	// refused --capture leaves an existing file as it was.
	if _, err := capture.NewWriter(io.Discard, names); err != nil {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("--capture: %w", err)}
	}
	f, err := os.Create(c.capture)
	if err != nil {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("--capture: %w", err)}
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := capture.NewWriter(bw, names)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--capture: %w", err)
	}
	rec := capture.NewRecorder(w, 4096)
	var once sync.Once
	var finishErr error
	finish := func() error {
		once.Do(func() { finishErr = errors.Join(rec.Close(), bw.Flush(), f.Close()) })
		return finishErr
	}
	return rec, finish, nil
}

// openHlog opens the --hlog file; done flushes and closes it and reports
// any write error.
func openHlog(c *config) (feedbus.SubscriberOption, func() error, error) {
	f, err := os.Create(c.hlog)
	if err != nil {
		return nil, nil, fmt.Errorf("--hlog: %w", err)
	}
	w := bufio.NewWriter(f)
	done := func() error {
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			return fmt.Errorf("--hlog %s: %w", c.hlog, err)
		}
		return nil
	}
	return feedbus.WithLatencyLog(w, "feedsub one-way latency, ns: "+strings.Join(c.lines, " ")), done, nil
}

// spinWarning says when a busy-polling receive loop has no CPU of its own:
// whatever shares its CPU runs only when the scheduler preempts it.
func spinWarning(spin time.Duration, plan affinity.Plan) string {
	if spin <= 0 {
		return ""
	}
	if plan.Recv == nil {
		return fmt.Sprintf("--spin %v keeps the receive loop polling while the feed runs, on whatever CPU the scheduler gives it; give it one of its own with --pin-recv", spin)
	}
	cpu := *plan.Recv
	var with []string
	for i, io := range plan.IO {
		if io == cpu {
			with = append(with, "line "+bus.LineName(i)+"'s I/O thread")
		}
	}
	if plan.Workers.Contains(cpu) {
		with = append(with, "workers")
	}
	if len(with) == 0 {
		return ""
	}
	return fmt.Sprintf("--spin %v: the receive loop's CPU %d also runs %s, which get it only when the scheduler preempts the polling loop", spin, cpu, strings.Join(with, " and "))
}

// peakRSS returns this process's peak resident set (VmHWM), or 0.
func peakRSS() uint64 {
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return st.VmHWM
}
