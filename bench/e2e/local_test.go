package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runLocal publishes count messages over ipc:// to one feedsub with the
// given extra flags; no lab, no root. It returns the summary.
func runLocal(t *testing.T, count int, subArgs, pubArgs []string) *sub {
	t.Helper()
	dir := t.TempDir()
	ep := "ipc://" + filepath.Join(dir, "feed")
	s := &sub{json: filepath.Join(dir, "sub.json")}
	args := append([]string{"--line", ep, "--count", strconv.Itoa(count), "--idle", "10s", "--json", s.json}, subArgs...)
	s.p = start(t, "feedsub", exec.Command(bin.feedsub, args...))
	s.p.waitJoined(t, 1)
	pargs := append([]string{"--line", ep, "--rate", "20000", "--warmup", "500ms", "--linger", "200ms"}, pubArgs...)
	pub := start(t, "feedpub", exec.Command(bin.feedpub, pargs...))
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v\n%s", err, pub.stderr())
	}
	return s
}

// TestTopicFilter subscribes to two symbols: only their messages are
// delivered, the rest are counted as filtered, and sequencing still sees
// the whole stream.
func TestTopicFilter(t *testing.T) {
	const sent = 20_000
	s := runLocal(t, 0, []string{"--topic", "AAPL", "--topic", "MSF", "--idle", "2s", "--books", "100"},
		[]string{"--count", strconv.Itoa(sent)})
	sum := s.summary(t)
	if sum.Received == 0 || sum.Received+sum.Filtered != sent || sum.Gaps != 0 {
		t.Fatalf("received %d + filtered %d, want %d in all with no gaps (gaps %d)", sum.Received, sum.Filtered, sent, sum.Gaps)
	}
	if len(sum.Books) != 2 {
		t.Fatalf("books for %d symbols, want AAPL and MSFT only", len(sum.Books))
	}
	for _, b := range sum.Books {
		if b.Symbol != "AAPL" && b.Symbol != "MSFT" {
			t.Errorf("book for %s, which --topic excludes", b.Symbol)
		}
	}
}

// TestCompressedFeed runs the feed through zstd with a trained dictionary.
func TestCompressedFeed(t *testing.T) {
	dict := filepath.Join(t.TempDir(), "feed.dict")
	if out, err := exec.Command(bin.feedpub, "--train-dict", dict).CombinedOutput(); err != nil {
		t.Fatalf("--train-dict: %v\n%s", err, out)
	}
	const count = 20_000
	for _, c := range [][]string{{"--compress", "s2"}, {"--compress", "zstd"}, {"--compress", "zstd", "--zstd-dict", dict}} {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			s := runLocal(t, count, []string{"--zstd-dict", dict, "--codecs", "s2,zstd"}, append([]string{"--count", strconv.Itoa(count)}, c...))
			sum := s.summary(t)
			wantComplete(t, "feedsub", sum, count)
			if sum.Malformed != 0 {
				t.Errorf("%d malformed frames: %s", sum.Malformed, sum.LastMalformed)
			}
		})
	}
}

// TestSpinLargeFrames runs the tuned configuration of bench/RESULTS.md over
// ipc://: 8 KiB frames and a busy-polling subscriber. Everything arrives in
// order, and the subscriber, spinning while the feed runs, still notices
// the feed has gone idle and stops.
func TestSpinLargeFrames(t *testing.T) {
	const count = 20_000
	s := runLocal(t, 0, []string{"--spin", "20ms", "--idle", "1s"},
		[]string{"--count", strconv.Itoa(count), "--frame-bytes", "8192", "--rate", "200000"})
	sum := s.summary(t)
	if sum.Received != count || sum.Gaps != 0 || sum.Pending != 0 || sum.Reordered != 0 || sum.Late != 0 || sum.Sessions != 1 {
		t.Errorf("received %d/%d gaps %d pending %d reordered %d late %d sessions %d; want all, in order, one session",
			sum.Received, count, sum.Gaps, sum.Pending, sum.Reordered, sum.Late, sum.Sessions)
	}
	if sum.EndReason != "idle" {
		t.Errorf("feedsub ended by %q, want idle: spinning must not hide that the feed stopped", sum.EndReason)
	}
	if perFrame := float64(sum.Received) / float64(max(sum.Frames, 1)); perFrame <= 21 {
		t.Errorf("%.1f messages a frame: --frame-bytes 8192 should pack more than a 1400-byte frame's 21", perFrame)
	}
}

// TestSecondInterrupt: the first SIGINT starts a clean end, and feedsub
// drains its workers; a second SIGINT while it drains ends it at once.
// (The second one used to be swallowed, leaving ^C^C without effect.)
func TestSecondInterrupt(t *testing.T) {
	dir := t.TempDir()
	ep := "ipc://" + filepath.Join(dir, "feed")
	cmd := exec.Command(bin.feedsub, "--line", ep, "--workers", "1", "--work", "1s", "--drain", "1m", "--status", "0")
	p := start(t, "feedsub", cmd)
	p.waitJoined(t, 1)
	pub := start(t, "feedpub", exec.Command(bin.feedpub, "--line", ep, "--count", "100", "--warmup", "300ms", "--linger", "100ms"))
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v", err)
	}
	p.waitFor(t, 10*time.Second, "a message", func(s string) bool { return strings.Contains(s, "session") })
	cmd.Process.Signal(syscall.SIGINT) // feedsub now drains 99 messages of 1 s each
	p.waitFor(t, 10*time.Second, "the drain", func(s string) bool { return strings.Contains(s, "interrupt again to quit") })
	cmd.Process.Signal(syscall.SIGINT)
	err := p.wait(t, 5*time.Second) // fails the test if feedsub is still draining
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Fatalf("after a second SIGINT: %v, want death by SIGINT", err)
	}
}

// TestSignalFromTheStart sends SIGUSR1 (print the books) again and again
// from the moment the Go runtime has its signal handlers in, through flag
// parsing and socket set-up, until feedsub ends by itself. Not one may end
// the process. (Before the runtime's handlers are in, a few milliseconds
// after exec, the kernel's default still applies, as for any program.)
func TestSignalFromTheStart(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "feed")
	cmd := exec.Command(bin.feedsub, "--line", ep, "--idle", "500ms", "--status", "0")
	p := start(t, "feedsub", cmd)
	// procfs's ProcStatus has no SigCgt, so the line is read here.
	status := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
	const usr1 = 1 << (syscall.SIGUSR1 - 1)
	caught := func() bool {
		b, err := os.ReadFile(status)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				return err == nil && mask&usr1 != 0
			}
		}
		return false
	}
	deadline := time.Now().Add(5 * time.Second)
	for !caught() {
		if time.Now().After(deadline) {
			t.Fatal("feedsub's runtime never caught SIGUSR1 (SigCgt)")
		}
		runtime.Gosched()
	}
	sent := 0
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
signals:
	for {
		select {
		case <-p.done:
			break signals
		case <-tick.C:
			if cmd.Process.Signal(syscall.SIGUSR1) == nil {
				sent++
			}
		}
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("after %d SIGUSR1s: %v, want exit code 5 (nothing received)", sent, p.err)
	}
	if !strings.Contains(p.stdout(), "SYMBOL") {
		t.Errorf("%d SIGUSR1s and the books were never printed", sent)
	}
	t.Logf("%d SIGUSR1s survived", sent)
}
