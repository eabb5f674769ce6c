package main

import (
	"math"
	"testing"
	"time"
)

func TestRoundRate(t *testing.T) {
	for in, want := range map[float64]float64{
		1_190_903: 1_190_000,
		422_490:   422_000,
		98_450:    98_500,
		12_345.6:  12_300,
		999.6:     1_000,
		0:         0,
		-5:        0,
	} {
		if got := roundRate(in); math.Abs(got-want) > 1e-6 {
			t.Errorf("roundRate(%v) = %v, want %v", in, got, want)
		}
	}
	if roundRate(math.NaN()) != 0 || roundRate(math.Inf(1)) != 0 {
		t.Errorf("roundRate of NaN or Inf is not 0")
	}
}

// capacity simulates a path that delivers everything up to cap msg/s and
// a share cap/rate of what is offered above it.
func simulate(t *testing.T, start, capacity float64, iterations int) (*search, []float64) {
	t.Helper()
	s := newSearch(start)
	var tried []float64
	for i := 0; i < iterations && !s.done(); i++ {
		r := s.next
		tried = append(tried, r)
		if r <= capacity {
			s.observe(r, true, 1)
		} else {
			s.observe(r, false, capacity/r)
		}
	}
	return s, tried
}

func TestSearchStepsDownThenBisects(t *testing.T) {
	s, tried := simulate(t, 1_000_000, 700_000, 5)
	// Down by the share delivered (0.95 × 0.7 = 0.665): clean; then
	// bisection between 665k and 1M.
	want := []float64{1_000_000, 665_000, 833_000, 749_000, 707_000}
	if len(tried) != len(want) {
		t.Fatalf("tried %v, want %v", tried, want)
	}
	for i := range want {
		if tried[i] != want[i] {
			t.Fatalf("tried %v, want %v", tried, want)
		}
	}
	if s.lo != 665_000 || s.hi != 707_000 {
		t.Errorf("lo %v hi %v, want 665000 and 707000", s.lo, s.hi)
	}
}

func TestSearchStepsUp(t *testing.T) {
	s, tried := simulate(t, 100_000, 180_000, 5)
	// 100k ✓, 150k ✓, 225k ✗, then bisect 150k..225k: 188k ✗, 169k ✓.
	want := []float64{100_000, 150_000, 225_000, 188_000, 169_000}
	for i := range want {
		if i >= len(tried) || tried[i] != want[i] {
			t.Fatalf("tried %v, want %v", tried, want)
		}
	}
	if s.lo != 169_000 || s.hi != 188_000 {
		t.Errorf("lo %v hi %v, want 169000 and 188000", s.lo, s.hi)
	}
}

func TestSearchHeavyLossStepsDownAtMostByHalf(t *testing.T) {
	s := newSearch(1_000_000)
	s.observe(1_000_000, false, 0.01)
	if s.next != 500_000 {
		t.Errorf("next %v after 1%% delivered, want 500000 (halved at most)", s.next)
	}
	s = newSearch(1_000_000)
	s.observe(1_000_000, false, 0.999)
	if s.next != 800_000 {
		t.Errorf("next %v after 99.9%% delivered, want 800000 (down at least 20%%)", s.next)
	}
	s = newSearch(1_000_000)
	s.observe(1_000_000, false, math.NaN())
	if s.next != 800_000 {
		t.Errorf("next %v with nothing known, want 800000", s.next)
	}
}

func TestSearchStopsWhenConverged(t *testing.T) {
	s := newSearch(100_000)
	s.observe(100_000, true, 1)
	s.observe(101_000, false, 0.99)
	if !s.done() {
		t.Errorf("not done with lo %v and hi %v", s.lo, s.hi)
	}
	_, tried := simulate(t, 100, 1e9, 1)
	if len(tried) != 1 {
		t.Errorf("one iteration tried %v", tried)
	}
}

func TestSearchResultBestAndLimit(t *testing.T) {
	mk := func(rate float64, clean bool) step {
		return step{sample: sample{spec: spec{rate: rate, duration: time.Second}}, clean: clean}
	}
	r := &searchResult{steps: []step{mk(1e6, false), mk(5e5, true), mk(8e5, false), mk(6e5, true), mk(7e5, false)}}
	if r.rate() != 6e5 {
		t.Errorf("rate %v, want 600000", r.rate())
	}
	if l, ok := r.limit(); !ok || l.spec.rate != 7e5 {
		t.Errorf("limit %v %v, want the run at 700000", l.spec.rate, ok)
	}
	none := &searchResult{steps: []step{mk(1e6, false), mk(5e5, false)}}
	if none.rate() != 0 {
		t.Errorf("rate %v with no clean run, want 0", none.rate())
	}
	if l, ok := none.limit(); !ok || l.spec.rate != 5e5 {
		t.Errorf("limit %v %v with no clean run, want the lowest failed", l.spec.rate, ok)
	}
}

func TestVerdict(t *testing.T) {
	sp := spec{sys: feedbus, rate: 1000, duration: 2 * time.Second}
	ok := sample{spec: sp, sent: 2000, received: 2000, sessions: 1, msgsPerS: 1000}
	for name, tc := range map[string]struct {
		s    sample
		want bool
	}{
		"clean":                {ok, true},
		"gaps":                 {with(ok, func(s *sample) { s.lost, s.received = 5, 1995 }), false},
		"missing":              {with(ok, func(s *sample) { s.received = 1990 }), false},
		"unknown sent":         {with(ok, func(s *sample) { s.sent = 0 }), false},
		"worker drops":         {with(ok, func(s *sample) { s.dropped = 1 }), false},
		"two sessions":         {with(ok, func(s *sample) { s.sessions = 2 }), false},
		"publisher behind":     {with(ok, func(s *sample) { s.sent, s.received = 1900, 1900 }), false},
		"just on pace":         {with(ok, func(s *sample) { s.sent, s.received = 1950, 1950 }), true},
		"bare has no sessions": {with(ok, func(s *sample) { s.spec.sys, s.sessions = bare, 0 }), true},
		"drained afterwards":   {with(ok, func(s *sample) { s.msgsPerS = 600 }), false},
	} {
		if got, why := tc.s.verdict(); got != tc.want {
			t.Errorf("%s: verdict %v (%s), want %v", name, got, why, tc.want)
		}
	}
}

func with(s sample, f func(*sample)) sample {
	f(&s)
	return s
}

// A rate is sustainable only with confirm clean runs and no failure at it.
func TestSustainableNeedsConfirmation(t *testing.T) {
	run := func(rate float64, clean bool) step {
		return step{sample: sample{spec: spec{rate: rate}}, clean: clean}
	}
	for _, c := range []struct {
		name  string
		steps []step
		want  float64
	}{
		{"three clean", []step{run(100, true), run(200, true), run(200, true), run(200, true)}, 200},
		{"one clean is not enough", []step{run(100, true), run(100, true), run(100, true), run(200, true)}, 100},
		{"a failure at the rate", []step{run(100, true), run(100, true), run(100, true), run(200, true), run(200, true), run(200, false)}, 100},
		{"none confirmed", []step{run(100, true), run(200, false)}, 0},
	} {
		r := &searchResult{steps: c.steps, confirm: 3}
		if got := r.rate(); got != c.want {
			t.Errorf("%s: rate %v, want %v", c.name, got, c.want)
		}
	}
}
