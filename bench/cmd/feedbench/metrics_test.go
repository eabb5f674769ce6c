package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFetchMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			fmt.Fprint(w, "# HELP feedbus_sub_received_total First copies.\n# TYPE feedbus_sub_received_total counter\nfeedbus_sub_received_total{stream=\"1\"} 42\n")
		case "/other":
			fmt.Fprint(w, "# HELP go_goroutines Goroutines.\ngo_goroutines 7\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := fetchMetrics(ctx, srv.Client(), srv.URL+"/metrics"); err != nil {
		t.Errorf("feedbus metrics: %v", err)
	}
	if err := fetchMetrics(ctx, srv.Client(), srv.URL+"/other"); err == nil || !strings.Contains(err.Error(), "no feedbus_ metric") {
		t.Errorf("no feedbus metrics: %v", err)
	}
	if err := fetchMetrics(ctx, srv.Client(), srv.URL+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("not found: %v", err)
	}
}

func TestMetricsTable(t *testing.T) {
	res := fakeResults(t)
	mk := func(on bool, rate float64, scrapes, failed int) *searchResult {
		sp := spec{sys: feedbus, size: latencySize, duration: time.Second, metrics: on, rate: rate}
		n := uint64(rate)
		s := sample{spec: sp, sent: n, received: n, sessions: 1, msgsPerS: rate, scrapes: scrapes, scrapeFailures: failed,
			during: window{secs: 1, pub: cpuTime{app: 500 * time.Millisecond}, sub: cpuTime{app: 400 * time.Millisecond}}}
		return &searchResult{base: sp, offered: sample{spec: sp, scrapes: 1}, steps: []step{{sample: s, clean: true, why: "clean"}}, confirm: 1}
	}
	res.metrics = []featureRun{
		{false, 1, mk(false, 400_000, 0, 0)}, {true, 1, mk(true, 380_000, 9, 1)},
		{false, 2, mk(false, 400_000, 0, 0)}, {true, 2, mk(true, 400_000, 9, 0)},
	}
	text := res.render("results")
	for _, want := range []string{
		"### Metrics (`--metrics`, a scrape each second), 64-byte messages",
		"| 1 | 400,000 | 380,000 | 0.95× | 50% | 40% | 10 (1) |",
		"| 2 | 400,000 | 400,000 | 1.00× | 50% | 40% | 10 (0) |",
		"Median of with ÷ without: 0.97.",
		"of 21 scrapes, 1 failed.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		i := strings.Index(text, "### Metrics")
		t.Logf("%s", text[max(i, 0):])
	}
}
