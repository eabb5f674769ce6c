package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/internal/testio"
	"github.com/feedbus/feedbus/recovery"
)

// Every bad flag is a one-line usage error (exit code 2) that names it.
func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--line", "ipc://" + dir + "/feed", "--listen", "ipc://" + dir + "/cache"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "tcp://127.0.0.1:0"}, "no --line"},
		{[]string{"--line", "ipc://" + dir + "/feed"}, "no --listen"},
		{append(base, "--listen", "udp://1.2.3.4:5"), "--listen"},
		{append(base, "--history-count", "0"), "--history-count"},
		{append(base, "--history-bytes", "100"), "--history-bytes"},
		{append(base, "--history-age", "0s"), "--history-age"},
		{append(base, "--max-symbols", "-1"), "--max-symbols"},
		{append(base, "--max-retransmit", "0"), "--max-retransmit"},
		{append(base, "--max-requests", "0"), "--max-requests"},
		{append(base, "--client-timeout", "0s"), "--client-timeout"},
		{append(base, "--send-hwm", "0"), "--send-hwm"},
		{append(base, "--stream", "5000000000"), "--stream"},
		{append(base, "--status", "-1s"), "--status"},
		{append(base, "--duration", "5"), "a duration needs a unit"},
		{append(base, "--codecs", "lz4"), "--codecs"},
		{append(base, "--auth-key", filepath.Join(dir, "missing.toml")), "--auth-key"},
		{append(base, "--json", filepath.Join(dir, "no", "such", "dir.json")), "--json"},
		{append(base, "stray"), "unexpected argument"},
		{append(base, "--peer", "udp://1.2.3.4:5"), "--peer"},
		{append(base, "--metrics", "9464"), "want HOST:PORT"},
		{append(base, "--metrics", "127.0.0.1:metrics"), "not a number"},
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if cli.ExitCode(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v (exit %d), want a one-line usage error naming %q", tc.args, err, cli.ExitCode(err), tc.want)
		}
	}
}

// feedcache follows a feed, serves a retransmission, says so on stderr,
// and writes its final stats at the end.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	line, listen, out := "ipc://"+filepath.Join(dir, "feed"), "ipc://"+filepath.Join(dir, "cache"), filepath.Join(dir, "stats.json")
	pub, err := feedbus.NewPublisher([]string{line}, feedbus.WithLinger(0), feedbus.WithHeartbeat(5*time.Millisecond), feedbus.WithStream(4))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr, stdout testio.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--line", line, "--listen", listen, "--stream", "4", "--status", "20ms", "--json", out, "--metrics", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "started at seq 1") {
		if time.Now().After(deadline) {
			t.Fatalf("the feed was never heard; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 100 {
		pub.Publish(&bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: int64(i), AskPrice: int64(i + 1)})
	}
	pub.Flush()

	ctxz, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctxz.Term()
	d, err := ctxz.NewSocket(zmq.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := errors.Join(d.SetLinger(0), d.SetRcvtimeo(10*time.Second), d.Connect(listen)); err != nil {
		t.Fatal(err)
	}
	messages := 0
	for messages < 100 && time.Now().Before(deadline) {
		messages = 0
		d.SendBytes(recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpRetransmit, ID: 1, Stream: 4, Session: pub.Session(), First: 1, Last: 100}), 0)
		for {
			b, err := d.RecvBytes(0)
			if err != nil {
				t.Fatal(err)
			}
			var r recovery.Reply
			if err := recovery.ParseReply(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Type == recovery.ReplyFrame {
				var f bus.Frame
				if err := bus.Decode(r.Body, &f); err != nil {
					t.Fatal(err)
				}
				messages += int(f.Count)
			}
			if r.Type != recovery.ReplyFrame {
				break
			}
		}
	}
	if messages != 100 {
		t.Fatalf("retransmitted %d messages, want 100", messages)
	}
	for !strings.Contains(stderr.String(), "ready seq 100") {
		if time.Now().After(deadline) {
			t.Fatalf("no status line with seq 100; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The same counts on /metrics, while it runs.
	url := metricstest.URL(stderr.String())
	var scraped metricstest.Families
	for {
		fams, err := metricstest.Scrape(url)
		if v, _ := fams.Value("feedbus_cache_received_total", "stream", "4"); err == nil && v == 100 {
			scraped = fams
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no feedbus_cache_received_total 100 at %q (%v); stderr:\n%s", url, err, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"listening on " + listen, "line A " + line + " joined"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.EndReason != "signal" || rep.Received != 100 || rep.Retransmits == 0 || rep.MessagesSent < 100 || rep.Stream != 4 {
		t.Errorf("json: %s", b)
	}
	// Nothing was asked after the scrape: its request counts are final.
	for _, m := range []struct {
		name string
		want uint64
	}{
		{"feedbus_cache_received_total", rep.Received},
		{"feedbus_cache_last_seq", rep.LastSeq},
		{"feedbus_cache_retransmit_requests_total", rep.Retransmits},
		{"feedbus_cache_messages_sent_total", rep.MessagesSent},
		{"feedbus_cache_frames_sent_total", rep.FramesSent},
		{"feedbus_cache_symbols", uint64(rep.Symbols)},
	} {
		if v, ok := scraped.Value(m.name, "stream", "4"); !ok || v != float64(m.want) {
			t.Errorf("%s = %v (present %v), the final stats say %d", m.name, v, ok, m.want)
		}
	}
	if !strings.Contains(stdout.String(), "last_seq") {
		t.Errorf("stdout: %s", stdout.String())
	}
}
