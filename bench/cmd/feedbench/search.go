package main

import (
	"context"
	"fmt"
	"math"
)

// The search for the highest sustainable rate: the highest paced rate at
// which the subscriber gets everything (see sample.verdict). It starts at
// what the path delivered at --rate 0, goes up by stepUp while runs are
// clean and down while they fail (to 95% of the share of rate × duration
// that arrived, within [minDown, maxDown]), and bisects once it has a clean
// rate below a failed one. Rates are rounded to 3 significant digits.
const (
	stepUp  = 1.5
	minDown = 0.5
	maxDown = 0.8
	// converged ends a search early: the failed rate is within this share
	// above the clean one.
	converged = 0.02
)

// search is the state of one search; it does no measuring itself.
type search struct {
	lo, hi float64 // highest clean and lowest failed rate so far; 0 = none yet
	next   float64 // the rate to try next
}

func newSearch(start float64) *search { return &search{next: roundRate(start)} }

// observe records the outcome of a run at rate: clean or not, and which
// share of what it meant to send arrived (NaN if unknown).
func (s *search) observe(rate float64, clean bool, delivered float64) {
	if clean {
		s.lo = max(s.lo, rate)
	} else if s.hi == 0 || rate < s.hi {
		s.hi = rate
	}
	switch {
	case s.lo > 0 && s.hi > 0:
		s.next = roundRate((s.lo + s.hi) / 2)
	case clean:
		s.next = roundRate(rate * stepUp)
	default:
		f := maxDown
		if !math.IsNaN(delivered) {
			f = min(maxDown, max(minDown, 0.95*delivered))
		}
		s.next = roundRate(rate * f)
	}
}

// done reports whether another run would tell nothing new.
func (s *search) done() bool {
	if s.lo > 0 && s.hi > 0 && (s.hi <= s.lo || (s.hi-s.lo)/s.lo <= converged) {
		return true
	}
	return s.next <= 0 || s.next == s.lo || s.next == s.hi
}

// roundRate rounds r to 3 significant digits.
func roundRate(r float64) float64 {
	if r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(r))-2)
	return math.Round(r/p) * p
}

// step is one paced run of a search.
type step struct {
	sample
	clean bool
	why   string // "clean" or what went wrong
}

// searchResult is a finished search: the --rate 0 run it started from and
// the paced runs.
type searchResult struct {
	base    spec // what was searched; its rate is unused
	offered sample
	steps   []step
	confirm int // clean runs in a row a rate needs to count as sustainable
}

// best returns the last clean run at the highest sustainable rate: one
// with r.confirm clean runs and no failed one (the bar the report calls
// sustainable: nothing lost, run after run).
func (r *searchResult) best() (step, bool) {
	var b step
	found := false
	for _, s := range r.steps {
		if s.clean && (!found || s.spec.rate >= b.spec.rate) && r.confirmed(s.spec.rate) {
			b, found = s, true
		}
	}
	return b, found
}

// runsAt counts the clean and the failed runs at rate.
func (r *searchResult) runsAt(rate float64) (clean, failed int) {
	for _, s := range r.steps {
		if s.spec.rate == rate {
			if s.clean {
				clean++
			} else {
				failed++
			}
		}
	}
	return clean, failed
}

// confirmed reports whether rate ran clean r.confirm times, never failing.
func (r *searchResult) confirmed(rate float64) bool {
	clean, failed := r.runsAt(rate)
	return failed == 0 && clean >= max(r.confirm, 1)
}

// lowestFailed is the lowest rate that failed, 0 if none did.
func (r *searchResult) lowestFailed() float64 {
	low := 0.0
	for _, s := range r.steps {
		if !s.clean && (low == 0 || s.spec.rate < low) {
			low = s.spec.rate
		}
	}
	return low
}

// confirmedBest reports whether no clean, never-failed rate above the
// sustainable one awaits confirmation.
func (r *searchResult) confirmedBest() bool {
	_, pending := r.candidate()
	return r.rate() > 0 && !pending
}

// candidate returns the highest rate that ran clean and never failed, but
// is not yet confirmed.
func (r *searchResult) candidate() (float64, bool) {
	best, found := 0.0, false
	for _, s := range r.steps {
		if !s.clean || r.confirmed(s.spec.rate) {
			continue
		}
		if _, failed := r.runsAt(s.spec.rate); failed == 0 && s.spec.rate > best {
			best, found = s.spec.rate, true
		}
	}
	return best, found && best > r.rate()
}

// rate is the highest sustainable rate found, 0 if none.
func (r *searchResult) rate() float64 {
	if b, ok := r.best(); ok {
		return b.spec.rate
	}
	return 0
}

// limit returns the failed run that bounds the result: the lowest failed
// rate above the best clean one (any failed rate if none was clean).
func (r *searchResult) limit() (step, bool) {
	floor := r.rate()
	var l step
	found := false
	for _, s := range r.steps {
		if !s.clean && s.spec.rate > floor && (!found || s.spec.rate < l.spec.rate) {
			l, found = s, true
		}
	}
	return l, found
}

// sustainable finds the highest rate at which base runs clean: one run at
// --rate 0, then up to iterations paced runs.
func (b *bench) sustainable(ctx context.Context, base spec, iterations int) (*searchResult, error) {
	offered := base
	offered.rate = 0
	s0, err := b.run(ctx, offered)
	if err != nil {
		return nil, err
	}
	res := &searchResult{base: base, offered: s0, confirm: b.cfg.confirm}
	se := newSearch(s0.msgsPerS)
	try := func(rate float64) (bool, error) {
		sp := base
		sp.rate = rate
		s, err := b.run(ctx, sp)
		if err != nil {
			return false, err
		}
		clean, why := s.verdict()
		res.steps = append(res.steps, step{sample: s, clean: clean, why: why})
		mark := "✗ " + why
		if clean {
			mark = "✓"
		}
		fmt.Fprintf(b.stderr, "feedbench:   %-34s %s\n", sp, mark)
		return clean, nil
	}
	for i := 0; i < iterations && !se.done(); i++ {
		rate := se.next
		clean, err := try(rate)
		if err != nil {
			return nil, err
		}
		se.observe(rate, clean, res.steps[len(res.steps)-1].shareOfTarget())
	}
	// Confirm the best: the same rate again, until it has run clean
	// res.confirm times in a row; a failure sends it to the next clean one
	// down, or, with none tried, to a rate 10% lower. Bounded: at most
	// four candidates, each confirm runs at most.
	for k := 0; k < 4 && !res.confirmedBest(); k++ {
		rate, ok := res.candidate()
		if !ok {
			if res.rate() > 0 || len(res.steps) == 0 {
				break
			}
			rate = roundRate(0.9 * res.lowestFailed())
			if rate <= 0 {
				break
			}
		}
		for {
			if c, _ := res.runsAt(rate); c >= res.confirm {
				break
			}
			clean, err := try(rate)
			if err != nil {
				return nil, err
			}
			if !clean {
				break
			}
		}
	}
	return res, nil
}
