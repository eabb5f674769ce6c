package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/internal/summary"
)

// TestHostileSender runs a real two-line EPGM feed while a second host on
// line A's group sends one kind of hostile frame (bench/cmd/feedforge).
// Each time the real feed arrives whole, every message once, nothing
// forged reaches the books, and the attack shows in its own counter.
func TestHostileSender(t *testing.T) {
	l := requireLab(t, labConfig)
	const count, rate = 20_000, 5_000
	keyFile := filepath.Join(t.TempDir(), "keys.toml")
	if err := os.WriteFile(keyFile, []byte("[[key]]\nid = 1\nsecret = \""+strings.Repeat("5a", 32)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	authFailed := func(s *summary.Summary) (uint64, string) { return s.Lines[0].AuthFailed, "auth_failed" }
	for i, tc := range []struct {
		attack string
		auth   bool
		check  func(s *summary.Summary) (uint64, string)
		udp    bool // on udp:// lines instead of EPGM
	}{
		{"none", false, func(s *summary.Summary) (uint64, string) { return 1, "nothing" }, false}, // the yardstick for latency
		{"stream", false, func(s *summary.Summary) (uint64, string) { return s.Lines[0].Foreign, "foreign" }, false},
		{"session", false, func(s *summary.Summary) (uint64, string) { return s.Lines[0].Foreign, "foreign" }, false},
		{"ahead", false, func(s *summary.Summary) (uint64, string) { return s.Implausible, "implausible" }, false},
		// Frames at the feed's own next numbers win them: without a key
		// they are seen (the real copies conflict), not refused.
		{"next", false, func(s *summary.Summary) (uint64, string) { return s.Conflicts, "conflicts" }, false},
		{"bomb", false, func(s *summary.Summary) (uint64, string) { return s.Malformed, "malformed" }, false},
		{"symbols", false, func(s *summary.Summary) (uint64, string) { return s.Lines[0].Foreign, "foreign" }, false},
		{"stream", true, authFailed, false},
		{"session", true, authFailed, false},
		{"ahead", true, authFailed, false},
		{"next", true, authFailed, false},
		{"bomb", true, authFailed, false},
		// The same on udp:// lines, where nothing stands between the
		// group and the receive loop.
		{"session", false, func(s *summary.Summary) (uint64, string) { return s.Lines[0].Foreign, "foreign" }, true},
		{"next", false, func(s *summary.Summary) (uint64, string) { return s.Conflicts, "conflicts" }, true},
		{"next", true, authFailed, true},
		{"session", true, authFailed, true},
	} {
		name := tc.attack
		var keyArgs []string
		if tc.auth {
			name, keyArgs = tc.attack+"/auth-key", []string{"--auth-key", keyFile}
		}
		lines := bothLines(l, 6450+2*i)
		if tc.udp {
			name = "udp/" + name
			lines = []string{endpoint(l, "udp", 0, 6450+2*i), endpoint(l, "udp", 1, 6451+2*i)}
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			victim := startSub(t, ctx, l, l.Subs()[0], lines, append([]string{"--count", strconv.Itoa(count), "--idle", "15s", "--books", "1000"}, keyArgs...)...)
			pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, append([]string{"--line", lines[0], "--line", lines[1],
				"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s", "--metrics", pubMetrics}, keyArgs...)...))
			session := pubSession(t, l, pub)
			// The forger sends for about two seconds while the feed runs:
			// against a quiet feed, without --auth-key, a forged fresh
			// session can take a subscriber over (see the README).
			victim.p.waitFor(t, 20*time.Second, "the feed", func(stderr string) bool { return victim.received(stderr) > 0 })
			frames, rate := "400", "200"
			switch {
			case tc.attack == "symbols":
				frames, rate = "4000", "2000" // 200,000 new symbols in two seconds
			case tc.attack == "bomb" && !tc.auth:
				frames, rate = "8000", "4000" // a flood: each declares 1 MiB
			}
			if tc.attack != "none" {
				// At the lowest priority: an attacker runs on a host of its
				// own, and its CPU is not the victim's to pay for. Here the
				// lab is one machine with two CPUs.
				forge := start(t, "feedforge", l.Command(ctx, l.Subs()[1], "nice", "-n", "19", bin.feedforge, "--line", lines[0],
					"--attack", tc.attack, "--session", session, "--count", frames, "--rate", rate))
				if err := forge.wait(t, time.Minute); err != nil {
					t.Fatalf("feedforge: %v", err)
				}
			}
			if err := pub.wait(t, time.Minute); err != nil {
				t.Fatalf("feedpub: %v", err)
			}
			s := victim.summary(t)
			wantCompleteDual(t, "victim", s, count)
			if n, what := tc.check(s); n == 0 || (tc.auth && strconv.FormatUint(n, 10) != frames) {
				t.Errorf("%s attack: %s is %d, want every forged frame (400) refused", tc.attack, what, n)
			}
			if tc.attack == "symbols" && s.VmHWMBytes > 64<<20 {
				t.Errorf("peak RSS %d bytes with 200,000 forged symbols on the group, want the feed's own (under 64 MiB)", s.VmHWMBytes)
			}
			if tc.attack == "next" && !tc.auth {
				// Each forged frame took 5 numbers, whose real copies
				// then came on both lines.
				if s.Conflicts < 400*5 || s.Lines[1].Conflicts < 400*5/2 {
					t.Errorf("conflicts %d (line B %d), want at least 2,000 (1,000 on line B)", s.Conflicts, s.Lines[1].Conflicts)
				}
				t.Logf("next: %d conflicts (A %d, B %d); received %d, gaps %d", s.Conflicts, s.Lines[0].Conflicts, s.Lines[1].Conflicts, s.Received, s.Gaps)
				return // the forged frames won their numbers: they are in the books
			}
			for _, b := range s.Books {
				if b.Symbol == "FORGED" || strings.HasPrefix(b.Symbol, "F") && b.Symbol[1] >= '0' && b.Symbol[1] <= '9' {
					t.Errorf("a forged symbol reached the books: %+v", b)
				}
			}
			if s.Restarts != 0 || s.Sessions != 1 || s.Duplicates > uint64(count) {
				t.Errorf("restarts %d sessions %d duplicates %d: the forger must not move the subscriber", s.Restarts, s.Sessions, s.Duplicates)
			}
			n, what := tc.check(s)
			t.Logf("%s: %d %s; received %d, gaps %d; latency p50 %.0fµs p99 %.0fµs", name, n, what, s.Received, s.Gaps, s.LatencyUS.P50, s.LatencyUS.P99)
		})
	}
}

// pubMetrics is where feedpub serves its metrics, inside the publisher's
// namespace.
const pubMetrics = "127.0.0.1:9465"

// pubSession reads the running feedpub's session id from its metrics
// (feedbus_pub_info), as an operator's tools would.
func pubSession(t *testing.T, l *lab.Lab, pub *proc) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: l.DialContext(l.Pub())}}
	defer client.CloseIdleConnections()
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pub.exited() {
			t.Fatalf("feedpub exited before it served its session id; stderr:\n%s", pub.stderr())
		}
		fams, err := metricstest.ScrapeWith(client, "http://"+pubMetrics+"/metrics")
		if err != nil {
			last = err // not listening yet
			continue
		}
		if m, ok := fams.Metric("feedbus_pub_info"); ok {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "session" && lp.GetValue() != "" {
					return lp.GetValue()
				}
			}
		}
	}
	t.Fatalf("no session id in feedpub's metrics within 10s (last error: %v)", last)
	return ""
}
