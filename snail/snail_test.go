package snail

import (
	"encoding/json"
	"errors"
	"flag"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	ms = int64(time.Millisecond)
	s  = int64(time.Second)
	// t0 is an arbitrary wall-clock instant; tests never read the clock.
	t0 = int64(1_700_000_000) * s
)

func newDet(t testing.TB, mut func(*Config)) *Detector {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// pending returns the waiting verdict, if any, without blocking.
func pending(d *Detector) (Verdict, bool) {
	select {
	case v := <-d.Verdicts():
		return v, true
	default:
		return Verdict{}, false
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	cases := []struct {
		name string
		mut  func(*Config)
		want error
	}{
		{"zero MaxLag", func(c *Config) { c.MaxLag = 0 }, ErrMaxLag},
		{"negative RearmLag", func(c *Config) { c.RearmLag = -1 }, ErrRearmLag},
		{"RearmLag over MaxLag", func(c *Config) { c.RearmLag = c.MaxLag + 1 }, ErrRearmLag},
		{"zero Window", func(c *Config) { c.Window = 0 }, ErrWindow},
		{"bad Mode", func(c *Config) { c.Mode = 7 }, ErrMode},
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		tc.mut(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if _, err := New(cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: New got %v", tc.name, err)
		}
	}
	// Disabled checks need no companion settings.
	cfg := Config{MaxLag: -1, MaxGaps: -1}
	if err := cfg.Validate(); err != nil {
		t.Errorf("both checks disabled: %v", err)
	}
	if d := newDet(t, func(c *Config) { c.MaxLag = 800 * time.Millisecond }); d.Config().RearmLag != 400*time.Millisecond {
		t.Errorf("RearmLag default = %v, want MaxLag/2", d.Config().RearmLag)
	}
}

func TestModeText(t *testing.T) {
	for _, m := range []Mode{LagExcess, LagAbsolute} {
		b, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Mode
		if err := got.UnmarshalText(b); err != nil || got != m {
			t.Errorf("round trip %v: got %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("relative"); !errors.Is(err, ErrMode) {
		t.Errorf("ParseMode(relative) = %v", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{"--" + FlagMaxLag, "250ms", "--" + FlagMode, "absolute", "--" + FlagMaxGaps, "3", "--" + FlagWindow, "2s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{MaxLag: 250 * time.Millisecond, MaxGaps: 3, Window: 2 * time.Second, Mode: LagAbsolute}
	if cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
}

func TestThresholdEdge(t *testing.T) {
	for _, mode := range []Mode{LagAbsolute, LagExcess} {
		d := newDet(t, func(c *Config) { c.Mode = mode })
		p := d.Probe("recv")
		p.Observe(t0, t0) // lag 0: the excess baseline
		p.Observe(t0+s, t0)
		if d.Trips() != 0 {
			t.Fatalf("%v: lag exactly MaxLag tripped", mode)
		}
		if _, ok := pending(d); ok {
			t.Fatalf("%v: verdict at exactly MaxLag", mode)
		}
		p.Observe(t0+s+1, t0)
		if d.Trips() != 1 {
			t.Fatalf("%v: MaxLag+1ns: trips = %d, want 1", mode, d.Trips())
		}
		v, ok := pending(d)
		if !ok {
			t.Fatalf("%v: no verdict delivered", mode)
		}
		want := Verdict{Probe: "recv", Kind: KindLag, Value: s + 1, Threshold: s, Mode: mode, At: t0 + s + 1}
		if v != want {
			t.Errorf("%v: verdict %+v, want %+v", mode, v, want)
		}
		if last, ok := p.Last(); !ok || last != want {
			t.Errorf("%v: Last = %+v, %v", mode, last, ok)
		}
	}
}

func TestVerdictString(t *testing.T) {
	v := Verdict{Probe: "worker 3", Kind: KindLag, Value: 1420 * ms, Threshold: s, Mode: LagExcess}
	want := "snail: worker 3 cannot keep up: lag 1.42s exceeds --snail-max-lag 1s (excess over min lag)"
	if got := v.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	v.Mode = LagAbsolute
	if got := v.String(); !strings.Contains(got, "(absolute") {
		t.Errorf("absolute: %q", got)
	}
	g := Verdict{Probe: "recv", Kind: KindGaps, Value: 5, Threshold: 3, Window: time.Second}
	want = "snail: recv cannot keep up: 5 missing/dropped in 1s exceeds --snail-max-gaps 3"
	if got := g.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// observeSkewed feeds messages with a true one-way delay of delay[i],
// stamped by a publisher whose clock is skew ahead of the subscriber's.
func observeSkewed(p *Probe, skew int64, delays ...int64) {
	now := t0
	for _, dl := range delays {
		now += 10 * ms
		send := now - dl + skew
		p.Observe(now, send)
	}
}

func TestSkewExcess(t *testing.T) {
	steady := []int64{2 * ms, 3 * ms, 2 * ms, 5 * ms, 2 * ms, 300 * ms, 4 * ms}
	for _, skew := range []int64{200 * ms, -200 * ms, 0} {
		d := newDet(t, nil)
		p := d.Probe("recv")
		observeSkewed(p, skew, steady...)
		if d.Trips() != 0 {
			t.Errorf("skew %v: false trip %+v", time.Duration(skew), d.Stats())
		}
		st := d.Stats().Probes[0]
		if want := 2*ms - skew; st.MinLagNs != want {
			t.Errorf("skew %v: min lag %v, want %v", time.Duration(skew), time.Duration(st.MinLagNs), time.Duration(want))
		}
		if skew == 200*ms && st.MinLagNs >= 0 {
			t.Errorf("publisher ahead: raw lags should be negative, min %v", time.Duration(st.MinLagNs))
		}
		// Real excess of MaxLag+1ms over the 2ms floor still trips.
		observeSkewed(p, skew, 2*ms+s+ms)
		if d.Trips() != 1 {
			t.Errorf("skew %v: real excess not caught, trips %d", time.Duration(skew), d.Trips())
		}
		if v, _ := pending(d); v.Value != s+ms {
			t.Errorf("skew %v: verdict value %v, want excess %v", time.Duration(skew), time.Duration(v.Value), time.Second+time.Millisecond)
		}
	}
}

// Absolute mode trusts the clocks: a publisher 200ms behind makes every
// message look 200ms late, and MaxLag 100ms trips on the first one. This
// is the documented reason LagExcess is the default.
func TestSkewAbsolutePublisherBehind(t *testing.T) {
	d := newDet(t, func(c *Config) { c.Mode = LagAbsolute; c.MaxLag = 100 * time.Millisecond })
	p := d.Probe("recv")
	observeSkewed(p, -200*ms, 2*ms)
	if d.Trips() != 1 {
		t.Fatalf("trips = %d, want 1", d.Trips())
	}
	if v, _ := pending(d); v.Value != 202*ms {
		t.Errorf("value %v, want 202ms", time.Duration(v.Value))
	}
	// Excess mode on the same feed does not trip.
	d = newDet(t, func(c *Config) { c.MaxLag = 100 * time.Millisecond })
	observeSkewed(d.Probe("recv"), -200*ms, 2*ms, 2*ms, 50*ms)
	if d.Trips() != 0 {
		t.Errorf("excess mode tripped on skew")
	}
}

// A publisher ahead hides real lag from absolute mode: the documented blind
// spot, and LagExcess's limit is the mirror image (slow from the start).
func TestBlindSpots(t *testing.T) {
	d := newDet(t, func(c *Config) { c.Mode = LagAbsolute })
	observeSkewed(d.Probe("recv"), 200*ms, 2*ms, 1100*ms)
	if d.Trips() != 0 {
		t.Errorf("absolute mode saw lag hidden by a clock ahead (unexpected)")
	}
	d = newDet(t, nil)
	observeSkewed(d.Probe("recv"), 0, 3*s, 3*s, 3*s)
	if d.Trips() != 0 {
		t.Errorf("excess mode saw a subscriber slow from its first message (unexpected)")
	}
}

func TestBurstRecoverRearm(t *testing.T) {
	d := newDet(t, nil) // MaxLag 1s, RearmLag 500ms
	p := d.Probe("worker 1")
	now := t0
	feed := func(excess int64) {
		now += 100 * ms
		p.Observe(now, now-excess-ms) // 1ms floor
	}
	feed(0)
	for i := 0; i < 5; i++ { // first spike: over for 5 observations
		feed(1500 * ms)
	}
	if d.Trips() != 1 {
		t.Fatalf("spike 1: trips = %d, want 1 (no spam)", d.Trips())
	}
	feed(700 * ms) // under MaxLag, above RearmLag: still tripped
	if !d.Stats().Probes[0].Tripped {
		t.Fatal("re-armed above RearmLag")
	}
	feed(1200 * ms) // back over without having re-armed: no new trip
	if d.Trips() != 1 {
		t.Fatalf("trip without re-arm: %d", d.Trips())
	}
	feed(100 * ms) // recovered
	if d.Stats().Probes[0].Tripped {
		t.Fatal("did not re-arm")
	}
	st := d.Stats().Probes[0]
	if st.Over != 6 {
		t.Errorf("over = %d, want 6", st.Over)
	}
	// From the trip (2nd observation) to the re-arm (9th): 7 steps.
	if st.OverNs != 700*ms {
		t.Errorf("time over = %v, want 700ms", time.Duration(st.OverNs))
	}
	v1, _ := pending(d)
	feed(2 * s) // second spike
	feed(2 * s)
	if d.Trips() != 2 || d.Stats().Probes[0].Trips != 2 {
		t.Fatalf("spike 2: trips = %d, want 2", d.Trips())
	}
	v2, ok := pending(d)
	if !ok || v2.At == v1.At || v2.Value != 2*s {
		t.Errorf("second verdict %+v (first %+v)", v2, v1)
	}
}

func TestRearmAtMaxLag(t *testing.T) {
	d := newDet(t, func(c *Config) { c.Mode = LagAbsolute; c.RearmLag = c.MaxLag })
	p := d.Probe("recv")
	p.Observe(t0+s+1, t0)
	p.Observe(t0+s, t0) // exactly MaxLag: re-arms with no hysteresis
	p.Observe(t0+s+1, t0)
	if d.Trips() != 2 {
		t.Errorf("trips = %d, want 2", d.Trips())
	}
}

func TestVerdictChannelNeverBlocks(t *testing.T) {
	d := newDet(t, func(c *Config) { c.Mode = LagAbsolute; c.RearmLag = c.MaxLag })
	p := d.Probe("recv")
	for i := int64(0); i < 10; i++ {
		now := t0 + i*s
		p.Observe(now, now-2*s) // trip
		p.Observe(now, now)     // re-arm
	}
	if d.Trips() != 10 {
		t.Fatalf("trips = %d", d.Trips())
	}
	v, _ := pending(d)
	if v.At != t0 {
		t.Errorf("channel holds %v, want the first verdict", v.At)
	}
	if _, ok := pending(d); ok {
		t.Error("channel held more than one verdict")
	}
	if last, _ := p.Last(); last.At != t0+9*s {
		t.Errorf("Last = %v, want the latest", last.At)
	}
}

func TestGapsWithinWindow(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxGaps = 3 })
	p := d.Probe("recv")
	base := t0 // window-aligned: t0 is a whole second
	p.Gap(base, 1)
	p.Drop(base+100*ms, 1)
	p.Gap(base+900*ms, 1)
	if d.Trips() != 0 {
		t.Fatal("3 in window tripped with MaxGaps 3")
	}
	p.Gap(base+999*ms, 1)
	if d.Trips() != 1 {
		t.Fatalf("4 in window: trips %d", d.Trips())
	}
	v, _ := pending(d)
	want := Verdict{Probe: "recv", Kind: KindGaps, Value: 4, Threshold: 3, Mode: LagExcess, Window: time.Second, At: base + 999*ms}
	if v != want {
		t.Errorf("verdict %+v, want %+v", v, want)
	}
	p.Gap(base+999*ms, 5) // still tripped in this window
	if d.Trips() != 1 {
		t.Errorf("spam within window: %d", d.Trips())
	}
	st := d.Stats().Probes[0]
	if st.Gaps != 8 || st.Drops != 1 {
		t.Errorf("gaps %d drops %d", st.Gaps, st.Drops)
	}
}

func TestGapsSpreadAcrossWindows(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxGaps = 2 })
	p := d.Probe("recv")
	// 2 per window for 10 windows: 20 gaps, never more than 2 per window.
	for w := int64(0); w < 10; w++ {
		p.Gap(t0+w*s+10*ms, 1)
		p.Drop(t0+w*s+990*ms, 1)
	}
	if d.Trips() != 0 {
		t.Fatalf("spread gaps tripped: %d", d.Trips())
	}
	// Tumbling edge: 2 just before and 2 just after a boundary do not trip.
	p.Gap(t0+20*s-ms, 2)
	p.Gap(t0+20*s, 2)
	if d.Trips() != 0 {
		t.Fatalf("burst across edge tripped: %d", d.Trips())
	}
}

func TestGapsRearm(t *testing.T) {
	d := newDet(t, nil) // MaxGaps 0: any loss trips
	p := d.Probe("recv")
	p.Gap(t0, 1)
	if d.Trips() != 1 {
		t.Fatalf("MaxGaps 0: trips %d", d.Trips())
	}
	p.Gap(t0+s, 1) // consecutive window also over: still tripped
	p.Gap(t0+2*s, 3)
	if d.Trips() != 1 {
		t.Fatalf("sustained loss spammed: %d", d.Trips())
	}
	p.Gap(t0+4*s, 1) // window t0+3s was clean: re-armed, trips again
	if d.Trips() != 2 {
		t.Fatalf("no re-arm after a clean window: %d", d.Trips())
	}
	p.Gap(t0+4*s, 0) // n <= 0 ignored
	p.Drop(t0+4*s, -1)
	if st := d.Stats().Probes[0]; st.Gaps != 6 || st.Drops != 0 {
		t.Errorf("gaps %d drops %d", st.Gaps, st.Drops)
	}
}

func TestDrops(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxGaps = 1 })
	p := d.Probe("worker 2")
	p.Drop(t0, 1)
	p.Drop(t0+ms, 1)
	if v, ok := pending(d); !ok || v.Kind != KindGaps || v.Value != 2 || v.Probe != "worker 2" {
		t.Fatalf("drop verdict %+v, %v", v, ok)
	}
}

func TestDisabled(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxLag = -1; c.MaxGaps = -1 })
	p := d.Probe("recv")
	p.Observe(t0, t0)
	p.Observe(t0+time.Hour.Nanoseconds(), t0)
	p.Gap(t0, 1000)
	p.Drop(t0, 1000)
	if d.Trips() != 0 {
		t.Fatal("disabled checks tripped")
	}
	st := d.Stats().Probes[0]
	if st.Observed != 2 || st.MaxLagNs != time.Hour.Nanoseconds() || st.Gaps != 1000 || st.Drops != 1000 {
		t.Errorf("stats not kept: %+v", st)
	}
}

func TestResetBaseline(t *testing.T) {
	d := newDet(t, nil)
	p := d.Probe("recv")
	p.Observe(t0, t0-200*ms) // old publisher, clock 200ms behind
	p.ResetBaseline()        // new publisher host, clock in sync
	p.Observe(t0+s, t0+s-2*ms)
	p.Observe(t0+2*s, t0+2*s-800*ms)
	if d.Trips() != 0 {
		t.Fatal("tripped")
	}
	p.Observe(t0+3*s, t0+3*s-1100*ms) // excess 1098ms over the new floor
	if d.Trips() != 1 {
		t.Fatalf("new baseline not used: trips %d", d.Trips())
	}
}

func TestProbesIndependent(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxGaps = 1 })
	recv, w1, w2 := d.Probe("recv"), d.Probe("worker 1"), d.Probe("worker 2")
	recv.Observe(t0, t0-300*ms) // recv's floor is 300ms (skew)
	w1.Observe(t0, t0-2*ms)
	w2.Observe(t0, t0-2*ms)
	w1.Observe(t0+s, t0+s-1200*ms) // w1: excess 1198ms over its own floor
	recv.Observe(t0+s, t0+s-1200*ms)
	w2.Gap(t0, 1)
	recv.Gap(t0, 1)
	if d.Trips() != 1 {
		t.Fatalf("trips %d, want only worker 1", d.Trips())
	}
	st := d.Stats()
	got := map[string]ProbeStats{}
	for _, p := range st.Probes {
		got[p.Name] = p
	}
	if got["worker 1"].Trips != 1 || got["recv"].Trips != 0 || got["worker 2"].Trips != 0 {
		t.Errorf("per-probe trips: %+v", st.Probes)
	}
	if got["recv"].MinLagNs != 300*ms || got["worker 1"].MaxExcessNs != 1198*ms {
		t.Errorf("per-probe lags: %+v", st.Probes)
	}
	if _, ok := w2.Last(); ok {
		t.Error("worker 2 has a verdict")
	}
	w2.Gap(t0+ms, 1)
	if d.Trips() != 2 || st.Trips != 1 {
		t.Errorf("detector total %d (snapshot %d)", d.Trips(), st.Trips)
	}
}

func TestStatsJSON(t *testing.T) {
	d := newDet(t, nil)
	p := d.Probe("recv")
	p.Observe(t0, t0)
	p.Observe(t0+2*s, t0)
	b, err := json.Marshal(d.Stats())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mode":"excess"`, `"trips":1`, `"name":"recv"`, `"max_excess_us":2000000`, `"kind":"lag"`,
		`"tripped":true`, `"lag_us":2000000`, `"max_lag_us":1000000`, `"at_ns":1700000002000000000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "_ns\":2") || strings.Contains(string(b), "_ns\":1000") {
		t.Errorf("a duration in ns: %s", b)
	}
	// The JSON reads back to the same snapshot.
	var back Stats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if want := d.Stats(); !reflect.DeepEqual(back, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, want)
	}
	g := Verdict{Probe: "w", Kind: KindGaps, Value: 5, Threshold: 3, Window: time.Second, At: 7}
	if b, err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	var gb Verdict
	if err := json.Unmarshal(b, &gb); err != nil || gb != g || !strings.Contains(string(b), `"gaps":5,"max_gaps":3`) {
		t.Errorf("gaps verdict %s read back as %+v (%v)", b, gb, err)
	}
}

// Run with -race: the owners write while another goroutine snapshots.
func TestStatsConcurrent(t *testing.T) {
	d := newDet(t, func(c *Config) { c.MaxGaps = 5; c.RearmLag = c.MaxLag })
	const workers, n = 4, 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // reader
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := d.Stats()
			for _, ps := range st.Probes {
				if ps.Observed > n {
					t.Errorf("observed %d > %d", ps.Observed, n)
				}
			}
			for {
				if _, ok := pending(d); !ok {
					break
				}
			}
		}
	}()
	for w := 0; w < workers; w++ {
		p := d.Probe("worker " + string(rune('0'+w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < n; i++ {
				now := t0 + i*ms
				lag := ms
				if i%100 == 0 {
					lag = 2 * s // trips, then the next message re-arms
				}
				p.Observe(now, now-lag)
				if i%7 == 0 {
					p.Gap(now, 1)
				}
				if i%11 == 0 {
					p.Drop(now, 1)
				}
				_, _ = p.Last()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	st := d.Stats()
	var sum uint64
	for _, ps := range st.Probes {
		if ps.Observed != n {
			t.Errorf("%s observed %d", ps.Name, ps.Observed)
		}
		sum += ps.Trips
	}
	if sum != d.Trips() || st.Trips != d.Trips() || sum < workers*n/100 {
		t.Errorf("trip totals: per-probe sum %d, detector %d", sum, d.Trips())
	}
}

func TestZeroAllocs(t *testing.T) {
	d := newDet(t, func(c *Config) { c.RearmLag = c.MaxLag })
	p := d.Probe("recv")
	now := t0
	if a := testing.AllocsPerRun(1000, func() {
		now += ms
		p.Observe(now, now-ms)
	}); a != 0 {
		t.Errorf("Observe: %v allocs", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		now += ms
		p.Gap(now, 1) // MaxGaps 0: trips each new window
		p.Drop(now, 1)
	}); a != 0 {
		t.Errorf("Gap/Drop: %v allocs", a)
	}
	// The trip path too: verdict recorded and offered to the channel.
	if a := testing.AllocsPerRun(1000, func() {
		now += ms
		p.Observe(now, now-3*s) // trip
		p.Observe(now, now-ms)  // re-arm
		pending(d)
	}); a != 0 {
		t.Errorf("Observe trip: %v allocs", a)
	}
	if d.Trips() < 1000 {
		t.Errorf("trip path not exercised: %d", d.Trips())
	}
}

func BenchmarkObserve(b *testing.B) {
	d := newDet(b, nil)
	p := d.Probe("recv")
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now += 1000
		p.Observe(now, now-50_000)
	}
}

func BenchmarkGap(b *testing.B) {
	d := newDet(b, func(c *Config) { c.MaxGaps = 1 << 30 })
	p := d.Probe("recv")
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now += 1000
		p.Gap(now, 1)
	}
}

// Workers on their own probes must not slow each other (no shared writes).
func BenchmarkObserveParallel(b *testing.B) {
	d := newDet(b, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := d.Probe("worker")
		now := t0
		for pb.Next() {
			now += 1000
			p.Observe(now, now-50_000)
		}
	})
}

func TestKindTextRoundTrip(t *testing.T) {
	for _, k := range []Kind{KindLag, KindGaps} {
		b, _ := k.MarshalText()
		var got Kind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Errorf("%v: round trip gave %v, %v", k, got, err)
		}
	}
	var k Kind
	if err := k.UnmarshalText([]byte("slow")); err == nil {
		t.Error("unknown kind accepted")
	}
}
