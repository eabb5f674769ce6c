package e2e

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/summary"
)

// TestCaptureReplay: one subscriber captures a two-line feed while
// another follows it normally. The capture, replayed as fast as the lines
// take it to a third subscriber, gives the same message count and the same
// last-value book, field by field, for every symbol; replayed at the
// recorded pace, it lasts as long as the original, within 5%. On EPGM
// lines and on udp:// lines, whose capture holds the kernel's receive
// times.
func TestCaptureReplay(t *testing.T) {
	l := requireLab(t, labConfig)
	for i, transport := range []string{"epgm", "udp"} {
		t.Run(transport, func(t *testing.T) {
			port := 6310 + 10*i
			captureReplay(t, l, []string{endpoint(l, transport, 0, port), endpoint(l, transport, 1, port+1)})
		})
	}
}

func captureReplay(t *testing.T, l *lab.Lab, lines []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const count, rate, symbols = 100_000, 20_000, 100
	dir := t.TempDir()
	capFile := filepath.Join(dir, "feed.pcapng")
	subArgs := []string{"--count", strconv.Itoa(count), "--idle", "15s", "--books", strconv.Itoa(2 * symbols)}
	pubArgs := func(json string, extra ...string) []string {
		return append([]string{"--line", lines[0], "--line", lines[1], "--warmup", "1s", "--linger", "1s", "--json", json}, extra...)
	}

	normal := startSub(t, ctx, l, l.Subs()[0], lines, subArgs...)
	capturing := startSub(t, ctx, l, l.Subs()[1], lines, append(subArgs, "--capture", capFile)...)
	orig := filepath.Join(dir, "pub-orig.json")
	runPub(t, ctx, l, pubArgs(orig, "--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--symbols", strconv.Itoa(symbols)))
	want := normal.summary(t)
	wantCompleteDual(t, "normal", want, count)
	wantCompleteDual(t, "capturing", capturing.summary(t), count)
	if len(want.Books) != symbols {
		t.Fatalf("the normal subscriber kept %d books, want %d", len(want.Books), symbols)
	}

	// As fast as the lines take it.
	third := startSub(t, ctx, l, l.Subs()[0], lines, subArgs...)
	fast := filepath.Join(dir, "pub-max.json")
	runPub(t, ctx, l, pubArgs(fast, "--replay", capFile, "--speed", "max"))
	got := third.summary(t)
	wantCompleteDual(t, "replay --speed max", got, count)
	sameBooks(t, want.Books, got.Books)
	if p := readPub(t, fast); p.Messages != count {
		t.Errorf("replay --speed max published %d messages, want %d", p.Messages, count)
	}

	// At the recorded pace.
	fourth := startSub(t, ctx, l, l.Subs()[1], lines, subArgs...)
	paced := filepath.Join(dir, "pub-paced.json")
	runPub(t, ctx, l, pubArgs(paced, "--replay", capFile))
	wantCompleteDual(t, "replay at the recorded pace", fourth.summary(t), count)
	o, p := readPub(t, orig), readPub(t, paced)
	if ratio := p.ElapsedS / o.ElapsedS; math.Abs(ratio-1) > 0.05 {
		t.Errorf("the replay at the recorded pace took %.3fs, the original %.3fs (%.1f%%), want within 5%%", p.ElapsedS, o.ElapsedS, 100*(ratio-1))
	}
	t.Logf("original %.3fs, replay at pace %.3fs, replay at max %.3fs", o.ElapsedS, p.ElapsedS, readPub(t, fast).ElapsedS)
}

// runPub runs feedpub on the publisher host to its end.
func runPub(t *testing.T, ctx context.Context, l *lab.Lab, args []string) {
	t.Helper()
	pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, args...))
	if err := pub.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("feedpub: %v\n%s", err, pub.stderr())
	}
}

func readPub(t *testing.T, path string) *summary.Publisher {
	t.Helper()
	s, err := summary.ReadPublisherJSONFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameBooks compares two sets of books field by field, but for the worker
// that kept each (a matter of sharding, not of the data).
func sameBooks(t *testing.T, want, got []fanout.Book) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d books, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		w.Worker, g.Worker = 0, 0
		if w != g {
			t.Errorf("book %d differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
