package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
)

// metricsAddr is where feedpub and feedsub serve /metrics in the --metrics
// runs, each on the loopback of its own lab host.
const metricsAddr = "127.0.0.1:9464"

// metricsURL is what feedbench scrapes, inside each host.
const metricsURL = "http://" + metricsAddr + "/metrics"

// scrapeEvery is how often feedbench fetches each program's /metrics, the
// issue's bar (Prometheus's default interval is a minute).
const scrapeEvery = time.Second

// scraper fetches one program's /metrics every scrapeEvery until the
// program exits. Its counts are valid once done is closed.
type scraper struct {
	desc       string
	ok, failed int
	last       error // the last failure
	done       chan struct{}
}

// scrape starts a scraper of program p, which runs in h: its requests go
// over a connection made inside h's namespace, kept alive between
// scrapes and gzip-compressed, as Prometheus's.
func (b *bench) scrape(ctx context.Context, h lab.Host, p *proc) *scraper {
	sc := &scraper{desc: p.desc, done: make(chan struct{})}
	tr := &http.Transport{DialContext: b.lab.DialContext(h), MaxIdleConnsPerHost: 1}
	client := &http.Client{Transport: tr, Timeout: scrapeEvery}
	go func() {
		defer close(sc.done)
		defer tr.CloseIdleConnections()
		t := time.NewTicker(scrapeEvery)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := fetchMetrics(ctx, client, metricsURL); err != nil {
				sc.failed++
				sc.last = err
				continue
			}
			sc.ok++
		}
	}()
	return sc
}

// result waits for the scraper to end and fails if no scrape was answered:
// the run did not have the metrics it was meant to.
func (sc *scraper) result() (ok, failed int, err error) {
	<-sc.done
	if sc.ok == 0 {
		return 0, sc.failed, fmt.Errorf("%s --metrics: no scrape answered in %d tries: %w", sc.desc, sc.failed, sc.last)
	}
	return sc.ok, sc.failed, nil
}

// fetchMetrics gets url once and checks that it holds feedbus's metrics.
func fetchMetrics(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/metrics: %s", resp.Status)
	}
	if !bytes.Contains(body, []byte("\nfeedbus_")) {
		return fmt.Errorf("/metrics: no feedbus_ metric in %d bytes", len(body))
	}
	return nil
}
