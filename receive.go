package feedbus

import (
	"bytes"
	"fmt"
	"time"

	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/snail"
)

// receiver is the receive loop and everything it owns: sockets, sequence
// tracking, histograms and counters. Nothing here is shared with another
// goroutine while the loop runs, so nothing needs a lock; Summary reads it
// after the loop has returned.
type receiver struct {
	s       *Subscriber
	cfg     *subscriberConfig
	sub     *bus.Subscriber
	dec     *bus.Decoder
	fan     *fanout.Fanout
	probe   *snail.Probe
	verdict *snail.Verdict
	gaps    uint64 // messages declared missing already reported to the probe
	tracker *bus.Tracker
	lat     *latency.Recorder
	lines   []lineState

	frame bus.Frame
	msg   bus.Message

	received, filtered, skipped    uint64
	badStamps                      uint64 // frames whose send time was implausible
	malformed                      uint64
	frames, heartbeats             uint64
	lastMalformed                  error
	firstData, lastData            time.Time
	endReason                      string
	statusReceived                 uint64
	statusFrames, statusHeartbeats uint64
	timeline                       []summary.Interval
	tickWon                        []uint64 // per line, won at the last tick

	// The session being followed per stream, for SessionEnd events.
	current map[uint32]uint64

	// start anchors the monotonic clock the trackers' timers run on: a
	// hole's gap wait must not end because the wall clock stepped.
	start time.Time

	follow   *follower
	joinedAt uint64 // first sequence number seen of the first session followed

	verifier   *auth.Verifier // nil without WithVerifying
	authFailed uint64

	prints *fingerprints // the winning copies, to see a line that disagrees

	rec *recoverer // nil without WithRecovery, unless the lines are udp://

	stamp    int64              // the kernel's receive time of the frame in hand; 0: none
	udpStats []bus.UDPLineStats // udp:// lines' kernel counts, as the loop ended
	udpTick  []bus.UDPLineStats // the same, as of the last tick (reused)
}

type lineState struct {
	tracker     *bus.Tracker // this line alone, for its own gaps
	lat         *latency.Recorder
	received    uint64
	won         uint64
	frames      uint64    // data frames
	beats       uint64    // heartbeat frames
	all         uint64    // every frame the line brought, good or bad
	authFailed  uint64    // frames refused by the verifier
	foreign     uint64    // frames of another stream or session, dropped
	implausible uint64    // frames implausibly far ahead, dropped
	conflicts   uint64    // message copies that differ from the copy that won
	lastFrame   time.Time // last frame of any kind, or the last (re)join
	rejoins     uint64
}

// line returns line i's state; the recovery pipe's index gives the
// recovered frames' own.
func (r *receiver) line(i int) *lineState {
	if i < len(r.lines) {
		return &r.lines[i]
	}
	return &r.rec.line
}

func newReceiver(s *Subscriber, sub *bus.Subscriber, dec *bus.Decoder) *receiver {
	n := len(sub.Lines())
	r := &receiver{
		s:       s,
		cfg:     &s.cfg,
		sub:     sub,
		dec:     dec,
		fan:     s.fan,
		probe:   s.det.Probe("receive loop"),
		tracker: bus.NewTracker(s.cfg.gapWait),
		lat:     latency.New(),
		lines:   make([]lineState, n),
		tickWon: make([]uint64, n),
		current: map[uint32]uint64{},
		start:   time.Now(),
		follow:  newFollower(s.cfg.stream, s.cfg.streamSet, s.cfg.restartAfter),
		prints:  newFingerprints(),
	}
	if s.cfg.keys != nil {
		r.verifier = auth.NewVerifier(s.cfg.keys)
		r.verifier.SetWindow(s.cfg.authWindow)
		r.follow.sendTimes = true
	}
	if s.cfg.maxJump > 0 {
		r.tracker.SetPlausible(s.cfg.maxJump, plausibleResync)
	}
	now := r.start
	for i := range r.lines {
		r.lines[i] = lineState{tracker: bus.NewTracker(0), lat: latency.New(), lastFrame: now}
	}
	r.tracker.OnSession = r.onSession
	if s.events != nil {
		r.tracker.OnGap = func(session uint64, stream uint32, from, to uint64) {
			s.events.post(Event{Kind: Gap, Time: time.Now().UnixNano(), Session: session, Stream: stream, Seq: from, Count: to - from})
		}
	}
	return r
}

func (r *receiver) onSession(session uint64, stream uint32, first uint64) {
	// A new session may come from another host, whose clock is off by
	// another amount: the lag baselines start again, the loop's and the
	// workers'.
	r.probe.ResetBaseline()
	r.fan.ResetBaselines()
	r.fan.SetSession(session)
	r.prints.reset()
	if r.s.events == nil {
		return
	}
	now := time.Now().UnixNano()
	if old, ok := r.current[stream]; ok {
		r.s.events.post(Event{Kind: SessionEnd, Time: now, Session: old, Stream: stream})
	}
	r.current[stream] = session
	r.s.events.post(Event{Kind: SessionStart, Time: now, Session: session, Stream: stream, Seq: first})
}

// endSessions posts SessionEnd for every session still followed.
func (r *receiver) endSessions() {
	now := time.Now().UnixNano()
	for stream, id := range r.current {
		r.s.events.post(Event{Kind: SessionEnd, Time: now, Session: id, Stream: stream})
	}
	clear(r.current)
}

// plausibleResync is how long frames of the followed session may be
// refused as implausible, with none accepted in between, before the
// tracker follows them: a real feed that jumped (its publisher dropped
// frames, a line was down) resumes, while forged frames among a live
// feed's never get that far.
const plausibleResync = 200 * time.Millisecond

// pollEvery bounds how long the loop waits for a frame before it looks at
// the clock, the stop channel and the idle limit.
const pollEvery = 50 * time.Millisecond

func (r *receiver) loop(stop <-chan struct{}) error {
	start := r.start
	nextStallCheck := start
	every := r.cfg.status
	nextTick := start.Add(every)
	defer func() {
		r.udpStats = r.sub.UDPStats()
		r.postCounters(time.Now())
		if w := r.s.status; w != nil { // the last, partial interval
			now := time.Now()
			w.hand(r.lat, r.status(now, every), now, true)
		}
	}()
	for {
		select {
		case <-stop:
			r.endReason = "closed"
			return nil
		case v := <-r.s.det.Verdicts():
			if err := r.onVerdict(v); err != nil {
				r.endReason = "snail"
				return err
			}
		default:
		}
		wait := pollEvery
		if r.rec != nil {
			wait = r.rec.wait(r.mono(time.Now()), pollEvery)
		}
		b, line, err := r.sub.Recv(wait)
		now := time.Now()
		if err != nil {
			r.endReason = "error"
			return fmt.Errorf("feedbus: %w", err)
		}
		if r.rec != nil {
			if b != nil && line == r.rec.index {
				r.rec.onReply(b, now)
				b = nil
			}
			r.rec.tick(now, r.mono(now))
		}
		if b != nil {
			r.stamp = r.sub.Stamp()
			r.handle(b, line, now)
			r.stamp = 0
			if r.cfg.count > 0 && r.received >= r.cfg.count {
				r.endReason = "count"
				return nil
			}
		} else if r.cfg.idle > 0 {
			last := r.lastData
			if last.IsZero() {
				last = start
			}
			if now.Sub(last) >= r.cfg.idle {
				r.endReason = "idle"
				return nil
			}
		}
		if !now.Before(nextTick) {
			r.tick(now, now.Sub(start), every)
			nextTick = now.Add(every)
		}
		if b == nil {
			r.tracker.Expire(r.mono(now))
			r.reportGaps(r.wall(now))
		}
		if r.cfg.rejoinAfter > 0 && len(r.lines) > 1 && !now.Before(nextStallCheck) {
			r.rejoinStalled(now)
			nextStallCheck = now.Add(pollEvery)
		}
	}
}

// onVerdict posts a trip of the snail detector and returns an error when
// the subscriber must stop.
func (r *receiver) onVerdict(v snail.Verdict) error {
	r.s.events.post(Event{Kind: Snail, Time: time.Now().UnixNano(), Text: v.String()})
	if r.cfg.snailExit {
		r.verdict = &v
		return fmt.Errorf("%w: %s", ErrSnail, v)
	}
	return nil
}

// rejoinStalled rejoins each line that has been silent for the rejoin
// time while another line has not: the feed is alive, so the silent line
// is stuck (PGM waiting for repairs that will never come) or cut off.
func (r *receiver) rejoinStalled(now time.Time) {
	alive := false
	for i := range r.lines {
		if now.Sub(r.lines[i].lastFrame) < r.cfg.rejoinAfter {
			alive = true
		}
	}
	if !alive && (r.rec == nil || r.rec.client == nil) {
		return
	}
	// Every line silent, with recovery servers to fill the hole: the
	// publisher may be gone, or every line cut. A PGM receiver cut off for
	// longer than its sender's window waits seconds for repairs that will
	// never come once the lines are back, delivering nothing; a fresh
	// socket starts from what is on the wire, and the servers fill the
	// hole. (Without servers that hole is a gap either way.)
	why := fmt.Sprintf("silent for %v while the feed ran on", r.cfg.rejoinAfter)
	if !alive {
		why = fmt.Sprintf("every line silent for %v", r.cfg.rejoinAfter)
	}
	for i := range r.lines {
		ln := &r.lines[i]
		if now.Sub(ln.lastFrame) < r.cfg.rejoinAfter {
			continue
		}
		ln.lastFrame = now
		ln.rejoins++
		text := why
		if err := r.sub.Rejoin(i); err != nil {
			text += ": " + err.Error()
		}
		r.s.events.post(Event{Kind: Rejoin, Time: now.UnixNano(), Line: i, Text: text})
	}
}

// handle is the per-frame path: capture, decode, arbitrate, record,
// dispatch. It allocates nothing for a good frame.
func (r *receiver) handle(b []byte, line int, now time.Time) {
	ns, mono := r.wall(now), r.mono(now)
	ln := r.line(line)
	ln.all++
	if r.cfg.capture != nil && line < len(r.lines) {
		at := ns
		if r.stamp != 0 {
			// The kernel's receive time (udp:// lines): when the datagram
			// arrived, as a packet capture would have it. Latency stays the
			// loop's clock, as on every transport: what a handler sees.
			at += r.stamp - now.UnixNano()
		}
		if r.sub.Ephemeral() {
			b = bytes.Clone(b) // the recorder keeps it; a ring slot is reused
		}
		r.cfg.capture.Record(line, at, b)
	}
	if r.verifier != nil {
		// Before anything else reads the frame: an unsigned one costs a
		// MAC, never an inflate or a place in the sequence.
		if err := r.verifier.Verify(b, ns); err != nil {
			r.authFailed++
			ln.authFailed++
			return
		}
	}
	if err := r.dec.Decode(b, &r.frame); err != nil {
		r.malformed++
		r.lastMalformed = err
		return
	}
	f := &r.frame
	switch r.follow.admit(&f.Header, mono) {
	case foreign:
		ln.foreign++
		return
	case newSession:
		if r.follow.restarts > 0 {
			// A restarted publisher numbers from 1: what its first frame
			// here does not hold went missing, and counts as a gap.
			r.tracker.Expect(f.Session, f.Stream, 1, mono)
			if r.rec != nil {
				r.rec.restart(1)
			}
		} else if r.joinedAt == 0 {
			r.joinedAt = f.FirstSeq
		}
	}
	begin := f.Header
	if r.rec != nil {
		// In order: the recoverer, not the tracker, keeps a heartbeat's
		// hole until it is filled or given up.
		begin.Flags &^= bus.FlagHeartbeat
	}
	if !r.tracker.Begin(&begin, mono) {
		ln.implausible++
		return
	}
	ln.lastFrame = now
	if r.rec != nil && !r.rec.admit(b, line, f, now, mono) {
		return // held until the messages before it are in, or recovered
	}
	r.process(line, now, ns, mono)
	if r.rec != nil {
		r.rec.release(mono)
	}
}

// process is handle's second half, for a frame admitted in order: its
// messages are arbitrated, recorded and dispatched.
func (r *receiver) process(line int, now time.Time, ns, mono int64) {
	f := &r.frame
	ln := r.line(line)
	recovered := r.rec != nil && line == r.rec.index
	ln.tracker.Begin(&f.Header, mono)
	if f.Heartbeat() {
		r.heartbeats++
		ln.beats++
		r.tracker.Expire(mono)
		return
	}
	r.frames++
	ln.frames++
	sendTime := f.SendTime
	lat := ns - sendTime
	stamped := r.cfg.maxSkew <= 0 || (lat <= int64(r.cfg.maxSkew) && lat >= -int64(r.cfg.maxSkew))
	if recovered {
		// Stamped by the recovery server when it sent them: their
		// latency is the fill time, recorded apart.
		stamped, sendTime = false, ns
	} else if !stamped {
		// A clock far off, or a forged stamp: keep it out of the latency
		// and the snail's baseline, which it would poison for the run.
		r.badStamps++
		sendTime = ns
	}
	won := 0
	delivered := 0
	for {
		seq, ok := f.Next(&r.msg)
		if !ok {
			break
		}
		ln.tracker.Admit(seq, mono)
		if !r.tracker.Admit(seq, mono) {
			if r.prints.conflicts(seq, f.LastEncoded()) {
				ln.conflicts++
			}
			continue
		}
		r.prints.remember(seq, f.LastEncoded())
		won++
		if !r.msg.Kind.Known() {
			r.skipped++ // a kind from a newer writer: sequenced, not delivered
			continue
		}
		if !r.match(r.msg.Symbol) {
			r.filtered++
			continue
		}
		delivered++
		r.fan.Queue(&r.msg, seq, sendTime, ns)
	}
	r.fan.Flush()
	if stamped {
		r.probe.Observe(ns, sendTime)
		ln.lat.Record(lat, int64(f.Count))
	}
	ln.received += uint64(f.Count)
	ln.won += uint64(won)
	if r.rec != nil {
		r.rec.processed(f, won, recovered, mono)
	}
	if delivered > 0 {
		if stamped {
			r.lat.Record(lat, int64(delivered))
		}
		r.received += uint64(delivered)
		if r.firstData.IsZero() {
			r.firstData = now
		}
		r.lastData = now
	}
	r.tracker.Expire(mono)
	r.reportGaps(ns)
}

// wall is now on the wall clock, ns since the epoch: for latency against
// the publisher's stamp, the snail and capture times. A test may skew it.
func (r *receiver) wall(now time.Time) int64 {
	if r.cfg.wallSkew != nil {
		return now.UnixNano() + r.cfg.wallSkew.Load()
	}
	return now.UnixNano()
}

// mono is now on the monotonic clock, ns since the loop started: for the
// trackers' gap waits.
func (r *receiver) mono(now time.Time) int64 { return int64(now.Sub(r.start)) }

// reportGaps tells the snail detector about gaps declared since last time.
// It follows Declared, which never goes down: with the net Gaps, a late
// fill would lower the count and hide as much later loss from the snail.
func (r *receiver) reportGaps(ns int64) {
	if g := r.tracker.Declared(); g > r.gaps {
		r.probe.Gap(ns, int(g-r.gaps))
		r.gaps = g
	}
}

func (r *receiver) match(symbol []byte) bool { return bus.HasAnyPrefix(symbol, r.cfg.topics) }

// tick runs once an interval: the timeline entry here, and the status and
// its latency handed to the status worker, which does the slow part.
func (r *receiver) tick(now time.Time, sinceStart, every time.Duration) {
	st := r.status(now, every)
	if len(r.timeline) < summary.MaxTimeline {
		r.timeline = append(r.timeline, summary.Interval{T: sinceStart.Seconds(), Received: r.received - r.statusReceived, Won: st.Won})
	}
	if w := r.s.status; w != nil {
		w.hand(r.lat, st, now, false)
	}
	r.statusReceived, r.statusFrames, r.statusHeartbeats = r.received, r.frames, r.heartbeats
	r.postCounters(now)
}

// status is the interval's counts, without its latency, which the status
// worker works out.
func (r *receiver) status(now time.Time, every time.Duration) Status {
	won := make([]uint64, len(r.lines))
	frames := make([]uint64, len(r.lines))
	for i := range r.lines {
		won[i] = r.lines[i].won - r.tickWon[i]
		r.tickWon[i] = r.lines[i].won
		frames[i] = r.lines[i].all
	}
	st := r.tracker.Stats()
	return Status{
		Time:       now.UnixNano(),
		Interval:   every.Seconds(),
		Received:   r.received,
		Rate:       float64(r.received-r.statusReceived) / every.Seconds(),
		Gaps:       st.Gaps,
		Duplicates: st.Duplicates,
		Malformed:  r.malformed,
		Silent:     r.frames == r.statusFrames && r.heartbeats == r.statusHeartbeats,
		Quiet:      r.frames == r.statusFrames && r.heartbeats > r.statusHeartbeats,
		Won:        won,
		LineFrames: frames,
	}
}

func (r *receiver) summary() *Summary {
	now := time.Now()
	r.tracker.Expire(r.mono(now))
	r.postCounters(now) // so Counters agrees with the summary
	st := r.tracker.Stats()
	s := &summary.Summary{
		PriceScale:      bus.PriceScale,
		Received:        r.received,
		Gaps:            st.Gaps,
		GapEvents:       st.GapEvents,
		Duplicates:      st.Duplicates,
		Reordered:       st.Reordered,
		Late:            st.Late,
		Pending:         st.Pending,
		Filtered:        r.filtered,
		Skipped:         r.skipped,
		BadStamps:       r.badStamps,
		Implausible:     st.Implausible,
		AuthFailed:      r.authFailed,
		Restarts:        r.follow.restarts,
		Malformed:       r.malformed,
		Sessions:        st.Sessions,
		Frames:          r.frames,
		Heartbeats:      r.heartbeats,
		NegativeLatency: r.lat.Negative(),
		LatencyUS:       r.lat.Summary(),
		EndReason:       r.endReason,
		Timeline:        r.timeline,
		Workers:         r.fan.Stats(),
		Snail:           r.s.det.Stats(),
	}
	if r.s.events != nil {
		s.EventsDropped = r.s.events.dropped.Load()
	}
	for _, w := range s.Workers {
		s.Dropped += w.Dropped
		s.Conflated += w.Conflated
		s.Abandoned += w.Abandoned
	}
	if r.verdict != nil {
		s.SnailVerdict = r.verdict.String()
	}
	if r.cfg.expected > 0 {
		c := r.lat.Corrected(int64(r.cfg.expected))
		s.LatencyCorrectedUS = &c
		s.ExpectedIntervalUS = float64(r.cfg.expected) / 1e3
	}
	if r.lastMalformed != nil {
		s.LastMalformed = r.lastMalformed.Error()
	}
	if r.verifier != nil && r.authFailed > 0 {
		s.LastAuthFailure = r.verifier.LastFailure().Error()
	}
	if r.follow.streamSet {
		s.Stream = r.follow.stream
	}
	if r.joinedAt > 1 {
		s.JoinedAfter = r.joinedAt - 1
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
			Name:        bus.LineName(i),
			Endpoint:    e.String(),
			Received:    ln.received,
			Won:         ln.won,
			Gaps:        ln.tracker.Stats().Gaps,
			Frames:      ln.frames,
			Rejoins:     ln.rejoins,
			Foreign:     ln.foreign,
			AuthFailed:  ln.authFailed,
			Implausible: ln.implausible,
			Conflicts:   ln.conflicts,
			LatencyUS:   ln.lat.Summary(),
		})
		if i < len(r.udpStats) {
			s.Lines[i].KernelDrops, s.Lines[i].Truncated = r.udpStats[i].KernelDrops, r.udpStats[i].Truncated
		}
		s.Conflicts += ln.conflicts
	}
	if rc := r.rec; rc != nil {
		// In order (udp:// lines, or --recovery): how long holes waited
		// for a line to fill them, against which --gap-wait is chosen.
		if p := rc.lineFill.Summary(); p.Count > 0 {
			s.HoleFillUS = &p
		}
	}
	if rc := r.rec; rc != nil && rc.client != nil {
		st := rc.stats
		st.FillUS = rc.fill.Summary()
		st.Client = rc.client.Stats()
		s.Recovery, s.Recovered = &st, st.Recovered
	}
	return s
}
