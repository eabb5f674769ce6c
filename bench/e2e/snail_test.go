package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSnailExits is the seed's scenario: a feed at 1k msg/s and a
// subscriber whose one worker takes 2 ms a message (500 msg/s) must say it
// cannot keep up and exit, while a subscriber with fast workers on the
// same feed never trips and receives everything.
func TestSnailExits(t *testing.T) {
	l := requireLab(t, labConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const count = 8000
	line := []string{endpoint(l, "epgm", 0, 6201)}
	slow := startSub(t, ctx, l, l.Subs()[0], line, "--workers", "1", "--work", "2ms", "--snail-action", "exit", "--idle", "20s")
	fast := startSub(t, ctx, l, l.Subs()[1], line, "--count", strconv.Itoa(count), "--snail-action", "exit", "--idle", "20s")
	pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, "--line", line[0],
		"--rate", "1000", "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"))

	began := time.Now()
	err := slow.p.wait(t, time.Minute)
	tookS := time.Since(began).Seconds()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("slow subscriber: %v, want exit status 3\n%s", err, slow.p.stderr())
	}
	lines := strings.Split(strings.TrimSpace(slow.p.stderr()), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"cannot keep up", "worker 0", "exceeds --snail-max-lag 1s"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q does not say %q", last, want)
		}
	}
	// Data starts after the publisher's 1 s warmup; a few seconds after that.
	if tookS > 8 {
		t.Errorf("the snail took %.1fs from the publisher's start to trip, want a few seconds", tookS)
	}
	ss := readSummary(t, slow.json)
	if ss.Snail.Trips == 0 || ss.SnailVerdict == "" || ss.EndReason != "snail" {
		t.Errorf("slow summary: trips %d verdict %q end %q", ss.Snail.Trips, ss.SnailVerdict, ss.EndReason)
	}

	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v", err)
	}
	fs := fast.summary(t)
	wantComplete(t, "fast", fs, count)
	if fs.Snail.Trips != 0 || fs.Dropped != 0 {
		t.Errorf("fast subscriber tripped %d times, dropped %d", fs.Snail.Trips, fs.Dropped)
	}
	t.Logf("slow subscriber exited after %.1fs: %s", tookS, last)
}

// TestMemoryBounded stalls one worker (1 s a message) under 100k msg/s for
// 10 s: the default limits keep the subscriber's peak RSS under 100 MiB,
// and the other worker receives every message of its symbols.
func TestMemoryBounded(t *testing.T) {
	l := requireLab(t, labConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rate, count = 100_000, 1_000_000
	line := []string{endpoint(l, "epgm", 0, 6202)}
	sub := startSub(t, ctx, l, l.Subs()[0], line, "--workers", "2", "--work", "1s", "--work-on", "0",
		"--snail-action", "warn", "--count", strconv.Itoa(count), "--idle", "20s")
	pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, "--line", line[0],
		"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"))
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v", err)
	}
	s := sub.summaryExit(t, 4) // the stalled worker's drops are loss
	if s.Received != count || s.Gaps != 0 {
		t.Errorf("received %d/%d, gaps %d: the receive loop must not fall behind a stalled worker", s.Received, count, s.Gaps)
	}
	if len(s.Workers) != 2 {
		t.Fatalf("%d workers in the summary, want 2", len(s.Workers))
	}
	stalled, other := s.Workers[0], s.Workers[1]
	if other.Dropped != 0 || other.Abandoned != 0 || other.Processed != other.Dispatched || other.Processed == 0 {
		t.Errorf("the healthy worker processed %d of %d, dropped %d, abandoned %d: want all", other.Processed, other.Dispatched, other.Dropped, other.Abandoned)
	}
	if stalled.Dropped == 0 {
		t.Errorf("the stalled worker dropped nothing (processed %d)", stalled.Processed)
	}
	if s.Dropped != stalled.Dropped {
		t.Errorf("summary dropped %d, stalled worker dropped %d", s.Dropped, stalled.Dropped)
	}
	if s.Snail.Trips == 0 {
		t.Errorf("a stalled worker did not trip the snail (warn)")
	}
	const limit = 100 << 20
	if s.VmHWMBytes == 0 || s.VmHWMBytes > limit {
		t.Errorf("peak RSS %d bytes, want under %d", s.VmHWMBytes, limit)
	}
	t.Logf("peak RSS %.1f MiB; stalled worker dropped %d, healthy worker processed %d; %.0f msg/s",
		float64(s.VmHWMBytes)/(1<<20), stalled.Dropped, other.Processed, s.MsgsPerS)
}
