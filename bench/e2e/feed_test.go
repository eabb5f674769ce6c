package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/summary"
)

// The lab of this package: its own name, subnets and groups, so that it
// can run beside other packages' labs.
var labConfig = lab.Config{Name: "e2e", Net: 80, Subscribers: 2, RaiseHostBufMax: true}

// endpoint is host's endpoint for line on transport, naming the interface
// (the product resolves names; libpgm alone would not).
func endpoint(l *lab.Lab, transport string, line, port int) string {
	if transport == "tcp" {
		return fmt.Sprintf("tcp://%s:%d", l.Pub().NICs[line].Addr, port)
	}
	return fmt.Sprintf("%s://eth%d;%s:%d", transport, line+1, l.Group(line).Addr(), port)
}

type feedCase struct {
	transport string
	port      int
	count     int
	rate      int
	subs      []lab.Host // default: every subscriber host
}

// runFeed starts feedsub on each subscriber host, waits until each has
// joined, publishes count messages at rate from the publisher host, and
// returns each subscriber's summary.
func runFeed(t *testing.T, l *lab.Lab, c feedCase) []*summary.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	subs := c.subs
	if subs == nil {
		subs = l.Subs()
	}
	ep := endpoint(l, c.transport, 0, c.port)
	var procs []*proc
	var paths []string
	for _, h := range subs {
		path := filepath.Join(t.TempDir(), h.Name+".json")
		p := start(t, "feedsub@"+h.Name, l.Command(ctx, h, bin.feedsub,
			"--line", ep, "--count", strconv.Itoa(c.count), "--idle", "15s", "--json", path))
		procs = append(procs, p)
		paths = append(paths, path)
	}
	for _, p := range procs {
		p.waitJoined(t, 1)
	}
	pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub,
		"--line", ep, "--rate", strconv.Itoa(c.rate), "--count", strconv.Itoa(c.count),
		"--warmup", "1s", "--linger", "1s"))
	if err := pub.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("feedpub: %v\n%s", err, pub.stderr())
	}
	var out []*summary.Summary
	for i, p := range procs {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%s: %v\n%s", p.name, err, p.stderr())
		}
		out = append(out, readSummary(t, paths[i]))
	}
	return out
}

// wantComplete asserts that a subscriber received every message once, in
// order, with no gaps.
func wantComplete(t *testing.T, host string, s *summary.Summary, count int) {
	t.Helper()
	if s.Received != uint64(count) || s.Gaps != 0 || s.Pending != 0 || s.Reordered != 0 || s.Late != 0 ||
		s.Sessions != 1 || s.EndReason != "count" {
		t.Errorf("%s: received %d/%d gaps %d pending %d reordered %d late %d sessions %d end %q; want all, in order, one session",
			host, s.Received, count, s.Gaps, s.Pending, s.Reordered, s.Late, s.Sessions, s.EndReason)
	}
	if s.LatencyUS.Count != uint64(count) || s.LatencyUS.P50 <= 0 {
		t.Errorf("%s: latency recorded for %d messages (p50 %.1fµs), want %d", host, s.LatencyUS.Count, s.LatencyUS.P50, count)
	}
}

func TestFeedEPGM(t *testing.T) {
	l := requireLab(t, labConfig)
	const count = 200_000
	for i, s := range runFeed(t, l, feedCase{transport: "epgm", port: 6001, count: count, rate: 50_000}) {
		wantComplete(t, l.Subs()[i].Name, s, count)
		t.Logf("%s: %.0f msg/s, latency p50 %.0fµs p99 %.0fµs", l.Subs()[i].Name, s.MsgsPerS, s.LatencyUS.P50, s.LatencyUS.P99)
	}
}

// TestFeedUDP is the spine over udp:// lines: plain UDP multicast, one
// datagram a frame, no ZeroMQ on the data path.
func TestFeedUDP(t *testing.T) {
	l := requireLab(t, labConfig)
	const count = 200_000
	for i, s := range runFeed(t, l, feedCase{transport: "udp", port: 6007, count: count, rate: 50_000}) {
		wantComplete(t, l.Subs()[i].Name, s, count)
		if s.Lines[0].KernelDrops != 0 {
			t.Errorf("%s: %d datagrams dropped by the kernel", l.Subs()[i].Name, s.Lines[0].KernelDrops)
		}
		t.Logf("%s: %.0f msg/s, latency p50 %.0fµs p99 %.0fµs", l.Subs()[i].Name, s.MsgsPerS, s.LatencyUS.P50, s.LatencyUS.P99)
	}
}

func TestFeedPGM(t *testing.T) {
	l := requireLab(t, labConfig)
	const count = 200_000
	for i, s := range runFeed(t, l, feedCase{transport: "pgm", port: 6002, count: count, rate: 50_000}) {
		wantComplete(t, l.Subs()[i].Name, s, count)
	}
}

func TestFeedTCP(t *testing.T) {
	l := requireLab(t, labConfig)
	const count = 200_000
	for i, s := range runFeed(t, l, feedCase{transport: "tcp", port: 6003, count: count, rate: 50_000}) {
		wantComplete(t, l.Subs()[i].Name, s, count)
	}
}

// TestFeedRepairsLoss drops 2% of the packets arriving at one subscriber;
// PGM's NAKs must repair every one.
func TestFeedRepairsLoss(t *testing.T) {
	l := requireLab(t, labConfig)
	ctx := context.Background()
	lossy := l.Subs()[0]
	if err := l.DropRandom(ctx, lossy, "eth1", 2); err != nil {
		t.Fatal(err)
	}
	const count = 200_000
	sums := runFeed(t, l, feedCase{transport: "epgm", port: 6004, count: count, rate: 50_000})
	dropped, err := l.Dropped(ctx, lossy)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 {
		t.Fatal("nftables dropped nothing: the loss was not applied")
	}
	for i, s := range sums {
		wantComplete(t, l.Subs()[i].Name, s, count)
	}
	t.Logf("%d packets dropped at %s; its p50 %.0fµs p99 %.0fµs, lossless p50 %.0fµs p99 %.0fµs",
		dropped, lossy.Name, sums[0].LatencyUS.P50, sums[0].LatencyUS.P99, sums[1].LatencyUS.P50, sums[1].LatencyUS.P99)
}

// TestFeedSurvivesNoise has a second process send random bytes to the same
// group: feedsub counts them as malformed and loses nothing of the feed.
func TestFeedSurvivesNoise(t *testing.T) {
	l := requireLab(t, labConfig)
	for i, transport := range []string{"epgm", "udp"} {
		t.Run(transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const count = 100_000
			port := 6005 + 10*i
			sub, noiseHost := l.Subs()[0], l.Subs()[1]
			ep := endpoint(l, transport, 0, port)
			noise := start(t, "feednoise", l.Command(ctx, noiseHost, bin.feednois,
				"--line", ep, "--rate", "500", "--duration", "8s"))
			sums := runFeed(t, l, feedCase{transport: transport, port: port, count: count, rate: 25_000, subs: []lab.Host{sub}})
			if err := noise.wait(t, 30*time.Second); err != nil {
				t.Fatalf("feednoise: %v", err)
			}
			s := sums[0]
			if s.Malformed == 0 {
				t.Errorf("no malformed frames counted while noise was sent; %s", noise.stderr())
			}
			wantCompleteButSessions(t, sub.Name, s, count)
			t.Logf("malformed %d, last: %s", s.Malformed, s.LastMalformed)
		})
	}
}

// wantCompleteButSessions is wantComplete for a feed with noise beside it:
// noise that happens to decode would be another session, which the
// checks above do not allow.
func wantCompleteButSessions(t *testing.T, host string, s *summary.Summary, count int) {
	t.Helper()
	if s.Received != uint64(count) || s.Gaps != 0 || s.Reordered != 0 || s.EndReason != "count" {
		t.Errorf("%s: received %d/%d gaps %d reordered %d end %q; want all, in order",
			host, s.Received, count, s.Gaps, s.Reordered, s.EndReason)
	}
}

// TestFeedPublisherRestart kills the publisher with SIGKILL mid-stream and
// starts it again: a restart is a new session, not a gap.
func TestFeedPublisherRestart(t *testing.T) {
	l := requireLab(t, labConfig)
	for i, transport := range []string{"epgm", "udp"} {
		t.Run(transport, func(t *testing.T) { publisherRestart(t, l, endpoint(l, transport, 0, 6006+10*i)) })
	}
}

func publisherRestart(t *testing.T, l *lab.Lab, ep string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub := l.Subs()[0]
	path := filepath.Join(t.TempDir(), "sub.json")
	fs := start(t, "feedsub", l.Command(ctx, sub, bin.feedsub, "--line", ep, "--idle", "4s", "--json", path))
	fs.waitJoined(t, 1)

	first := start(t, "feedpub#1", l.Command(ctx, l.Pub(), bin.feedpub,
		"--line", ep, "--rate", "20000", "--warmup", "1s"))
	// Wait until the subscriber is receiving, then kill the publisher dead.
	fs.waitFor(t, 20*time.Second, "data from the first publisher", func(stderr string) bool {
		for _, line := range strings.Split(stderr, "\n") {
			if f := strings.Fields(line); len(f) > 6 && f[5] == "recv" && f[6] != "0" {
				return true
			}
		}
		return false
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)

	const second = 50_000
	pub := start(t, "feedpub#2", l.Command(ctx, l.Pub(), bin.feedpub,
		"--line", ep, "--rate", "20000", "--count", strconv.Itoa(second), "--warmup", "1s", "--linger", "1s"))
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("second feedpub: %v", err)
	}
	if err := fs.wait(t, 30*time.Second); err != nil {
		t.Fatalf("feedsub: %v", err)
	}
	s := readSummary(t, path)
	if s.Sessions != 2 || s.Gaps != 0 || s.Pending != 0 || s.Received < second+1 {
		t.Errorf("after a restart: sessions %d gaps %d pending %d received %d; want 2 sessions, no gaps, over %d received",
			s.Sessions, s.Gaps, s.Pending, s.Received, second)
	}
}

// TestPublisherFullLine runs the feed as fast as it goes against a PGM rate
// limit that binds. With --on-full block nothing is lost; with drop, what
// the publisher drops it counts, and subscribers see it as gaps.
func TestPublisherFullLine(t *testing.T) {
	l := requireLab(t, labConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, policy := range []string{"block", "drop"} {
		t.Run(policy, func(t *testing.T) {
			ep := endpoint(l, "epgm", 0, 6301+i)
			s := startSub(t, ctx, l, l.Subs()[0], []string{ep}, "--idle", "3s", "--pgm-rate", "50000", "--books", "0")
			pubJSON := filepath.Join(t.TempDir(), "pub.json")
			runPub(t, ctx, l, []string{"--line", ep, "--rate", "0", "--duration", "2s",
				"--warmup", "1s", "--linger", "1s", "--pgm-rate", "50000", "--on-full", policy, "--json", pubJSON})
			p := readPub(t, pubJSON)
			sent, dropped := int(p.Lines[0].Messages), int(p.Lines[0].DroppedFrames)
			var sum *summary.Summary
			switch policy {
			case "block":
				sum = s.summary(t)
				if sum.Gaps != 0 || sum.Received != uint64(sent) || dropped != 0 {
					t.Errorf("block: sent %d, received %d, gaps %d, dropped %d frames: want everything", sent, sum.Received, sum.Gaps, dropped)
				}
			case "drop":
				sum = s.summaryExit(t, 4) // feedsub ends with loss
				if dropped == 0 || sum.Gaps == 0 {
					t.Errorf("drop: publisher counted %d dropped frames, subscriber %d gaps: the limit did not bind", dropped, sum.Gaps)
				}
			}
			t.Logf("%s: sent %d, received %d (%.0f msg/s), gaps %d, frames dropped %d", policy, sent, sum.Received, sum.MsgsPerS, sum.Gaps, dropped)
		})
	}
}
