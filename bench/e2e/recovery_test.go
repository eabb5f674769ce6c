package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/summary"
)

// recoveryLab has a third subscriber host, for a recovery server of its own.
var recoveryLab = lab.Config{Name: "rec", Net: 81, Subscribers: 3, RaiseHostBufMax: true}

// pgmWindow makes PGM's transmit window small: 5 Mbit/s × 200 ms, 125 KB,
// about half a second of the 4,000 msg/s feed (2.3 Mbit/s). The window is
// --pgm-rate × --recovery-ivl in bytes, so at a low feed rate the default
// 1 Gbit/s × 2 s holds minutes, and PGM would repair any outage these
// tests could afford to wait for.
var pgmWindow = []string{"--pgm-rate", "5000", "--recovery-ivl", "200ms"}

// cacheProc is a feedcache running in a lab host.
type cacheProc struct {
	p        *proc
	endpoint string // where subscribers reach it
}

// startCache starts feedcache on h, joined to lines, listening on port of
// its line A address, and waits until it has joined every line.
func startCache(t *testing.T, ctx context.Context, l *lab.Lab, h lab.Host, lines []string, port int, args ...string) *cacheProc {
	t.Helper()
	ep := fmt.Sprintf("tcp://%s:%d", h.NICs[0].Addr, port)
	all := []string{"--listen", ep, "--status", "0"}
	for _, ln := range lines {
		all = append(all, "--line", ln)
	}
	c := &cacheProc{endpoint: ep}
	c.p = start(t, "feedcache@"+h.Name, l.Command(ctx, h, bin.feedcache, append(all, args...)...))
	c.p.waitFor(t, 10*time.Second, "joined lines", func(stderr string) bool {
		return strings.Count(stderr, " joined\n") >= len(lines)
	})
	return c
}

// sameBooksAll wants every symbol's book equal, field by field, the
// worker excepted, and every symbol's messages in order.
func sameBooksAll(t *testing.T, what string, want, got []fanout.Book) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%s: %d books, want %d", what, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		w.Worker, g.Worker = 0, 0
		if w != g {
			t.Errorf("%s: book %d\n got %+v\nwant %+v", what, i, g, w)
		}
		if g.OutOfOrder != 0 {
			t.Errorf("%s: %s had %d messages out of order", what, g.Symbol, g.OutOfOrder)
		}
	}
}

// wantAllArrived wants every message of the feed delivered once: by the
// lines or recovered, none missing.
func wantAllArrived(t *testing.T, what string, s *summary.Summary, count int) {
	t.Helper()
	var won uint64
	for _, ln := range s.Lines {
		won += ln.Won
	}
	if s.Received != uint64(count) || s.Gaps != 0 || s.Pending != 0 || won+s.Recovered != uint64(count) {
		t.Errorf("%s: received %d/%d gaps %d pending %d; won by the lines %d + recovered %d, want %d",
			what, s.Received, count, s.Gaps, s.Pending, won, s.Recovered, count)
	}
}

// TestRecovery runs recovery servers (feedcache) beside a real two-line
// EPGM feed of 100 symbols.
func TestRecovery(t *testing.T) {
	l := requireLab(t, recoveryLab)
	subs := l.Subs()

	// A subscriber that starts 10 s into the feed takes a snapshot and
	// ends with the books of one that was there from the start.
	t.Run("late-join", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const rate, count = 4000, 56_000 // 14 s
		lines := bothLines(l, 6600)
		cache := startCache(t, ctx, l, subs[2], lines, 7001)
		control := startSub(t, ctx, l, subs[1], lines, "--count", strconv.Itoa(count), "--idle", "10s", "--books", "100")
		pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, "--line", lines[0], "--line", lines[1],
			"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"))
		control.p.waitFor(t, 30*time.Second, "10 s of the feed", func(s string) bool { return control.received(s) >= 10*rate })
		late := startSub(t, ctx, l, subs[0], lines, "--recovery", cache.endpoint, "--idle", "3s", "--books", "100")
		if err := pub.wait(t, time.Minute); err != nil {
			t.Fatalf("feedpub: %v", err)
		}
		cs, ls := control.summary(t), late.summary(t)
		wantCompleteDual(t, "control", cs, count)
		if ls.Recovery == nil || ls.Recovery.SnapshotSeq < 10*rate || ls.Recovery.SnapshotRecords != 100 {
			t.Fatalf("late joiner: recovery %+v, want a snapshot of 100 records at seq >= %d", ls.Recovery, 10*rate)
		}
		if ls.Gaps != 0 || ls.Received != uint64(count)-ls.Recovery.SnapshotSeq {
			t.Errorf("late joiner: received %d gaps %d, want %d (after the snapshot at %d), 0",
				ls.Received, ls.Gaps, uint64(count)-ls.Recovery.SnapshotSeq, ls.Recovery.SnapshotSeq)
		}
		sameBooksAll(t, "late joiner", cs.Books, ls.Books)
		t.Logf("late joiner: snapshot of %d records at seq %d, then %d messages live; books equal the control's",
			ls.Recovery.SnapshotRecords, ls.Recovery.SnapshotSeq, ls.Received)
	})

	// Both lines dark at the subscribers for longer than PGM keeps data:
	// with --recovery every message arrives once and in order; without,
	// the gaps are reported as ever.
	t.Run("outage", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const rate, count = 4000, 40_000 // 10 s
		lines := bothLines(l, 6610)
		ivl := pgmWindow
		cache := startCache(t, ctx, l, subs[2], lines, 7011, ivl...)
		victim := startSub(t, ctx, l, subs[0], lines, append([]string{"--recovery", cache.endpoint, "--count", strconv.Itoa(count), "--idle", "10s", "--books", "100"}, ivl...)...)
		plain := startSub(t, ctx, l, subs[1], lines, append([]string{"--count", strconv.Itoa(count), "--idle", "10s", "--books", "100"}, ivl...)...)
		pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, append([]string{"--line", lines[0], "--line", lines[1],
			"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"}, ivl...)...))
		victim.p.waitFor(t, 30*time.Second, "a quarter of the feed", func(s string) bool { return victim.received(s) >= count/4 })
		for _, h := range []lab.Host{subs[0], subs[1]} {
			for _, nic := range []string{"eth1", "eth2"} {
				if err := l.DropMulticast(ctx, h, nic); err != nil {
					t.Fatal(err)
				}
			}
		}
		dark(t, ctx, 2500*time.Millisecond) // the outage's length is the experiment's
		for _, h := range []lab.Host{subs[0], subs[1]} {
			if err := l.ClearDrops(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.wait(t, time.Minute); err != nil {
			t.Fatalf("feedpub: %v", err)
		}
		vs := victim.summary(t)
		ps := plain.summaryExit(t, 4)
		wantAllArrived(t, "with --recovery", vs, count)
		if vs.Recovered < rate { // 2.5 s dark: about 10,000
			t.Errorf("with --recovery: recovered %d, want the outage's messages (about %d)", vs.Recovered, 5*rate/2)
		}
		for _, b := range vs.Books {
			if b.OutOfOrder != 0 {
				t.Errorf("with --recovery: %s had %d messages out of order", b.Symbol, b.OutOfOrder)
			}
		}
		if ps.Gaps == 0 {
			t.Errorf("without --recovery: gaps 0 after 2.5 s dark on both lines")
		}
		t.Logf("outage: with --recovery recovered %d (fill p50 %.0fµs p99 %.0fµs), gaps %d; without, gaps %d",
			vs.Recovered, vs.Recovery.FillUS.P50, vs.Recovery.FillUS.P99, vs.Gaps, ps.Gaps)
	})

	// 2% random loss on both udp:// lines at one subscriber: the other
	// line fills a hole within microseconds, the recovery server what
	// both lost, and nothing is missing; p99 against a lossless
	// subscriber of the same run.
	for i, transport := range []string{"udp", "epgm"} {
		t.Run("loss-"+transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const rate, count = 20_000, 200_000
			lines := []string{endpoint(l, transport, 0, 6630+10*i), endpoint(l, transport, 1, 6631+10*i)}
			cache := startCache(t, ctx, l, subs[2], lines, 7031+i)
			lossy := startSub(t, ctx, l, subs[0], lines, "--recovery", cache.endpoint, "--count", strconv.Itoa(count), "--idle", "10s", "--books", "100")
			clean := startSub(t, ctx, l, subs[1], lines, "--count", strconv.Itoa(count), "--idle", "10s", "--books", "0")
			before, err := l.Dropped(ctx, subs[0]) // the lab's counter runs on from earlier subtests
			if err != nil {
				t.Fatal(err)
			}
			for _, nic := range []string{"eth1", "eth2"} {
				if err := l.DropRandom(ctx, subs[0], nic, 2); err != nil {
					t.Fatal(err)
				}
			}
			defer l.ClearDrops(context.Background(), subs[0])
			pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, "--line", lines[0], "--line", lines[1],
				"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"))
			if err := pub.wait(t, time.Minute); err != nil {
				t.Fatalf("feedpub: %v", err)
			}
			ls, cs := lossy.summary(t), clean.summary(t)
			if err := l.ClearDrops(ctx, subs[0]); err != nil {
				t.Fatal(err)
			}
			after, err := l.Dropped(ctx, subs[0])
			if err != nil {
				t.Fatal(err)
			}
			dropped := after - before
			wantAllArrived(t, "2% loss on both lines", ls, count)
			wantCompleteDual(t, "lossless", cs, count)
			for _, b := range ls.Books {
				if b.OutOfOrder != 0 {
					t.Errorf("%s had %d messages out of order", b.Symbol, b.OutOfOrder)
				}
			}
			if dropped == 0 {
				t.Error("nftables dropped nothing")
			}
			holes := "no hole filled by a line"
			if h := ls.HoleFillUS; h != nil {
				holes = fmt.Sprintf("%d holes filled by a line after p50 %.0fµs p99 %.0fµs max %.0fµs", h.Count, h.P50, h.P99, h.Max)
			}
			t.Logf("%s, 2%% loss on both lines (%d packets dropped): recovered %d; %s; p50 %.0fµs p99 %.0fµs p99.9 %.0fµs; lossless p50 %.0fµs p99 %.0fµs p99.9 %.0fµs; p99 ratio %.1f",
				transport, dropped, ls.Recovered, holes, ls.LatencyUS.P50, ls.LatencyUS.P99, ls.LatencyUS.P999,
				cs.LatencyUS.P50, cs.LatencyUS.P99, cs.LatencyUS.P999, ls.LatencyUS.P99/cs.LatencyUS.P99)
		})
	}

	// One of two recovery servers is killed mid-run: requests go to the
	// other, and nothing is lost.
	t.Run("failover", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const rate, count = 4000, 40_000
		lines := bothLines(l, 6620)
		ivl := pgmWindow
		first := startCache(t, ctx, l, subs[2], lines, 7021, ivl...)
		second := startCache(t, ctx, l, subs[1], lines, 7022, ivl...)
		victim := startSub(t, ctx, l, subs[0], lines, append([]string{"--recovery", first.endpoint, "--recovery", second.endpoint,
			"--count", strconv.Itoa(count), "--idle", "10s", "--books", "100"}, ivl...)...)
		pub := start(t, "feedpub", l.Command(ctx, l.Pub(), bin.feedpub, append([]string{"--line", lines[0], "--line", lines[1],
			"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--linger", "1s"}, ivl...)...))
		victim.p.waitFor(t, 30*time.Second, "a quarter of the feed", func(s string) bool { return victim.received(s) >= count/4 })
		first.p.cmd.Process.Signal(syscall.SIGKILL)
		first.p.wait(t, 10*time.Second)
		for _, nic := range []string{"eth1", "eth2"} {
			if err := l.DropMulticast(ctx, subs[0], nic); err != nil {
				t.Fatal(err)
			}
		}
		dark(t, ctx, 2*time.Second)
		if err := l.ClearDrops(ctx, subs[0]); err != nil {
			t.Fatal(err)
		}
		if err := pub.wait(t, time.Minute); err != nil {
			t.Fatalf("feedpub: %v", err)
		}
		vs := victim.summary(t)
		wantAllArrived(t, "victim", vs, count)
		if vs.Recovered == 0 || vs.Recovery.Client.Timeouts == 0 {
			t.Errorf("recovered %d with %d timeouts: want the outage recovered from the second server after the first timed out",
				vs.Recovered, vs.Recovery.Client.Timeouts)
		}
		t.Logf("failover: recovered %d after %d timeouts and %d failovers; fill p50 %.0fµs p99 %.0fµs",
			vs.Recovered, vs.Recovery.Client.Timeouts, vs.Recovery.Client.Failovers, vs.Recovery.FillUS.P50, vs.Recovery.FillUS.P99)
	})
}

// dark keeps the lines cut for d: the length of an outage is the
// experiment's parameter, not a condition to wait for.
func dark(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(d):
	}
}
