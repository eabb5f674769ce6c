package main

import (
	"context"
	"fmt"
)

// metricsRun is one search of feedbus at latencySize, with or without
// --metrics and a scrape each second.
type metricsRun struct {
	metrics bool
	rep     int
	r       *searchResult
}

// metricsSection searches feedbus's highest sustainable 64-byte rate
// without and with --metrics (both programs, each scraped every second),
// alternating -metrics-reps times, so that both see the same machine.
func (b *bench) metricsSection(ctx context.Context, res *results) error {
	for rep := 1; rep <= b.cfg.metricsReps; rep++ {
		for _, on := range []bool{false, true} {
			sp := spec{sys: feedbus, size: latencySize, duration: b.cfg.duration, metrics: on}
			fmt.Fprintf(b.stderr, "feedbench: metrics %s (run %d of %d)\n", sp, rep, b.cfg.metricsReps)
			r, err := b.sustainable(ctx, sp, b.cfg.iterations)
			if err != nil {
				return err
			}
			fmt.Fprintf(b.stderr, "feedbench: %s: sustainable %s msg/s\n", sp, thousands(r.rate()))
			res.metrics = append(res.metrics, metricsRun{metrics: on, rep: rep, r: r})
		}
	}
	return nil
}

// scrapes sums the answered and failed scrapes over a search's runs.
func (r *searchResult) scrapes() (ok, failed int) {
	ok, failed = r.offered.scrapes, r.offered.scrapeFailures
	for _, s := range r.steps {
		ok, failed = ok+s.scrapes, failed+s.scrapeFailures
	}
	return ok, failed
}

// metricsTable renders the --metrics comparison.
func (r *results) metricsTable(p printer) {
	if len(r.metrics) == 0 {
		return
	}
	p("### Metrics (`--metrics`, a scrape each second), %d-byte messages\n\n", latencySize)
	p("The %d-byte rate with `--metrics` on feedpub and feedsub and a scrape of each every second, against the rate without, in the same run.\n\n", latencySize)
	p("| run | without: sustainable msg/s | with --metrics | with ÷ without | publisher CPU with | subscriber CPU with | scrapes answered (failed) |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	var ratios []float64
	var answered, failed int
	for i := 0; i+1 < len(r.metrics); i += 2 {
		off, on := r.metrics[i].r, r.metrics[i+1].r
		pub, sub := "–", "–"
		if b, ok := on.best(); ok {
			pub, sub = b.during.pub.share(b.during.secs), b.during.sub.share(b.during.secs)
		}
		if off.rate() > 0 {
			ratios = append(ratios, on.rate()/off.rate())
		}
		ok, bad := on.scrapes()
		answered, failed = answered+ok, failed+bad
		p("| %d | %s | %s | %s | %s | %s | %d (%d) |\n", r.metrics[i].rep, rateCell(off.rate()), rateCell(on.rate()), ratio(on.rate(), off.rate()), pub, sub, ok, bad)
	}
	if len(ratios) > 0 {
		p("\nMedian of with ÷ without: %.2f. Each pair of searches ran back to back, without first. "+
			"feedbench fetched `/metrics` from inside each program's namespace over a kept-alive connection, gzip-compressed as Prometheus asks; "+
			"of %d scrapes, %d failed.\n", median(ratios), answered+failed, failed)
	}
	p("\n")
}
