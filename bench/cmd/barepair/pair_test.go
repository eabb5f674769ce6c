package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/internal/baseline"
)

// TestPairOverIPC runs a paced publisher and a subscriber over ipc:// (no
// network) and checks the subscriber's count, latency and interval log.
func TestPairOverIPC(t *testing.T) {
	dir := t.TempDir()
	ep := "ipc://" + filepath.Join(dir, "pair.sock")
	out, hlog := filepath.Join(dir, "sub.json"), filepath.Join(dir, "sub.hlog")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subDone := make(chan error, 1)
	go func() {
		subDone <- run(ctx, []string{"-mode", "sub", "-endpoint", ep, "-idle", "500ms", "-json", out, "-hlog", hlog,
			"-status", "100ms", "-expected-interval", "500us"}, io.Discard, io.Discard)
	}()
	var pubErr strings.Builder
	if err := run(ctx, []string{"-mode", "pub", "-endpoint", ep, "-rate", "2000", "-duration", "400ms", "-warmup", "300ms", "-linger", "100ms"}, io.Discard, &pubErr); err != nil {
		t.Fatalf("pub: %v", err)
	}
	if err := <-subDone; err != nil {
		t.Fatalf("sub: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r baseline.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var sent uint64
	for _, line := range strings.Split(pubErr.String(), "\n") {
		if strings.HasPrefix(line, "barepair: sent ") {
			if _, err := fmt.Sscanf(line, "barepair: sent %d messages", &sent); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sent < 700 || r.Received != sent || r.Lost != 0 || r.FirstSeq != 1 {
		t.Errorf("sent %d, received %d, lost %d, first %d: want all of about 800", sent, r.Received, r.Lost, r.FirstSeq)
	}
	if r.LatencyUS.Count != r.Received || r.LatencyUS.P50 <= 0 || r.LatencyCorrectedUS == nil || r.ExpectedIntervalUS != 500 {
		t.Errorf("latency %+v corrected %+v interval %v", r.LatencyUS, r.LatencyCorrectedUS, r.ExpectedIntervalUS)
	}
	if r.NegativeLatency != 0 {
		t.Errorf("%d negative latencies on one clock", r.NegativeLatency)
	}
	lb, err := os.ReadFile(hlog)
	if err != nil || !strings.HasPrefix(string(lb), "#[Histogram log format version") || strings.Count(string(lb), "HIST") < 2 {
		t.Errorf("interval log %q, %v", lb, err)
	}
}
