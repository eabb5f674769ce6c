package main

import (
	"context"
)

// metricsSection compares the rate without and with --metrics on both
// programs and a scrape of each every second.
func (b *bench) metricsSection(ctx context.Context, res *results) error {
	runs, err := b.alternate(ctx, "metrics", b.cfg.metricsReps, func(sp *spec, on bool) { sp.metrics = on })
	res.metrics = runs
	return err
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
