package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/bench/lab"
)

// latencySize is the message size of the latency and compression runs:
// market messages.
const latencySize = 64

// Fixed rates of the latency runs; the third run of each system is at its
// own highest sustainable rate for latencySize.
var latencyRates = []float64{10_000, 100_000}

// checkLabel is the latency level of the acceptance check, run -latency-reps
// times, alternating the systems.
const checkLabel = "10k"

// codecs compared in the compression runs; zstd uses a dictionary trained
// with feedpub --train-dict.
var codecs = []string{"none", "s2", "zstd"}

type bench struct {
	cfg    *config
	lab    *lab.Lab
	proc   procfs.FS // the machine's /proc, for CPU time and softnet drops
	bin    string    // directory of the built programs
	tmp    string    // where subscribers write their JSON
	dict   string    // the zstd dictionary
	keys   string    // the group key file of the --auth-key runs
	stderr io.Writer
	seq    int      // measurements so far, for file names
	notes  []string // retries and other things the report must say
}

// results is everything one feedbench run measured.
type results struct {
	machine machine
	cfg     *config
	date    time.Time
	took    time.Duration

	sweep   map[int]map[system]*searchResult // size → system
	latency []latencyRun
	// limited are the compression searches under the binding PGM limit,
	// by codec, plus bare; cpu those at feedbus's default limit, by codec.
	limited, cpu map[string]*searchResult
	dictBytes    int
	// auth are the alternated searches of feedbus 64 B without and with
	// --auth-key, in run order.
	auth []featureRun
	// metrics are the alternated searches of feedbus 64 B without and with
	// --metrics and a scrape each second, in run order.
	metrics []featureRun

	plotsDir string
	hlogs    []string // paths, in run order
	pngs     []string
	notes    []string
}

// latencyRun is one system's latency run.
type latencyRun struct {
	label     string // "10k", "100k" or "max"
	rep, reps int    // run rep of reps at this label
	sample
}

// run measures sp, repeating it once if a program fails, so that a passing
// hiccup does not end the suite; the report says it happened.
func (b *bench) run(ctx context.Context, sp spec) (sample, error) {
	s, err := b.measure(ctx, sp)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(b.stderr, "feedbench: %s failed, repeating it: %v\n", sp, err)
		b.notes = append(b.notes, fmt.Sprintf("%s failed and was repeated: %v", sp, err))
		s, err = b.measure(ctx, sp)
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", sp, err)
	}
	if b.cfg.verbose {
		fmt.Fprintf(b.stderr, "feedbench: %s: %s\n", sp, s.brief())
	}
	return s, nil
}

// suite runs the standard suite: the throughput sweep, the latency runs
// and the compression comparison.
func (b *bench) suite(ctx context.Context, res *results) error {
	c := b.cfg
	res.sweep = map[int]map[system]*searchResult{}
	for _, size := range c.sizes {
		res.sweep[size] = map[system]*searchResult{}
		for _, sys := range systems {
			fmt.Fprintf(b.stderr, "feedbench: throughput %s %d B\n", sys.title(), size)
			r, err := b.sustainable(ctx, spec{sys: sys, size: size, duration: c.duration}, c.iterations)
			if err != nil {
				return err
			}
			fmt.Fprintf(b.stderr, "feedbench: %s %d B: %s msg/s at rate 0, sustainable %s msg/s\n",
				sys.title(), size, thousands(r.offered.msgsPerS), thousands(r.rate()))
			res.sweep[size][sys] = r
		}
	}

	for _, label := range latencyLabels() {
		reps := 1
		if label == checkLabel {
			reps = c.latReps
		}
		for rep := 1; rep <= reps; rep++ {
			for _, sys := range latencySystems {
				rate := labelRate(label)
				if label == "max" {
					if sys == udpTuned {
						continue // its throughput is udp's: no tuning of its own
					}
					rate = res.sweep[latencySize][sys].rate()
				}
				if rate <= 0 {
					res.notes = append(res.notes, fmt.Sprintf("%s: no latency run at its highest sustainable rate, as the search found none.", sys.title()))
					continue
				}
				sp := spec{sys: sys, size: latencySize, rate: rate, duration: c.latDuration,
					hlog:       filepath.Join(res.plotsDir, hlogName(label, sys, rep, reps)),
					lowLatency: (sys == tuned || sys == udpTuned) && label != "max"}
				fmt.Fprintf(b.stderr, "feedbench: latency %s (run %d of %d)\n", sp, rep, reps)
				s, err := b.run(ctx, sp)
				if err != nil {
					return err
				}
				if _, err := os.Stat(sp.hlog); err != nil {
					return fmt.Errorf("%s: no interval log: %w", sp, err)
				}
				res.hlogs = append(res.hlogs, sp.hlog)
				res.latency = append(res.latency, latencyRun{label: label, rep: rep, reps: reps, sample: s})
				fmt.Fprintf(b.stderr, "feedbench:   p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs, lost %d\n", s.lat.P50, s.lat.P99, s.lat.P999, s.lat.Max, s.lost)
			}
		}
	}

	if err := b.authSection(ctx, res); err != nil {
		return err
	}
	if err := b.metricsSection(ctx, res); err != nil {
		return err
	}

	res.limited, res.cpu = map[string]*searchResult{}, map[string]*searchResult{}
	for _, k := range append([]string{"bare"}, codecs...) {
		sp := spec{sys: feedbus, size: latencySize, duration: c.duration, codec: k, pgmRate: c.pgmLimit}
		if k == "bare" {
			sp = spec{sys: bare, size: latencySize, duration: c.duration, pgmRate: c.pgmLimit}
		}
		fmt.Fprintf(b.stderr, "feedbench: compression %s under --pgm-rate %d\n", k, c.pgmLimit)
		r, err := b.sustainable(ctx, sp, c.iterations)
		if err != nil {
			return err
		}
		res.limited[k] = r
	}
	res.cpu["none"] = res.sweep[latencySize][feedbus]
	if c.short {
		// The same code path as the sweep with --compress: -short spares
		// the time.
		res.notes = append(res.notes, "-short skips the compression runs at the default PGM rate.")
		return nil
	}
	for _, k := range codecs[1:] {
		fmt.Fprintf(b.stderr, "feedbench: compression %s at the default PGM rate\n", k)
		r, err := b.sustainable(ctx, spec{sys: feedbus, size: latencySize, duration: c.duration, codec: k}, c.iterations)
		if err != nil {
			return err
		}
		res.cpu[k] = r
	}
	return nil
}

func latencyLabels() []string {
	var l []string
	for _, r := range latencyRates {
		l = append(l, rateLabel(r))
	}
	return append(l, "max")
}

// rateLabel names a rate briefly: 10k, 100k, 1.5M.
func rateLabel(r float64) string {
	switch {
	case r >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", r/1e6), ".0") + "M"
	case r >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", r/1e3), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", r)
}

// labelRate is the fixed rate a label names, 0 for "max".
func labelRate(label string) float64 {
	for _, r := range latencyRates {
		if rateLabel(r) == label {
			return r
		}
	}
	return 0
}

func hlogName(label string, sys system, rep, reps int) string {
	if reps > 1 {
		return fmt.Sprintf("latency-%dB-%s-%s-%d.hlog", latencySize, label, sys, rep)
	}
	return fmt.Sprintf("latency-%dB-%s-%s.hlog", latencySize, label, sys)
}

func pngName(label string) string {
	return fmt.Sprintf("latency-%dB-%s.png", latencySize, label)
}
