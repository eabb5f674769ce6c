package snail

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Kind says which check a Verdict comes from.
type Kind uint8

const (
	// KindLag: the lag (or excess) went over MaxLag.
	KindLag Kind = iota + 1
	// KindGaps: missing plus dropped messages in one Window went over MaxGaps.
	KindGaps
)

// String returns "lag" or "gaps".
func (k Kind) String() string {
	switch k {
	case KindLag:
		return "lag"
	case KindGaps:
		return "gaps"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText makes Kind print by name in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads what MarshalText wrote, so summaries read back.
func (k *Kind) UnmarshalText(b []byte) error {
	for _, c := range []Kind{KindLag, KindGaps} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("snail: unknown verdict kind %q", b)
}

// roundLag keeps a lag readable: 1.001s, not 1.000723693s.
func roundLag(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// Verdict describes one trip: a probe that cannot keep up.
type Verdict struct {
	Probe string `json:"probe"`
	Kind  Kind   `json:"kind"`
	// Value is the measured lag in ns (the excess over the minimum lag in
	// LagExcess mode) for KindLag, or the loss count in the window for
	// KindGaps.
	Value int64
	// Threshold is MaxLag in ns for KindLag, MaxGaps for KindGaps.
	Threshold int64
	Mode      Mode
	Window    time.Duration
	// At is the caller's now when the probe tripped, ns since the epoch.
	At int64
}

// String returns one line for the log, naming the flag to turn.
func (v Verdict) String() string {
	if v.Kind == KindGaps {
		return fmt.Sprintf("snail: %s cannot keep up: %d missing/dropped in %v exceeds --%s %d",
			v.Probe, v.Value, v.Window, FlagMaxGaps, v.Threshold)
	}
	how := "excess over min lag"
	if v.Mode == LagAbsolute {
		how = "absolute: now - send time"
	}
	return fmt.Sprintf("snail: %s cannot keep up: lag %v exceeds --%s %v (%s)",
		v.Probe, roundLag(time.Duration(v.Value)), FlagMaxLag, time.Duration(v.Threshold), how)
}

// Detector decides whether a subscriber keeps up, from the observations of
// its probes. Create it with New; it is safe for concurrent use.
type Detector struct {
	// Immutable after New, so the hot path reads them without sync.
	cfg     Config
	maxLag  int64 // <0: lag check disabled
	rearm   int64
	maxGaps int64 // <0: gap check disabled
	window  int64

	trips    atomic.Uint64
	verdicts chan Verdict

	mu     sync.Mutex // guards probes; taken only by Probe and Stats
	probes []*Probe
}

// New returns a Detector for cfg, or cfg.Validate's error.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RearmLag == 0 {
		cfg.RearmLag = cfg.MaxLag / 2
	}
	return &Detector{
		cfg:     cfg,
		maxLag:  int64(cfg.MaxLag),
		rearm:   int64(cfg.RearmLag),
		maxGaps: int64(cfg.MaxGaps),
		window:  int64(cfg.Window),
		// One slot: enough to wake the caller, and a full slot must
		// never block the goroutine that trips.
		verdicts: make(chan Verdict, 1),
	}, nil
}

// Config returns the configuration in effect (RearmLag resolved).
func (d *Detector) Config() Config { return d.cfg }

// Verdicts returns the channel trips are offered to. It holds at most one
// undelivered verdict; later trips are dropped from it while it is full
// (they are still counted by Trips and recorded by Probe.Last). It is
// never closed.
func (d *Detector) Verdicts() <-chan Verdict { return d.verdicts }

// Trips returns the number of trips across all probes.
func (d *Detector) Trips() uint64 { return d.trips.Load() }

// Probe registers and returns a new probe for one goroutine. The name
// appears in verdicts and Stats and should be unique.
func (d *Detector) Probe(name string) *Probe {
	// No window yet: the first loss must open one whatever now is.
	p := &Probe{d: d, name: name, gapWin: math.MinInt64}
	d.mu.Lock()
	d.probes = append(d.probes, p)
	d.mu.Unlock()
	return p
}

// Probe measures one goroutine. Observe, Gap, Drop and ResetBaseline must
// be called only by that goroutine; the other methods from any.
type Probe struct {
	d    *Detector
	name string

	// Owner-goroutine state: plain fields, never read elsewhere.
	seen       bool
	haveBase   bool
	base       int64 // lowest lag since the last ResetBaseline
	minLag     int64
	maxLag     int64
	maxExcess  int64
	lagTripped bool
	prevNow    int64 // last now while lag-tripped, for time over
	gapWin     int64 // index of the current tumbling window
	gapCount   int64
	gapTripped bool

	// Published for other goroutines. The owner is the only writer, so
	// Load+Store is race-free and needs no read-modify-write.
	pub struct {
		observed, gaps, drops, over, trips atomic.Uint64
		minLag, maxLag, maxExcess, overNs  atomic.Int64
		lagTripped, gapTripped             atomic.Bool
	}
	last lastSlot

	// Keep the next probe's hot fields off this probe's cache lines.
	_ [64]byte
}

// Name returns the probe's name.
func (p *Probe) Name() string { return p.name }

// Observe records one message sent at sendTime and taken at now (both ns
// since the epoch, wall clock) and trips if the lag is over MaxLag.
func (p *Probe) Observe(now, sendTime int64) {
	lag := now - sendTime
	p.pub.observed.Store(p.pub.observed.Load() + 1)
	if !p.seen {
		p.seen = true
		p.minLag, p.maxLag = lag, lag
		p.pub.minLag.Store(lag)
		p.pub.maxLag.Store(lag)
	} else if lag < p.minLag {
		p.minLag = lag
		p.pub.minLag.Store(lag)
	} else if lag > p.maxLag {
		p.maxLag = lag
		p.pub.maxLag.Store(lag)
	}
	if !p.haveBase || lag < p.base {
		p.haveBase = true
		p.base = lag
	}
	excess := lag - p.base
	if excess > p.maxExcess {
		p.maxExcess = excess
		p.pub.maxExcess.Store(excess)
	}

	d := p.d
	if d.maxLag < 0 {
		return
	}
	v := excess
	if d.cfg.Mode == LagAbsolute {
		v = lag
	}
	switch {
	case p.lagTripped:
		if now > p.prevNow {
			p.pub.overNs.Store(p.pub.overNs.Load() + now - p.prevNow)
		}
		p.prevNow = now
		if v <= d.rearm {
			p.lagTripped = false
			p.pub.lagTripped.Store(false)
		} else if v > d.maxLag {
			p.pub.over.Store(p.pub.over.Load() + 1)
		}
	case v > d.maxLag:
		p.lagTripped = true
		p.pub.lagTripped.Store(true)
		p.prevNow = now
		p.pub.over.Store(p.pub.over.Load() + 1)
		p.trip(KindLag, v, d.maxLag, now)
	}
}

// Gap records n missing sequence numbers seen at now.
func (p *Probe) Gap(now int64, n int) {
	if n <= 0 {
		return
	}
	p.pub.gaps.Store(p.pub.gaps.Load() + uint64(n))
	p.loss(now, int64(n))
}

// Drop records n messages discarded at now (e.g. on a full queue).
func (p *Probe) Drop(now int64, n int) {
	if n <= 0 {
		return
	}
	p.pub.drops.Store(p.pub.drops.Load() + uint64(n))
	p.loss(now, int64(n))
}

func (p *Probe) loss(now, n int64) {
	d := p.d
	if d.maxGaps < 0 {
		return
	}
	// Floor division, so windows before the epoch line up too.
	w := now / d.window
	if now < 0 && now%d.window != 0 {
		w--
	}
	if w > p.gapWin {
		// Stay tripped only if the window just ended was itself over.
		if p.gapTripped && !(w == p.gapWin+1 && p.gapCount > d.maxGaps) {
			p.gapTripped = false
			p.pub.gapTripped.Store(false)
		}
		p.gapWin, p.gapCount = w, 0
	}
	// An earlier window (now stepped back) counts into the current one.
	p.gapCount += n
	if !p.gapTripped && p.gapCount > d.maxGaps {
		p.gapTripped = true
		p.pub.gapTripped.Store(true)
		p.trip(KindGaps, p.gapCount, d.maxGaps, now)
	}
}

// ResetBaseline forgets the minimum lag LagExcess measures from, so the
// next observation sets a new one. Call it when the publisher changes
// (another host, another clock). Owner goroutine only.
func (p *Probe) ResetBaseline() { p.haveBase = false }

func (p *Probe) trip(k Kind, v, threshold, now int64) {
	p.pub.trips.Store(p.pub.trips.Load() + 1)
	p.d.trips.Add(1)
	p.last.store(k, v, now)
	select {
	case p.d.verdicts <- p.verdict(k, v, threshold, now):
	default: // a verdict is already waiting; never block the hot path
	}
}

func (p *Probe) verdict(k Kind, v, threshold, now int64) Verdict {
	vd := Verdict{Probe: p.name, Kind: k, Value: v, Threshold: threshold, Mode: p.d.cfg.Mode, At: now}
	if k == KindGaps {
		vd.Window = p.d.cfg.Window
	}
	return vd
}

// Last returns the probe's most recent verdict, if it ever tripped.
func (p *Probe) Last() (Verdict, bool) {
	k, v, at := p.last.load()
	if k == 0 {
		return Verdict{}, false
	}
	th := p.d.maxLag
	if k == KindGaps {
		th = p.d.maxGaps
	}
	return p.verdict(k, v, th, at), true
}

// lastSlot is a seqlock over atomics: the owner writes without allocating
// or locking, readers retry if they overlap a write.
type lastSlot struct {
	seq   atomic.Uint64 // odd while a write is in progress
	kind  atomic.Uint32
	value atomic.Int64
	at    atomic.Int64
}

func (s *lastSlot) store(k Kind, v, at int64) {
	s.seq.Add(1)
	s.kind.Store(uint32(k))
	s.value.Store(v)
	s.at.Store(at)
	s.seq.Add(1)
}

func (s *lastSlot) load() (Kind, int64, int64) {
	for {
		q := s.seq.Load()
		if q&1 == 0 {
			k, v, at := Kind(s.kind.Load()), s.value.Load(), s.at.Load()
			if s.seq.Load() == q {
				return k, v, at
			}
		}
		runtime.Gosched() // let a preempted writer finish
	}
}

// ProbeStats is one probe's counters. Lags are meaningful only when
// Observed > 0.
type ProbeStats struct {
	Name        string `json:"name"`
	Observed    uint64 `json:"observed"`
	MinLagNs    int64  `json:"min_lag_ns"`
	MaxLagNs    int64  `json:"max_lag_ns"`
	MaxExcessNs int64  `json:"max_excess_ns"`
	Gaps        uint64 `json:"gaps"`
	Drops       uint64 `json:"drops"`
	Trips       uint64 `json:"trips"`
	// Over counts observations over MaxLag; OverNs sums the time from each
	// lag trip to its re-arm, as seen at observations.
	Over   uint64 `json:"over"`
	OverNs int64  `json:"over_ns"`
	// Tripped: the probe is over a threshold now (not re-armed yet).
	Tripped bool     `json:"tripped"`
	Last    *Verdict `json:"last,omitempty"`
}

// Stats is a snapshot for the JSON summary.
type Stats struct {
	Mode     Mode         `json:"mode"`
	MaxLagNs int64        `json:"max_lag_ns"`
	MaxGaps  int          `json:"max_gaps"`
	WindowNs int64        `json:"window_ns,omitempty"`
	Trips    uint64       `json:"trips"`
	Probes   []ProbeStats `json:"probes"`
}

// Stats snapshots every probe. Safe from any goroutine; each counter is
// read atomically, but a probe may move on between two of its counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	probes := append([]*Probe(nil), d.probes...)
	d.mu.Unlock()
	s := Stats{
		Mode:     d.cfg.Mode,
		MaxLagNs: d.maxLag,
		MaxGaps:  d.cfg.MaxGaps,
		WindowNs: d.window,
		Trips:    d.trips.Load(),
		Probes:   make([]ProbeStats, len(probes)),
	}
	for i, p := range probes {
		ps := ProbeStats{
			Name:        p.name,
			Observed:    p.pub.observed.Load(),
			MinLagNs:    p.pub.minLag.Load(),
			MaxLagNs:    p.pub.maxLag.Load(),
			MaxExcessNs: p.pub.maxExcess.Load(),
			Gaps:        p.pub.gaps.Load(),
			Drops:       p.pub.drops.Load(),
			Trips:       p.pub.trips.Load(),
			Over:        p.pub.over.Load(),
			OverNs:      p.pub.overNs.Load(),
			Tripped:     p.pub.lagTripped.Load() || p.pub.gapTripped.Load(),
		}
		if v, ok := p.Last(); ok {
			ps.Last = &v
		}
		s.Probes[i] = ps
	}
	return s
}
