package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestTwoStreamsOneGroup: two publishers share a line's group and port,
// each with its own stream. A subscriber that follows stream 1 gets all of
// it, once, and counts the other publisher's frames as foreign; nothing of
// stream 2 reaches its books.
func TestTwoStreamsOneGroup(t *testing.T) {
	l := requireLab(t, labConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const count, rate = 20_000, 10_000
	line := []string{endpoint(l, "epgm", 0, 6410)}
	s := startSub(t, ctx, l, l.Subs()[0], line, "--stream", "1", "--count", strconv.Itoa(count), "--idle", "15s", "--books", "1000")
	other := start(t, "feedpub@"+l.Subs()[1].Name, l.Command(ctx, l.Subs()[1], bin.feedpub, "--line", line[0], "--stream", "2",
		"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--symbols", "7", "--seed", "99", "--warmup", "1s", "--linger", "1s"))
	pubJSON := filepath.Join(t.TempDir(), "pub.json")
	runPub(t, ctx, l, []string{"--line", line[0], "--stream", "1", "--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count),
		"--symbols", "5", "--warmup", "1s", "--linger", "1s", "--json", pubJSON})
	if err := other.wait(t, time.Minute); err != nil {
		t.Fatalf("the second publisher: %v", err)
	}
	sum := s.summary(t)
	wantComplete(t, "stream 1", sum, count)
	if sum.Stream != 1 || sum.Lines[0].Foreign == 0 {
		t.Errorf("stream %d, foreign frames %d: want stream 1 and the other publisher's frames counted", sum.Stream, sum.Lines[0].Foreign)
	}
	if len(sum.Books) != 5 {
		t.Errorf("%d books, want the 5 symbols of stream 1 only", len(sum.Books))
	}
	t.Logf("stream 1: received %d, foreign frames %d", sum.Received, sum.Lines[0].Foreign)
}
