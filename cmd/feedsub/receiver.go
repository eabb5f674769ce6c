package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/snail"
)

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
		r.fan.Queue(&r.msg, seq, f.SendTime, ns)
	}
	r.fan.Flush()
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
