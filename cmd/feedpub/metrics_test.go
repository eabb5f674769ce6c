package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/internal/testio"
)

// feedpub --metrics counts what it publishes as it goes, and at the end
// shows the figures of its --json summary: messages, frames, bytes,
// heartbeats, each line's frames and drops, and the bad input lines.
func TestMetricsMatchSummary(t *testing.T) {
	dir := t.TempDir()
	lines := []string{"ipc://" + filepath.Join(dir, "a"), "ipc://" + filepath.Join(dir, "b")}
	input, jsonPath := filepath.Join(dir, "input"), filepath.Join(dir, "summary.json")
	if err := syscall.Mkfifo(input, 0o600); err != nil {
		t.Fatal(err)
	}
	var last metricstest.Last
	summaryDone = last.Scrape
	defer func() { summaryDone = func() {} }()

	var stderr testio.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--line", lines[0], "--line", lines[1], "--input", input, "--rate", "0",
			"--linger", "0", "--heartbeat", "5ms", "--stream", "6", "--metrics", "127.0.0.1:0", "--json", jsonPath}, io.Discard, &stderr)
	}()
	// Opening a FIFO waits for its reader: feedpub, once it has started.
	opened := make(chan *os.File, 1)
	go func() {
		if f, err := os.OpenFile(input, os.O_WRONLY, 0); err == nil {
			opened <- f
		}
	}()
	var fifo *os.File
	select {
	case fifo = <-opened:
	case err := <-done:
		t.Fatalf("feedpub ended before reading its input: %v; stderr:\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("feedpub never opened its input; stderr:\n%s", stderr.String())
	}
	defer fifo.Close()
	write := func(from, to int) {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "q,SYM%d,%d.25,%d.50,1,2\n", i%7, i, i)
			if i%100 == 50 {
				b.WriteString("q,BAD,1e3,2,1,1\n") // not a price: skipped and counted
			}
		}
		if _, err := fifo.WriteString(b.String()); err != nil {
			t.Fatal(err)
		}
	}
	const half, all = 500, 1000
	write(0, half)
	deadline := time.Now().Add(30 * time.Second)
	var during metricstest.Families
	url := ""
	for {
		if url == "" {
			url = metricstest.URL(stderr.String())
			last.SetURL(url)
		}
		if url != "" {
			fams, err := metricstest.Scrape(url)
			if v, _ := fams.Value("feedbus_pub_messages_total", "stream", "6"); err == nil && v == half {
				during = fams
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("feedpub never counted %d messages at %q; stderr:\n%s", half, url, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	write(half, all)
	fifo.Close() // the end of the input ends the run
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("feedpub did not end with its input; stderr:\n%s", stderr.String())
	}
	final, finalErr := last.Result()
	if err != nil || finalErr != nil {
		t.Fatalf("run: %v (exit %d); the last scrape: %v; stderr:\n%s", err, cli.ExitCode(err), finalErr, stderr.String())
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var s summary.Publisher
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Messages != all || s.Rejected != all/100 || len(s.Lines) != 2 {
		t.Fatalf("the summary itself: %s", b)
	}
	var mismatches []string
	check := func(want uint64, name string, labels ...string) {
		if got, ok := final.Value(name, labels...); !ok || got != float64(want) {
			mismatches = append(mismatches, fmt.Sprintf("%s%v = %v (present %v), summary %d", name, labels, got, ok, want))
		}
	}
	check(s.Messages, "feedbus_pub_messages_total", "stream", "6")
	check(s.Frames, "feedbus_pub_frames_total", "stream", "6")
	check(s.Heartbeats, "feedbus_pub_heartbeats_total", "stream", "6")
	check(s.WireBytes, "feedbus_pub_wire_bytes_total", "stream", "6")
	check(s.Rejected, "feedbus_pub_input_errors_total", "stream", "6")
	for _, ln := range s.Lines {
		l := []string{"stream", "6", "line", ln.Name}
		check(ln.Frames, "feedbus_pub_line_frames_total", l...)
		check(ln.Messages, "feedbus_pub_line_messages_total", l...)
		check(ln.DroppedFrames, "feedbus_pub_line_dropped_frames_total", l...)
		check(ln.DroppedMessages, "feedbus_pub_line_dropped_messages_total", l...)
		check(ln.Waits, "feedbus_pub_line_waits_total", l...)
	}
	if _, ok := final.Metric("feedbus_pub_info", "stream", "6", "session", s.Session); !ok {
		mismatches = append(mismatches, "no feedbus_pub_info with session "+s.Session)
	}
	if len(mismatches) > 0 {
		t.Errorf("the last scrape disagrees with the summary:\n%s", strings.Join(mismatches, "\n"))
	}
	if v, _ := during.Value("feedbus_pub_input_errors_total", "stream", "6"); v != half/100 {
		t.Errorf("bad input lines counted during the run: %v, want %d", v, half/100)
	}
	if v, _ := during.Value("feedbus_pub_line_frames_total", "line", "B"); !(v > 0 && v < float64(s.Lines[1].Frames)) {
		t.Errorf("line B's frames during the run = %v, want strictly between 0 and %d", v, s.Lines[1].Frames)
	}
}

// A --metrics address that cannot work is a one-line usage error.
func TestMetricsBadAddress(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{"9464", "localhost:99999", "127.0.0.1:x"} {
		err := run(context.Background(), []string{"--line", "ipc://" + filepath.Join(dir, "a"), "--metrics", addr}, io.Discard, io.Discard)
		if cli.ExitCode(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), strconv.Quote(addr)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--metrics %q: %v (exit %d), want a one-line usage error quoting it", addr, err, cli.ExitCode(err))
		}
	}
}
