package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/snail"
)

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
	if w := spinWarning(c.spin, place.Plan); w != "" {
		logf("%s", w)
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
	sub, err := bus.NewSubscriber(c.lines, append(c.socket.Options(logf), bus.WithSpin(c.spin))...)
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
	closeLog := func() error { return nil }
	if c.hlog != "" {
		f, err := os.Create(c.hlog)
		if err != nil {
			return fmt.Errorf("--hlog: %w", err)
		}
		defer f.Close() // on early returns; closeLog reports errors on the way out
		w := bufio.NewWriter(f)
		if err := r.lat.LogTo(w, "feedsub one-way latency, ns: "+strings.Join(c.lines, " "), time.Now()); err != nil {
			return err
		}
		closeLog = func() error {
			r.lat.Interval(time.Now()) // the last, partial interval
			if err := errors.Join(r.lat.LogErr(), w.Flush(), f.Close()); err != nil {
				return fmt.Errorf("--hlog %s: %w", c.hlog, err)
			}
			return nil
		}
	}
	r.loop(ctx)
	if err := closeLog(); err != nil {
		return err
	}
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
