package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/internal/testio"
)

// scriptedLine sends handmade frames on one line, so the test decides
// which line brings which frame, and where the feed has a hole.
type scriptedLine struct {
	pub *bus.Publisher
	w   bus.FrameWriter
}

const (
	scriptSession  = 0x5eed
	scriptStream   = 3
	scriptPerFrame = 10
)

// send sends frame k (messages (k-1)*10+1 to k*10), or, for k = 0, a
// heartbeat announcing message 1.
func (l *scriptedLine) send(t *testing.T, k int) {
	t.Helper()
	h := bus.Header{Session: scriptSession, Stream: scriptStream, FirstSeq: 1}
	n := 0
	if k == 0 {
		h.Flags = bus.FlagHeartbeat
	} else {
		h.FirstSeq, n = uint64(k-1)*scriptPerFrame+1, scriptPerFrame
	}
	l.w.Begin(&h)
	for i := range n {
		m := bus.Message{Kind: bus.KindQuote, Symbol: []byte("SYM" + strconv.Itoa(i)), BidPrice: int64(k), AskPrice: int64(k + 1), BidSize: 1, AskSize: 1}
		if err := l.w.Add(&m); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.pub.Send(l.w.Finish(time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
}

// poll scrapes url until ok says the scrape is what the test waits for,
// and returns that scrape; it fails the test at the deadline.
func poll(t *testing.T, url, what string, deadline time.Time, ok func(metricstest.Families) bool, each func()) metricstest.Families {
	t.Helper()
	for {
		if each != nil {
			each()
		}
		fams, err := metricstest.Scrape(url)
		if err == nil && ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last scrape error %v", what, err)
		}
		time.Sleep(5 * time.Millisecond) // between scrapes; the condition is the scrape's
	}
}

// feedsub --metrics serves the subscriber's counters while it runs, and
// at the end the same figures as its --json summary. Two lines bring a
// scripted feed: some frames on one line only (so each line wins its
// own), one frame on neither (a gap), the rest on both (duplicates).
func TestMetricsMatchSummary(t *testing.T) {
	dir := t.TempDir()
	endpoints := []string{"ipc://" + filepath.Join(dir, "a"), "ipc://" + filepath.Join(dir, "b")}
	lines := make([]*scriptedLine, len(endpoints))
	for i, e := range endpoints {
		p, err := bus.NewPublisher([]string{e}, bus.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		lines[i] = &scriptedLine{pub: p}
	}
	const (
		frames     = 40
		firstPart  = 20 // frames sent before the scrape during the run
		hole       = 21 // the frame no line brings
		count      = (frames - 1) * scriptPerFrame
		midway     = firstPart * scriptPerFrame
		holeLength = scriptPerFrame
	)
	jsonPath := filepath.Join(dir, "summary.json")
	var last metricstest.Last
	summaryDone = last.Scrape
	defer func() { summaryDone = func() {} }()

	var stderr testio.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{
			"--line", endpoints[0], "--line", endpoints[1], "--metrics", "127.0.0.1:0", "--json", jsonPath,
			"--count", strconv.Itoa(count), "--status", "20ms", "--gap-wait", "20ms", "--workers", "2", "--books", "0",
			"--idle", "60s", // a backstop: the test fails on its own deadline first
		}, io.Discard, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	url := ""
	for url = metricstest.URL(stderr.String()); url == ""; url = metricstest.URL(stderr.String()) {
		select {
		case err := <-done:
			t.Fatalf("feedsub ended before serving metrics: %v; stderr:\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("feedsub never said where its metrics are; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	last.SetURL(url)

	// Heartbeats until both lines are joined: a ZeroMQ subscriber misses
	// what was sent before it connected.
	line := func(name string) []string { return []string{"line", name} }
	poll(t, url, "both lines joined", deadline, func(f metricstest.Families) bool {
		a, _ := f.Value("feedbus_sub_line_frames_total", line("A")...)
		b, _ := f.Value("feedbus_sub_line_frames_total", line("B")...)
		return a > 0 && b > 0
	}, func() {
		for _, l := range lines {
			l.send(t, 0)
		}
	})

	// Every fourth frame on A alone, the next on B alone, the rest on both.
	sendFrame := func(k int) {
		switch k % 4 {
		case 1:
			lines[0].send(t, k)
		case 2:
			lines[1].send(t, k)
		default:
			lines[0].send(t, k)
			lines[1].send(t, k)
		}
	}
	for k := 1; k <= firstPart; k++ {
		sendFrame(k)
	}
	during := poll(t, url, "the first part received", deadline, func(f metricstest.Families) bool {
		v, _ := f.Value("feedbus_sub_received_total", "stream", strconv.Itoa(scriptStream))
		return v == midway
	}, nil)
	for k := firstPart + 1; k <= frames; k++ {
		if k == hole {
			continue
		}
		sendFrame(k)
		if k == hole+1 {
			poll(t, url, "the hole declared a gap", deadline, func(f metricstest.Families) bool {
				declared, _ := f.Value("feedbus_sub_gaps_total")
				late, _ := f.Value("feedbus_sub_late_total") // a one-line frame's hole, if the loop was descheduled past the gap wait
				return declared-late == holeLength
			}, nil)
		}
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("feedsub did not stop at --count %d; stderr:\n%s", count, stderr.String())
	}
	if cli.ExitCode(err) != exitLoss {
		t.Fatalf("run: %v (exit %d), want exit %d for the gap; stderr:\n%s", err, cli.ExitCode(err), exitLoss, stderr.String())
	}
	final, err := last.Result()
	if err != nil {
		t.Fatalf("the scrape after the summary: %v", err)
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Received != count || s.Gaps != holeLength || len(s.Lines) != 2 {
		t.Fatalf("the summary itself: received %d gaps %d lines %d, want %d, %d, 2", s.Received, s.Gaps, len(s.Lines), count, holeLength)
	}
	var mismatches []string
	check := func(what string, want uint64, name string, labels ...string) {
		got, ok := final.Value(name, labels...)
		if !ok || got != float64(want) {
			mismatches = append(mismatches, fmt.Sprintf("%s: %s%v = %v (present %v), summary %d", what, name, labels, got, ok, want))
		}
	}
	stream := []string{"stream", strconv.Itoa(scriptStream)}
	check("received", s.Received, "feedbus_sub_received_total", stream...)
	check("gaps (declared, less late)", s.Gaps+s.Late, "feedbus_sub_gaps_total", stream...)
	check("late", s.Late, "feedbus_sub_late_total", stream...)
	check("pending", s.Pending, "feedbus_sub_pending", stream...)
	check("duplicates", s.Duplicates, "feedbus_sub_duplicates_total", stream...)
	check("reordered", s.Reordered, "feedbus_sub_reordered_total", stream...)
	check("data frames", s.Frames, "feedbus_sub_frames_total", stream...)
	check("latency count", s.LatencyUS.Count, "feedbus_sub_latency_seconds", stream...)
	for _, ln := range s.Lines {
		check("line "+ln.Name+" won", ln.Won, "feedbus_sub_line_won_total", line(ln.Name)...)
		check("line "+ln.Name+" received", ln.Received, "feedbus_sub_line_received_total", line(ln.Name)...)
		check("line "+ln.Name+" data frames", ln.Frames, "feedbus_sub_line_data_frames_total", line(ln.Name)...)
		late, _ := final.Value("feedbus_sub_line_late_total", line(ln.Name)...)
		check("line "+ln.Name+" gaps (declared, less late)", ln.Gaps+uint64(late), "feedbus_sub_line_gaps_total", line(ln.Name)...)
	}
	for _, w := range s.Workers {
		check(fmt.Sprintf("worker %d handled", w.Worker), w.Processed, "feedbus_sub_worker_handled_total", "worker", strconv.Itoa(w.Worker))
	}
	if len(mismatches) > 0 {
		t.Errorf("the last scrape disagrees with the summary:\n%s", strings.Join(mismatches, "\n"))
	}
	// The lines won different messages, and each missed the other's own.
	for _, ln := range s.Lines {
		if ln.Won == 0 || ln.Won == s.Received || ln.Gaps == 0 {
			t.Errorf("line %s won %d of %d with %d gaps of its own: the script should make each line win some and miss some", ln.Name, ln.Won, s.Received, ln.Gaps)
		}
	}
	// The scrape during the run saw the feed under way.
	if v, _ := during.Value("feedbus_sub_received_total", stream...); !(v > 0 && v < float64(s.Received)) {
		t.Errorf("received during the run = %v, want strictly between 0 and %d", v, s.Received)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := final[name]; !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
}

// A --metrics address that cannot work is a one-line usage error (exit
// code 2) before anything starts: malformed here, taken at the start.
func TestMetricsBadAddress(t *testing.T) {
	dir := t.TempDir()
	taken, err := newListener()
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ addr, want string }{
		{"9464", "want HOST:PORT"},
		{"127.0.0.1:http", "not a number"},
		{"127.0.0.1:70000", "not a number"},
		{taken.Addr().String(), "address already in use"},
	} {
		err := run(context.Background(), []string{"--line", "ipc://" + filepath.Join(dir, "a"), "--metrics", tc.addr}, io.Discard, io.Discard)
		if cli.ExitCode(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--metrics %q: %v (exit %d), want a one-line usage error saying %q", tc.addr, err, cli.ExitCode(err), tc.want)
		}
	}
}

// newListener holds a loopback port, for a --metrics address that is taken.
func newListener() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
