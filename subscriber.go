package feedbus

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

// Summary is a subscriber's account of its run: counts, per line and per
// worker, latency percentiles, the timeline and the snail's findings. Its
// JSON form is feedsub's --json document.
type Summary = summary.Summary

// Subscriber follows a feed on one or more lines, keeps the first copy of
// each message, and hands the messages to a Handler on worker goroutines.
// See the package documentation for which goroutine may call what.
type Subscriber struct {
	cfg    subscriberConfig
	det    *snail.Detector
	fan    *fanout.Fanout
	events *eventQueue
	status *statusWorker
	r      *receiver
	// counters is where the receive loop posts its counts once an
	// interval, for Counters.
	counters countersBoard

	stop      chan struct{} // closed by Close: the loop returns
	done      chan struct{} // closed when the loop has returned
	closeOnce sync.Once
	closeErr  error
	loopErr   error
	helperErr error // the latency log's, reported by Close
	tid       int
	endpoints []string
	lines     []bus.Endpoint
	drain     time.Duration
}

// Subscribe joins every line endpoint and starts the receive loop and the
// workers: h sees every message (matching WithTopics) on a worker
// goroutine, in sequence order per symbol. Subscribe returns once the
// lines are joined and the loop runs.
func Subscribe(endpoints []string, h Handler, opts ...SubscriberOption) (*Subscriber, error) {
	cfg := defaultSubscriberConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrOption)
	}
	lines, err := bus.ParseLines(endpoints)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.gapWaitSet:
	case lines[0].IsUDP():
		// Datagrams may come out of order on one line too.
		cfg.gapWait = DefaultGapWaitUDP
	case len(lines) > 1:
		cfg.gapWait = DefaultGapWait
	}
	if len(cfg.plan.IO) > 0 && len(cfg.plan.IO) != len(lines) {
		return nil, fmt.Errorf("%w: %d I/O CPUs for %d lines: give one per line", ErrOption, len(cfg.plan.IO), len(lines))
	}
	s := &Subscriber{cfg: cfg, endpoints: endpoints, stop: make(chan struct{}), done: make(chan struct{}), drain: 2 * time.Second}
	if s.det, err = snail.New(cfg.snail); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	fc := cfg.fanout
	fc.Handler, fc.Detector = h, s.det
	fc.PinCPUs = cfg.plan.Workers.CPUs()
	if fc.Workers == 0 {
		fc.Workers = defaultWorkers(cfg.plan)
	}
	if len(fc.PinCPUs) > 0 && len(fc.PinCPUs) != fc.Workers {
		return nil, fmt.Errorf("%w: %d workers but %d worker CPUs", ErrOption, fc.Workers, len(fc.PinCPUs))
	}
	if s.fan, err = fanout.New(fc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	dec, err := newDecoder(&cfg)
	if err != nil {
		s.fan.Stop()
		return nil, err
	}
	if cfg.events != nil {
		s.events = newEventQueue(cfg.events)
	}
	// Always: besides WithStatus and WithLatencyLog, it keeps the latency
	// buckets of Counters.
	if s.status, err = newStatusWorker(&s.cfg, &s.counters.latency, time.Now()); err != nil {
		s.fan.Stop()
		dec.Close()
		s.events.close()
		return nil, err
	}
	ready := make(chan error, 1)
	go s.run(dec, ready)
	if err := <-ready; err != nil {
		<-s.done
		s.shutdownHelpers(false)
		return nil, err
	}
	return s, nil
}

// defaultWorkers is one worker per CPU that the plan's pinned I/O and
// receive threads leave free, or one per worker CPU the plan names.
func defaultWorkers(plan affinity.Plan) int {
	if n := plan.Workers.Len(); n > 0 {
		return n
	}
	busy := map[int]bool{}
	for _, cpu := range plan.IO {
		busy[cpu] = true
	}
	if plan.Recv != nil {
		busy[*plan.Recv] = true
	}
	return max(1, runtime.NumCPU()-len(busy))
}

// run is the receive loop's goroutine: it owns the sockets from opening to
// closing, so every ZeroMQ call happens on one locked OS thread.
func (s *Subscriber) run(dec *bus.Decoder, ready chan<- error) {
	defer close(s.done)
	defer dec.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sockOpts := s.cfg.socket
	if strings.HasPrefix(s.endpoints[0], string(bus.UDP)+"://") {
		// Each udp:// line has a receive thread of its own, pinned where
		// ZeroMQ's I/O threads would be.
		sockOpts = append(sockOpts[:len(sockOpts):len(sockOpts)], bus.WithLineCPUs(s.cfg.plan.IO))
	}
	sub, err := bus.NewSubscriber(s.endpoints, sockOpts...)
	if err != nil {
		ready <- err
		return
	}
	defer sub.Close()
	restore, err := s.place(sub.Ephemeral())
	if err != nil {
		ready <- err
		return
	}
	// Put the thread's mask back before it is unlocked, so the runtime
	// does not reuse a thread still pinned to the loop's CPU.
	defer restore()
	s.lines = sub.Lines()
	s.r = newReceiver(s, sub, dec)
	if len(s.cfg.recovery) > 0 {
		client, err := recovery.NewClient(sub.Context(), s.cfg.recovery, s.cfg.recoveryCfg)
		if err != nil {
			ready <- err
			return
		}
		// Closed before the Subscriber (deferred earlier), whose context
		// it shares.
		defer client.Close()
		s.r.rec = newRecoverer(s.r, client, sub.Attach(client.Pipe()))
	} else if sub.Ephemeral() {
		// udp:// lines deliver in any order within a line and across
		// them: the frames after a hole wait for it, as with recovery,
		// and a hole no line fills within the gap wait is a gap.
		s.r.rec = newRecoverer(s.r, nil, -1)
	}
	s.r.initCounters()
	ready <- nil
	s.loopErr = s.r.loop(s.stop)
}

// place pins the I/O threads and the receive loop's thread as the plan
// says, and names the loop's thread. restore undoes the loop's pinning.
func (s *Subscriber) place(udp bool) (restore func(), err error) {
	restore = func() {}
	if len(s.cfg.plan.IO) > 0 && !udp { // udp:// lines pinned their own threads
		if err := affinity.PinIOThreads(s.cfg.plan.IO); err != nil {
			return nil, err
		}
	}
	if s.cfg.plan.Recv != nil {
		set, err := affinity.NewCPUSet(*s.cfg.plan.Recv)
		if err != nil {
			return nil, err
		}
		undo, err := affinity.PinCurrentThread(set)
		if err != nil {
			return nil, err
		}
		restore = func() { _ = undo() }
	}
	s.tid = affinity.ThreadID()
	if s.cfg.threadName != "" {
		// A name is a convenience (and refused on the main thread).
		_ = affinity.NameCurrentThread(s.cfg.threadName)
	}
	return restore, nil
}

// LoopThread returns the receive loop's OS thread id.
func (s *Subscriber) LoopThread() int { return s.tid }

// Lines returns the resolved endpoint of each line, in line order.
func (s *Subscriber) Lines() []bus.Endpoint { return s.lines }

// Workers returns the number of worker goroutines.
func (s *Subscriber) Workers() int { return s.fan.Workers() }

// WorkerTIDs returns the pinned workers' OS thread ids (0 when unpinned).
func (s *Subscriber) WorkerTIDs() []int { return s.fan.WorkerTIDs() }

// Done is closed when the receive loop has stopped: by WithCount,
// WithIdle, a snail verdict with exit, a receive error, or Close.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// SetDrain sets how long Close lets the workers finish what is queued
// before abandoning (and counting) the rest; default 2s.
func (s *Subscriber) SetDrain(d time.Duration) { s.drain = d }

// Close stops the receive loop, leaves the lines, lets the workers finish
// their queues (for at most the drain time, not at all after a snail exit),
// stops the event and status goroutines, and waits for all of them. It
// returns the loop's error, if any: an error matching ErrSnail after a
// snail exit. It is idempotent and safe from any goroutine.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.shutdownHelpers(!errors.Is(s.loopErr, ErrSnail))
		s.closeErr = errors.Join(s.loopErr, s.helperErr)
	})
	return s.closeErr
}

func (s *Subscriber) shutdownHelpers(drain bool) {
	if !drain || s.drain <= 0 {
		s.fan.Stop()
	} else {
		done := make(chan struct{})
		go func() { s.fan.Close(); close(done) }()
		t := time.NewTimer(s.drain)
		select {
		case <-done:
		case <-t.C:
			s.fan.Stop()
			<-done
		}
		t.Stop()
	}
	if s.r != nil {
		s.r.endSessions()
	}
	s.events.close()
	if s.status != nil {
		if err := s.status.close(); err != nil {
			s.helperErr = err
		}
	}
}

// Summary returns the account of the run. Call it after Close.
func (s *Subscriber) Summary() *Summary {
	if s.r == nil {
		return &Summary{}
	}
	return s.r.summary()
}

// Err returns the receive loop's error once Done is closed, else nil.
func (s *Subscriber) Err() error {
	select {
	case <-s.done:
		return s.loopErr
	default:
		return nil
	}
}

// newDecoder makes the receive loop's decoder: it inflates only the codecs
// the subscriber was configured for (zstd too when it has dictionaries),
// and bounds every compressed body by the ratio cap before inflating it.
func newDecoder(cfg *subscriberConfig) (*bus.Decoder, error) {
	dec, err := bus.NewDecoder(cfg.dictionaries...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	codecs := cfg.codecs
	if len(cfg.dictionaries) > 0 && !slices.Contains(codecs, bus.CodecZstd) {
		codecs = append(slices.Clone(codecs), bus.CodecZstd)
	}
	if err := dec.Accept(codecs...); err != nil {
		dec.Close()
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	if err := dec.SetMaxRatio(cfg.maxRatio); err != nil {
		dec.Close()
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	return dec, nil
}
