package main

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	feedbusroot "github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/procfs"
)

// machine describes where the numbers were taken.
type machine struct {
	nproc     int
	cpu       string
	kernel    string
	zmq       string
	goVersion string
	bufMax    int // the lab's effective rmem_max/wmem_max
}

func describeMachine(proc procfs.FS) machine {
	m := machine{nproc: runtime.NumCPU(), cpu: "unknown CPU", kernel: "unknown", goVersion: runtime.Version()}
	if cpus, err := proc.CPUInfo(); err == nil && len(cpus) > 0 && cpus[0].ModelName != "" {
		m.cpu = cpus[0].ModelName
	}
	if release, err := proc.SysctlStrings("kernel.osrelease"); err == nil && len(release) > 0 {
		m.kernel = strings.Join(release, " ")
	}
	major, minor, patch := zmq.Version()
	m.zmq = fmt.Sprintf("%d.%d.%d", major, minor, patch)
	return m
}

// The report's markers in the results file; a rerun replaces what is
// between them.
const (
	beginMarker = "<!-- feedbench -->"
	endMarker   = "<!-- /feedbench -->"
)

// command is the feedbench command line as it is run from the checkout
// (from bench/, its own module).
func (r *results) command() string {
	parts := []string{"cd bench && go run ./cmd/feedbench"}
	for _, a := range r.cfg.args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// Acceptance thresholds of issue 5.
const (
	wantMsgRatio  = 2.5 // feedbus/bare msgs/s at 64 B
	wantByteRatio = 1.0 // feedbus/bare bytes/s at 1024 B
	wantP50Ratio  = 1.1 // feedbus/bare p50 at 10k msg/s, at most

	wantUDPOverEPGM = 2.0 // feedbus udp:// ÷ feedbus EPGM msgs/s at 64 B, at least
	wantUDPToWire   = 2.0 // UDP wire ÷ feedbus udp:// msgs/s at 64 B, at most
	wantUDPP50      = 1.2 // feedbus udp:// ÷ UDP wire p50 at 10k msg/s, at most
	bigSize         = 1024
)

// render returns the report, markers included. link is the directory of
// the plots and logs as the report links to it.
func (r *results) render(link string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.machine
	c := r.cfg
	p("%s\n## Standard benchmark suite (feedbench)\n\n", beginMarker)
	p("`%s` on %s; the suite took %s.", r.command(), r.date.Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second))
	if c.short {
		p(" **-short: a check that the pipeline works, not numbers to quote.**")
	}
	p("\n\nMachine: nproc %d, %s, Linux %s, libzmq %s, %s; lab net.core.rmem_max/wmem_max %s. "+
		"Publisher, subscriber and the kernel's networking share these CPUs: the lab is one machine.\n\n",
		m.nproc, m.cpu, m.kernel, m.zmq, m.goVersion, thousands(float64(m.bufMax)))
	r.methodology(p)
	r.acceptance(p)
	r.throughput(p)
	r.latencySection(p, link)
	r.compression(p)
	r.authTable(p)
	r.metricsTable(p)
	p("### Observations (generated from the numbers above)\n\n")
	for _, o := range r.observations() {
		p("- %s\n", o)
	}
	p("\n")
	r.commands(p)
	p("%s\n", endMarker)
	return b.String()
}

type printer func(format string, args ...any)

func (r *results) methodology(p printer) {
	c := r.cfg
	d := bus.DefaultOptions()
	p("### How it is measured\n\n")
	p("- **Systems**, one publisher and one subscriber in their own namespaces of lab `%s` (`bench/lab`), over line A (`eth1`, group %s), built from this checkout: "+
		"**feedbus** `feedpub` → `feedsub` over EPGM with their defaults (messages batched into frames of up to 1400 bytes, at most `--max-delay` 50µs of waiting; XPUB with ZMQ_XPUB_NODROP, so feedpub sees a full line and, with the default `--on-full drop`, drops and counts the frame); "+
		"**feedbus tuned**, the same tuned as the README's tuning section says, for throughput in the sweep and at its highest rate (`feedpub --frame-bytes %d`: fewer, larger ZeroMQ messages) and for latency at the fixed rates (the same frames, plus `feedsub --spin %v`, a busy-polling receive thread alone on the last CPU, and every other hot thread of both programs on CPU 0: `feedpub --pin-io 0 --pin-recv 0`, `feedsub --pin-recv LAST --pin-io 0 --pin-workers 0`); the acceptance checks use it; "+
		"**feedbus udp://**, `feedpub` → `feedsub` with their defaults over `udp://` lines (plain UDP multicast, a frame per datagram of at most %d bytes, the publisher's bursts sent with sendmmsg, a receive thread per line with recvmmsg into a ring the receive loop reads, in-order delivery); "+
		"**feedbus udp:// tuned**, the same tuned for latency as the EPGM system (`feedsub --spin %v`, the receive loop busy-polling alone on the last CPU, the line's receive thread and everything else on CPU 0), in the latency runs at fixed rates only (a datagram caps the frame, so there is no throughput tuning); "+
		"the **bare pair** `bench/cmd/barepair`, pebbe/zmq4 PUB/SUB over EPGM with feedbus's socket settings (ZMQ_RATE %s kbit/s, ZMQ_SNDBUF/RCVBUF %s, HWM %s), one ZeroMQ message per market message, its PUB dropping silently at the high-water mark; "+
		"the **UDP wire** `bench/cmd/udpwire`, messages packed into datagrams of feedbus's frame budget (%d bytes, as many whole messages as fit: the baseline batches as feedbus does), with sendmmsg/recvmmsg in batches of up to 64 datagrams, SO_SNDBUF/SO_RCVBUF %s, IP_MULTICAST_IF and the join on the lab NIC, no sequencing beyond a number per message, no arbitration, workers or recovery: the floor of what the kernel and the lab's veths cost.\n",
		labName, groupOf(r), tunedFrameBytes, tunedSpin, d.MaxDatagram, tunedSpin, thousands(float64(d.Rate)), sizeMiB(d.SendBuffer), thousands(float64(d.SendHWM)), feedbusroot.DefaultFrameBytes, sizeMiB(d.SendBuffer))
	p("- **A run**: the subscriber starts and joins; the publisher sends markers/heartbeats for %v, then messages for the run's duration, then markers for %v; the subscriber stops %v after the last message. "+
		"All publishers pace with `internal/pace` (what is due goes out at once, then a Go timer sleep; timers wake about every millisecond here, so at 10k msg/s messages leave in bursts of about 10) and stamp each message (feedbus: each frame) with the time just before the send; "+
		"all subscribers record receive time − send time per message with `internal/latency` (one machine, one clock).\n", warmup, linger, idle)
	p("- **Sustainable rate**: the highest paced rate at which the subscriber got everything at the pace it was sent: no loss, received = sent, feedsub without gaps, late, pending or worker drops, the publisher sent at least %.0f%% of rate × duration and the subscriber received at least at that share of the rate (first to last message; otherwise a publisher's queue absorbs the excess of a short run and drains it afterwards). "+
		"Found per system and size by a search: one run at `--rate 0` (as fast as the publisher can; its delivered rate is the starting point), then up to %d paced runs of %v (up ×%.2f after a clean run, down to 95%% of the share of rate × duration delivered after a failed one, then bisection), rounded to 3 digits. "+
		"A rate counts only once it has run clean %d times with no failed run at it: the search's best is run again until it has, and when a repeat fails, the next clean rate down is tried the same way. "+
		"*Mbit/s* counts market-message bytes (padding included, no framing).\n", 100*achieved, c.iterations, c.duration, stepUp, c.confirm)
	p("- **Latency**: %d-byte messages for %v at 10k msg/s (%d runs of each system, alternating; the check takes the median), 100k msg/s and each system's own sustainable rate; percentiles raw and corrected for coordinated omission with the expected interval 1/rate (feedsub `--expected-interval`, `latency.Recorder.Corrected` in the baselines). "+
		"The correction adds, for each value v, the values v − i/rate it would have hidden from a sender that waits for each message; these publishers do not wait, so at high rates it adds many low values and can pull the corrected p50 below the raw one: read it for the tail. "+
		"feedbus stamps frames when they are sent, so time a message waits in a frame for batching is not in its latency. Interval logs (`.hlog`, ns, one interval a second) and the plots are written beside this file; a plot merges a system's runs at that rate.\n", latencySize, c.latDuration, c.latReps)
	p("- **Compression**: %d-byte messages, sustainable rate under a binding PGM rate limit (`--pgm-rate %d` kbit/s on both sides, bare pair too) and at feedbus's default limit (where uncompressed frames come near the limit too, and the CPU binds the codecs), for `--compress none`, `s2` and `zstd` with a %s-byte dictionary from `feedpub --train-dict`.\n", latencySize, c.pgmLimit, thousands(float64(r.dictBytes)))
	p("- **CPU** figures are user + system time over the middle 80%% of the data phase, in %% of one core, as the program's Go side + libzmq's I/O thread (udpwire: one figure); *rcvbuf drops* are the subscriber host's UDP RcvbufErrors; *NIC Mbit/s* is what the publisher's `eth1` sent (`/proc/net/dev`, all headers, PGM repairs included) over the data phase.\n\n")
}

func groupOf(*results) string {
	return fmt.Sprintf("239.%d.1.1:5555", labNet)
}

func sizeMiB(n int) string { return fmt.Sprintf("%d MiB", n>>20) }

// searches yields the sweep's searches, by size, then in the systems'
// order, skipping those not run.
func (r *results) searches() iter.Seq[*searchResult] {
	return func(yield func(*searchResult) bool) {
		for _, size := range r.cfg.sizes {
			for _, sys := range systems {
				if s := r.sweep[size][sys]; s != nil && !yield(s) {
					return
				}
			}
		}
	}
}

// sweepRate returns the sustainable rate of sys at size, 0 if not measured
// or none was found.
func (r *results) sweepRate(size int, sys system) float64 {
	if s, ok := r.sweep[size][sys]; ok {
		return s.rate()
	}
	return 0
}

// latencyRuns returns sys's runs at label, in order.
func (r *results) latencyRuns(label string, sys system) []latencyRun {
	var out []latencyRun
	for _, l := range r.latency {
		if l.label == label && l.spec.sys == sys {
			out = append(out, l)
		}
	}
	return out
}

// latencyOf returns sys's first run at label.
func (r *results) latencyOf(label string, sys system) (latencyRun, bool) {
	if runs := r.latencyRuns(label, sys); len(runs) > 0 {
		return runs[0], true
	}
	return latencyRun{}, false
}

// medianLatency returns, for each percentile, its median over runs, and
// the p50s of the runs.
func medianLatency(runs []latencyRun) (latency.Percentiles, []float64) {
	get := func(f func(latency.Percentiles) float64) []float64 {
		var xs []float64
		for _, r := range runs {
			xs = append(xs, f(r.lat))
		}
		return xs
	}
	p50 := get(func(p latency.Percentiles) float64 { return p.P50 })
	return latency.Percentiles{
		P50:  median(p50),
		P90:  median(get(func(p latency.Percentiles) float64 { return p.P90 })),
		P99:  median(get(func(p latency.Percentiles) float64 { return p.P99 })),
		P999: median(get(func(p latency.Percentiles) float64 { return p.P999 })),
		Max:  median(get(func(p latency.Percentiles) float64 { return p.Max })),
	}, p50
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func usList(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, us(x))
	}
	return strings.Join(parts, ", ")
}

// check is one acceptance check's outcome.
type check struct {
	name, measured string
	holds          string // "yes", "**no**", "–" (nothing to hold) or "not measured"
	why            []string
}

func (r *results) checks() []check {
	var out []check
	// The checks hold feedbus tuned (the README's tuning) against the bare
	// pair, and say beside it what feedbus does with its defaults.
	fb, bb := r.sweepRate(latencySize, tuned), r.sweepRate(latencySize, bare)
	c1 := check{name: fmt.Sprintf("%d-byte msgs/s, feedbus ≥ %.1f× bare pair", latencySize, wantMsgRatio)}
	if fb > 0 && bb > 0 {
		ratio := fb / bb
		c1.measured = fmt.Sprintf("tuned %s vs %s msg/s: **%.2f×**%s", thousands(fb), thousands(bb), ratio, r.defaultsRatio(r.sweepRate(latencySize, feedbus), bb, thousands, ""))
		c1.holds = yesNo(ratio >= wantMsgRatio)
		if ratio < wantMsgRatio {
			c1.why = r.limits(latencySize)
		}
	} else {
		c1.measured, c1.holds = "no sustainable rate found for "+missing(fb, bb), "not measured"
	}
	out = append(out, c1)

	c2 := check{name: fmt.Sprintf("%d-byte bytes/s, feedbus ≥ bare pair", bigSize)}
	fk, bk := r.sweepRate(bigSize, tuned), r.sweepRate(bigSize, bare)
	switch {
	case r.sweep[bigSize] == nil:
		c2.measured, c2.holds = fmt.Sprintf("-size has no %d in this run", bigSize), "not measured"
	case fk > 0 && bk > 0:
		ratio := fk / bk
		c2.measured = fmt.Sprintf("tuned %s vs %s Mbit/s: **%.2f×**%s", oneDecimal(mbit(fk, bigSize)), oneDecimal(mbit(bk, bigSize)), ratio,
			r.defaultsRatio(r.sweepRate(bigSize, feedbus), bk, func(v float64) string { return oneDecimal(mbit(v, bigSize)) }, " Mbit/s"))
		c2.holds = yesNo(ratio >= wantByteRatio)
		if ratio < wantByteRatio {
			c2.why = r.limits(bigSize)
		}
	default:
		c2.measured, c2.holds = "no sustainable rate found for "+missing(fk, bk), "not measured"
	}
	out = append(out, c2)

	c3 := check{name: fmt.Sprintf("p50 at 10k msg/s, feedbus ≤ %.1f× bare pair", wantP50Ratio)}
	runsF, runsB := r.latencyRuns(checkLabel, tuned), r.latencyRuns(checkLabel, bare)
	lf, p50f := medianLatency(runsF)
	lb, p50b := medianLatency(runsB)
	ok1 := len(runsF) > 0
	if ok1 && len(runsB) > 0 && lb.P50 > 0 {
		ratio := lf.P50 / lb.P50
		c3.measured = fmt.Sprintf("tuned p50 %s vs %s: **%.2f×**; p99 %s vs %s (%.2f×); p99.9 %s vs %s (%.2f×)",
			us(lf.P50), us(lb.P50), ratio, us(lf.P99), us(lb.P99), lf.P99/lb.P99, us(lf.P999), us(lb.P999), lf.P999/lb.P999)
		runsD := r.latencyRuns(checkLabel, feedbus)
		ld, p50d := medianLatency(runsD)
		if len(runsF) > 1 || len(runsB) > 1 {
			c3.measured += fmt.Sprintf(" (medians of %d and %d runs; the runs' p50s: tuned %s, bare pair %s)", len(runsF), len(runsB), usList(p50f), usList(p50b))
		}
		if len(runsD) > 0 {
			c3.measured += fmt.Sprintf("; with defaults p50 %s (%.2f×), p99 %s, p99.9 %s (runs: %s)", us(ld.P50), ld.P50/lb.P50, us(ld.P99), us(ld.P999), usList(p50d))
		}
		c3.holds = yesNo(ratio <= wantP50Ratio)
		if ratio > wantP50Ratio {
			f, b := runsF[0], runsB[0]
			c3.why = append(c3.why, fmt.Sprintf("feedbus sent %.1f messages a frame at 10k msg/s; CPU in the first runs: feedpub %s, feedsub %s; bare pair: pub %s, sub %s",
				float64(f.sent)/max(float64(f.frames), 1), f.during.pub.share(f.during.secs), f.during.sub.share(f.during.secs),
				b.during.pub.share(b.during.secs), b.during.sub.share(b.during.secs)))
		}
	} else {
		c3.measured, c3.holds = "no latency runs at 10k msg/s", "not measured"
	}
	out = append(out, c3)

	c4 := check{name: "distance from the UDP wire (feedbus tuned ÷ wire)", holds: "–"}
	var parts []string
	if w := r.sweepRate(latencySize, wire); fb > 0 && w > 0 {
		parts = append(parts, fmt.Sprintf("%d B msgs/s %.2f× (%s vs %s)", latencySize, fb/w, thousands(fb), thousands(w)))
	}
	if w := r.sweepRate(bigSize, wire); fk > 0 && w > 0 {
		parts = append(parts, fmt.Sprintf("%d B bytes/s %.2f× (%s vs %s Mbit/s)", bigSize, fk/w, oneDecimal(mbit(fk, bigSize)), oneDecimal(mbit(w, bigSize))))
	}
	if runsW := r.latencyRuns(checkLabel, wire); ok1 && len(runsW) > 0 {
		if lw, _ := medianLatency(runsW); lw.P50 > 0 {
			parts = append(parts, fmt.Sprintf("p50 at 10k msg/s %.2f× (%s vs %s; bare pair %.2f×)", lf.P50/lw.P50, us(lf.P50), us(lw.P50), lb.P50/lw.P50))
		}
	}
	c4.measured = strings.Join(parts, "; ")
	if c4.measured == "" {
		c4.measured, c4.holds = "no wire figures", "not measured"
	}
	out = append(out, c4)
	return append(out, r.udpChecks()...)
}

// udpChecks hold feedbus over udp:// lines, with its defaults, against
// feedbus over EPGM and against the UDP wire, both with defaults.
func (r *results) udpChecks() []check {
	u, f, w := r.sweepRate(latencySize, udp), r.sweepRate(latencySize, feedbus), r.sweepRate(latencySize, wire)
	c5 := check{name: fmt.Sprintf("%d-byte msgs/s, udp:// ≥ %.0f× EPGM (defaults)", latencySize, wantUDPOverEPGM)}
	c6 := check{name: fmt.Sprintf("%d-byte msgs/s, udp:// within %.0f× of the UDP wire", latencySize, wantUDPToWire)}
	if u > 0 && f > 0 {
		c5.measured, c5.holds = fmt.Sprintf("%s vs %s msg/s: **%.2f×**", thousands(u), thousands(f), u/f), yesNo(u/f >= wantUDPOverEPGM)
	} else {
		c5.measured, c5.holds = "no sustainable rate found for "+missing(u, f), "not measured"
	}
	if u > 0 && w > 0 {
		c6.measured, c6.holds = fmt.Sprintf("%s vs %s msg/s: wire ÷ udp:// **%.2f×**", thousands(u), thousands(w), w/u), yesNo(w/u <= wantUDPToWire)
		if uk, wk := r.sweepRate(bigSize, udp), r.sweepRate(bigSize, wire); uk > 0 && wk > 0 {
			c6.measured += fmt.Sprintf("; %d B: %s vs %s MB/s (%.2f×)", bigSize, oneDecimal(mbit(uk, bigSize)/8), oneDecimal(mbit(wk, bigSize)/8), wk/uk)
		}
	} else {
		c6.measured, c6.holds = "no sustainable rate found for "+missing(u, w), "not measured"
	}
	c7 := check{name: fmt.Sprintf("p50 at 10k msg/s, udp:// ≤ %.1f× the UDP wire (defaults)", wantUDPP50)}
	c8 := check{name: fmt.Sprintf("p50 at 10k msg/s, udp:// tuned ≤ %.1f× the UDP wire", wantUDPP50)}
	lw, p50w := medianLatency(r.latencyRuns(checkLabel, wire))
	for _, c := range []struct {
		c   *check
		sys system
	}{{&c7, udp}, {&c8, udpTuned}} {
		lu, p50u := medianLatency(r.latencyRuns(checkLabel, c.sys))
		if len(p50u) == 0 || len(p50w) == 0 || lw.P50 <= 0 {
			c.c.measured, c.c.holds = "no latency runs at 10k msg/s", "not measured"
			continue
		}
		c.c.measured = fmt.Sprintf("p50 %s vs %s: **%.2f×**; p99 %s vs %s; p99.9 %s vs %s (medians of %d and %d runs; the runs' p50s: %s, wire %s)",
			us(lu.P50), us(lw.P50), lu.P50/lw.P50, us(lu.P99), us(lw.P99), us(lu.P999), us(lw.P999), len(p50u), len(p50w), usList(p50u), usList(p50w))
		c.c.holds = yesNo(lu.P50/lw.P50 <= wantUDPP50)
	}
	return []check{c5, c6, c7, c8}
}

// defaultsRatio says what feedbus with its defaults did against the bare
// pair's b, for the checks.
func (r *results) defaultsRatio(d, b float64, format func(float64) string, unit string) string {
	if d <= 0 || b <= 0 {
		return "; with defaults no sustainable rate was found"
	}
	return fmt.Sprintf("; with defaults %s%s, %.2f×", format(d), unit, d/b)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func missing(f, b float64) string {
	switch {
	case f <= 0 && b <= 0:
		return "either"
	case f <= 0:
		return "feedbus"
	}
	return "the bare pair"
}

// limits explains, for feedbus and the bare pair at size, what went wrong
// at the first rate above their sustainable ones.
func (r *results) limits(size int) []string {
	var out []string
	for _, sys := range []system{feedbus, bare} {
		s, ok := r.sweep[size][sys]
		if !ok {
			continue
		}
		t := fmt.Sprintf("%s: %s", sys.title(), limitText(s))
		if b, ok := s.best(); ok && b.txBytes > 0 && b.sent > 0 {
			t += fmt.Sprintf(". At its sustainable %s msg/s its NIC sent %s Mbit/s, %s bytes a message", thousands(b.spec.rate), oneDecimal(b.wireMbit()), oneDecimal(float64(b.txBytes)/float64(b.sent)))
		}
		out = append(out, t)
	}
	return out
}

// limitText says what bounds a search's result.
func limitText(s *searchResult) string {
	l, ok := s.limit()
	if !ok {
		if b, ok := s.best(); ok {
			return fmt.Sprintf("every paced run was clean, up to %s msg/s; the search ran out of iterations (%s)", thousands(b.spec.rate), diagnose(b.sample))
		}
		return "no paced run"
	}
	return fmt.Sprintf("at %s msg/s %s; %s", thousands(l.spec.rate), l.why, diagnose(l.sample))
}

// diagnose says where a run lost messages or what held it back, from the
// counters and the CPU samples.
func diagnose(s sample) string {
	sp := s.spec
	var out []string
	switch {
	case sp.rate > 0 && float64(s.sent) < achieved*sp.rate*sp.duration.Seconds():
		out = append(out, "the publisher could not keep the pace")
	case sp.rate > 0 && s.lost == 0 && s.received == s.sent && s.msgsPerS < achieved*sp.rate:
		out = append(out, fmt.Sprintf("everything arrived, but at %s msg/s over %.1fs: the rest waited in the publisher's queue and drained after the data phase", thousands(s.msgsPerS), s.elapsedS))
	case s.udpRcvbufErrors > 0:
		out = append(out, fmt.Sprintf("the subscriber's host dropped %s datagrams for a full socket receive buffer (the subscriber did not drain it in time)", thousands(float64(s.udpRcvbufErrors))))
	case s.lost > 0 && s.backlogDrops > 0:
		out = append(out, fmt.Sprintf("the kernel dropped %s packets for a full per-CPU input queue (softnet backlog)", thousands(float64(s.backlogDrops))))
	case sp.sys.isFeedbus() && s.pubFull > 0:
		out = append(out, fmt.Sprintf("feedpub dropped %s frames because line A's queue was full (its socket at the high-water mark: the PGM sender did not keep up)", thousands(float64(s.pubFull))))
	case s.lost > 0 && s.udpIn == s.udpOut && sp.sys != wire:
		out = append(out, fmt.Sprintf("every UDP datagram sent arrived (%s out = in, no buffer drops), so the missing messages never left the publisher: its PUB socket dropped them at the high-water mark", thousands(float64(s.udpOut))))
	case s.lost > 0 && s.udpIn < s.udpOut:
		out = append(out, fmt.Sprintf("%s of %s UDP datagrams did not reach the subscriber's socket", thousands(float64(s.udpOut-s.udpIn)), thousands(float64(s.udpOut))))
	}
	if s.txBytes > 0 {
		t := fmt.Sprintf("the publisher's NIC sent %s Mbit/s (all headers, repairs included)", oneDecimal(s.wireMbit()))
		if sp.sys != wire {
			limit := sp.pgmRate
			if limit == 0 {
				limit = bus.DefaultRate
			}
			t += fmt.Sprintf(", %.0f%% of ZMQ_RATE %s kbit/s", 100*s.wireMbit()*1000/float64(limit), thousands(float64(limit)))
		}
		out = append(out, t)
	}
	out = append(out, cpuText(s))
	return strings.Join(out, "; ")
}

// cpuText renders the CPU use of a run and says what was saturated.
func cpuText(s sample) string {
	w := s.during
	if w.secs <= 0 {
		return "CPU not sampled"
	}
	t := fmt.Sprintf("CPU: publisher %s, subscriber %s of a core, machine %s busy", w.pub.share(w.secs), w.sub.share(w.secs), pct(100*w.busy, 0))
	var hot []string
	for _, side := range []struct {
		name string
		c    cpuTime
	}{{"publisher", w.pub}, {"subscriber", w.sub}} {
		if a := side.c.app.Seconds() / w.secs; a >= busy {
			hot = append(hot, fmt.Sprintf("the %s's Go side (%.0f%%)", side.name, 100*a))
		}
		if i := side.c.io.Seconds() / w.secs; i >= busy {
			hot = append(hot, fmt.Sprintf("the %s's ZeroMQ I/O thread (%.0f%%)", side.name, 100*i))
		}
	}
	switch {
	case len(hot) > 0:
		t += ": CPU-bound in " + strings.Join(hot, " and ")
	case w.busy >= busy:
		t += fmt.Sprintf(": all CPUs saturated (%s)", pct(100*w.busy, 0))
	}
	return t
}

// busy is the share of a core (or of the machine) from which it counts as
// saturated.
const busy = 0.9

func (r *results) acceptance(p printer) {
	p("### Acceptance checks (issues 5 and 12)\n\n| check | measured in this run | holds |\n|---|---|---|\n")
	cs := r.checks()
	for _, c := range cs {
		p("| %s | %s | %s |\n", c.name, c.measured, c.holds)
	}
	p("\n")
	for _, c := range cs {
		if len(c.why) == 0 {
			continue
		}
		p("Why *%s* does not hold:\n\n", c.name)
		for _, w := range c.why {
			p("- %s\n", w)
		}
		p("\n")
	}
}

func mbit(rate float64, size int) float64 { return rate * float64(size) * 8 / 1e6 }

func (r *results) throughput(p printer) {
	p("### Throughput: highest sustainable rate\n\n")
	p("| size | feedbus msg/s | Mbit/s | feedbus tuned msg/s | Mbit/s | feedbus udp:// msg/s | Mbit/s | bare pair msg/s | Mbit/s | UDP wire msg/s | Mbit/s | feedbus / bare | tuned / bare | tuned / wire | udp:// / feedbus | udp:// / wire |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, size := range r.cfg.sizes {
		p("| %d B |", size)
		for _, sys := range systems {
			rt := r.sweepRate(size, sys)
			p(" %s | %s |", rateCell(rt), mbitCell(rt, size))
		}
		f, t, b, u, w := r.sweepRate(size, feedbus), r.sweepRate(size, tuned), r.sweepRate(size, bare), r.sweepRate(size, udp), r.sweepRate(size, wire)
		p(" %s | **%s** | %s | %s | %s |\n", ratio(f, b), ratio(t, b), ratio(t, w), ratio(u, f), ratio(u, w))
	}
	p("\nThe searches (✓ clean, ✗ what went wrong):\n\n| size | system | `--rate 0` delivered | paced runs, msg/s |\n|---:|---|---:|---|\n")
	for s := range r.searches() {
		p("| %d B | %s | %s | %s |\n", s.base.size, s.base.sys.title(), thousands(s.offered.msgsPerS), trail(s))
	}
	p("\nWhat bounds each (the first failed rate above the sustainable one):\n\n")
	for s := range r.searches() {
		p("- %d B %s: %s.\n", s.base.size, s.base.sys.title(), limitText(s))
	}
	p("\nOffered load, secondary: `--rate 0`, the publisher as fast as it can. A PUB socket has no back-pressure and drops past its high-water mark, so this is what the path delivered while overloaded, not a rate any subscriber could rely on.\n\n")
	p("| size | system | sent | received | delivered msg/s | delivered | lost | publisher CPU | subscriber CPU | NIC Mbit/s | UDP datagrams out → in (rcvbuf drops) |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for s := range r.searches() {
		o := s.offered
		p("| %d B | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s → %s (%s) |\n", s.base.size, s.base.sys.title(), count(o.sent), count(o.received),
			thousands(o.msgsPerS), pct(100*o.deliveredFrac(), 1), count(o.lost), o.during.pub.share(o.during.secs), o.during.sub.share(o.during.secs),
			oneDecimal(o.wireMbit()), count(o.udpOut), count(o.udpIn), count(o.udpRcvbufErrors))
	}
	p("\n")
}

// trail renders a search's paced runs in order.
func trail(s *searchResult) string {
	var parts []string
	for _, st := range s.steps {
		if st.clean {
			parts = append(parts, thousands(st.spec.rate)+" ✓")
		} else {
			parts = append(parts, thousands(st.spec.rate)+" ✗ "+st.why)
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " → ")
}

func rateCell(r float64) string {
	if r <= 0 {
		return "none found"
	}
	return thousands(r)
}

func mbitCell(r float64, size int) string {
	if r <= 0 {
		return "–"
	}
	return oneDecimal(mbit(r, size))
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func count(n uint64) string { return thousands(float64(n)) }

// us renders a latency in µs for a person.
func us(v float64) string { return latency.Format(v) }

func (r *results) latencySection(p printer, link string) {
	p("### Latency, %d-byte messages\n\n", latencySize)
	p("One-way, publisher's send call to subscriber's receive; *corrected* adds, for each value, the values coordinated omission hid (expected interval 1/rate).\n\n")
	p("| rate | system | messages | lost | p50 | p90 | p99 | p99.9 | max | corrected p50 | p90 | p99 | p99.9 | max | interval log |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, l := range r.latency {
		rate := thousands(l.spec.rate)
		if l.label == "max" {
			rate = "max: " + rate
		}
		if l.reps > 1 {
			rate += fmt.Sprintf(" (run %d)", l.rep)
		}
		c := latency.Percentiles{}
		if l.corrected != nil {
			c = *l.corrected
		}
		lost := count(l.lost)
		if ok, why := l.verdict(); !ok && l.lost == 0 {
			lost = why
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | [%s](%s) |\n", rate, l.spec.sys.title(), count(l.received), lost,
			us(l.lat.P50), us(l.lat.P90), us(l.lat.P99), us(l.lat.P999), us(l.lat.Max),
			us(c.P50), us(c.P90), us(c.P99), us(c.P999), us(c.Max), filepath.Base(l.spec.hlog), path.Join(link, filepath.Base(l.spec.hlog)))
	}
	p("\nPercentile distributions (raw), one line per system:\n\n")
	for _, png := range r.pngs {
		name := filepath.Base(png)
		p("![%s](%s)\n", name, path.Join(link, name))
	}
	p("\n")
}

func (r *results) compression(p printer) {
	p("### Compression, %d-byte messages\n\n", latencySize)
	p("| PGM limit | system | sustainable msg/s | vs none | vs bare pair | bytes on the wire a message | publisher CPU | subscriber CPU |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|\n")
	rows := []struct {
		limit string
		m     map[string]*searchResult
		keys  []string
	}{
		{fmt.Sprintf("%s kbit/s", thousands(float64(r.cfg.pgmLimit))), r.limited, append([]string{"bare"}, codecs...)},
		{fmt.Sprintf("default (%s kbit/s)", thousands(float64(bus.DefaultRate))), r.cpu, codecs},
	}
	for _, row := range rows {
		none := r.rateOf(row.m, "none")
		bareRate := r.rateOf(row.m, "bare")
		if row.m == nil {
			continue
		}
		for _, k := range row.keys {
			s := row.m[k]
			if s == nil {
				continue
			}
			name := "feedbus " + k
			if k == "zstd" {
				name += " + dictionary"
			}
			if k == "bare" {
				name = "bare pair"
			}
			rt := s.rate()
			bpm, pub, sub := "–", "–", "–"
			if b, ok := s.best(); ok {
				if v := b.bytesPerMsg(); !math.IsNaN(v) {
					bpm = oneDecimal(v)
				}
				pub, sub = b.during.pub.share(b.during.secs), b.during.sub.share(b.during.secs)
			}
			vsNone, vsBare := ratio(rt, none), ratio(rt, bareRate)
			if k == "bare" {
				vsNone, vsBare = "–", "–"
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", row.limit, name, rateCell(rt), vsNone, vsBare, bpm, pub, sub)
		}
	}
	p("\n*bytes on the wire a message* is feedpub's data-frame bytes (frame header included, after compression) ÷ messages, at the sustainable rate; PGM, UDP and IP headers come on top.\n\n")
}

func (r *results) rateOf(m map[string]*searchResult, k string) float64 {
	if s, ok := m[k]; ok && s != nil {
		return s.rate()
	}
	return 0
}

// observations are generated from the numbers; each says what it rests on.
func (r *results) observations() []string {
	out := append([]string(nil), r.notes...)
	for _, size := range r.cfg.sizes {
		f, bb, w := r.sweepRate(size, feedbus), r.sweepRate(size, bare), r.sweepRate(size, wire)
		if f > 0 && bb > 0 && w > 0 {
			perFrame := maxSize / size
			how := "feedpub packs " + strconv.Itoa(perFrame) + " messages into a frame"
			if perFrame <= 1 {
				how = "feedpub sends one message a frame, like the bare pair"
			}
			out = append(out, fmt.Sprintf("%d B: feedbus sustains %s msg/s (%s Mbit/s), %.2f× the bare pair and %.2f× the UDP wire (which packs messages into datagrams of the same budget); %s.",
				size, thousands(f), oneDecimal(mbit(f, size)), f/bb, f/w, how))
		}
	}
	for _, l := range r.latency {
		name, rate := l.spec.sys.title(), thousands(l.spec.rate)
		if l.reps > 1 {
			rate += fmt.Sprintf(" (run %d)", l.rep)
		}
		if clean, why := l.verdict(); !clean {
			out = append(out, fmt.Sprintf("Latency at %s msg/s, %s: %s, so its percentiles describe an overloaded path (%s).", rate, name, why, diagnose(l.sample)))
		}
		if c := l.corrected; c != nil && l.lat.P999 > 0 && c.P999 > 2*l.lat.P999 {
			out = append(out, fmt.Sprintf("Coordinated omission matters for %s at %s msg/s: p99.9 is %s raw but %s corrected, i.e. stalls held up messages that were due meanwhile.",
				name, rate, us(l.lat.P999), us(c.P999)))
		}
		if c := l.corrected; c != nil && c.Count > 2*l.lat.Count && c.P50 < l.lat.P50 {
			out = append(out, fmt.Sprintf("At %s msg/s the correction for %s adds %s synthetic values to %s measured ones (every latency above the %s interval stands for the messages due meanwhile), so its corrected p50 (%s) falls below the raw one (%s): the correction models a sender that waits for each message, which none of these publishers does; read it for the tail.",
				rate, name, count(c.Count-l.lat.Count), count(l.lat.Count), us(1e6/l.spec.rate), us(c.P50), us(l.lat.P50)))
		}
		if l.negative > 0 {
			out = append(out, fmt.Sprintf("%s at %s msg/s: %d messages arrived before they were sent by the clock, which cannot happen on one machine; treat its latency with suspicion.", name, rate, l.negative))
		}
	}
	if lf, ok := r.latencyOf("10k", feedbus); ok && lf.frames > 0 {
		out = append(out, fmt.Sprintf("At 10k msg/s feedpub sent %.1f messages a frame: the pacer's ~1 ms wake-ups release about 10 messages at once, which leave together.", float64(lf.sent)/float64(lf.frames)))
	}
	out = append(out, r.compressionObservations()...)
	for _, s := range r.allSamples() {
		if s.busyBefore > quiet {
			out = append(out, fmt.Sprintf("**The machine was %.0f%% busy just before %s**: something else was running, so that run's figures may be low.", 100*s.busyBefore, s.spec))
		}
	}
	return out
}

func (r *results) compressionObservations() []string {
	var out []string
	for _, row := range []struct {
		where string
		m     map[string]*searchResult
	}{
		{fmt.Sprintf("under the %s kbit/s PGM limit", thousands(float64(r.cfg.pgmLimit))), r.limited},
		{"at the default PGM limit", r.cpu},
	} {
		none := r.rateOf(row.m, "none")
		if none <= 0 {
			continue
		}
		for _, k := range codecs[1:] {
			rt := r.rateOf(row.m, k)
			if rt <= 0 {
				continue
			}
			verb := "pays"
			if rt < none*0.97 {
				verb = "costs"
			} else if rt <= none*1.03 {
				verb = "neither pays nor costs"
			}
			text := fmt.Sprintf("Compression %s %s: %s sustains %s msg/s, %.2f× none's %s", verb, row.where, k, thousands(rt), rt/none, thousands(none))
			if b, ok := row.m[k].best(); ok {
				if nb, ok := row.m["none"].best(); ok && !math.IsNaN(b.bytesPerMsg()) && !math.IsNaN(nb.bytesPerMsg()) {
					text += fmt.Sprintf(", with %s instead of %s bytes on the wire a message", oneDecimal(b.bytesPerMsg()), oneDecimal(nb.bytesPerMsg()))
				}
			}
			text += "; " + limitText(row.m[k]) + "."
			out = append(out, text)
		}
	}
	if n, bb := r.rateOf(r.limited, "none"), r.rateOf(r.limited, "bare"); n > 0 && bb > 0 {
		out = append(out, fmt.Sprintf("Under the PGM limit, uncompressed feedbus sustains %.2f× the bare pair (%s vs %s msg/s).",
			n/bb, thousands(n), thousands(bb)))
	}
	return out
}

// allSamples lists every run of the suite.
func (r *results) allSamples() []sample {
	var out []sample
	add := func(s *searchResult) {
		if s == nil {
			return
		}
		out = append(out, s.offered)
		for _, st := range s.steps {
			out = append(out, st.sample)
		}
	}
	for _, size := range r.cfg.sizes {
		for _, sys := range systems {
			add(r.sweep[size][sys])
		}
	}
	for _, l := range r.latency {
		out = append(out, l.sample)
	}
	for _, k := range append([]string{"bare"}, codecs...) {
		add(r.limited[k])
		if k != "none" {
			add(r.cpu[k])
		}
	}
	for _, a := range r.auth {
		add(a.r)
	}
	for _, m := range r.metrics {
		add(m.r)
	}
	return out
}

func (r *results) commands(p printer) {
	p("### Commands\n\nProgram lines as feedbench ran them (built with `go build` from this checkout into a temporary directory; JSON written there), subscriber first: the 10k msg/s latency runs and the zstd run under the PGM limit.\n\n```\n")
	for _, sys := range latencySystems {
		if l, ok := r.latencyOf("10k", sys); ok {
			for _, c := range l.cmds {
				p("%s\n", c)
			}
		}
	}
	p("feedpub --train-dict zstd-%dB.dict --size %d\n", latencySize, latencySize)
	if s := r.limited["zstd"]; s != nil && len(s.steps) > 0 {
		for _, c := range s.steps[len(s.steps)-1].cmds {
			p("%s\n", c)
		}
	}
	p("```\n")
}

// share renders c as shares of one core over secs seconds.
func (c cpuTime) share(secs float64) string {
	if secs <= 0 {
		return "?"
	}
	if c.io == 0 {
		return fmt.Sprintf("%.0f%%", 100*c.app.Seconds()/secs)
	}
	return fmt.Sprintf("%.0f%% + %.0f%%", 100*c.app.Seconds()/secs, 100*c.io.Seconds()/secs)
}

func oneDecimal(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// pct renders a percentage with prec decimals, "?" for NaN.
func pct(x float64, prec int) string {
	if math.IsNaN(x) {
		return "?"
	}
	return strconv.FormatFloat(x, 'f', prec, 64) + "%"
}

// thousands renders x rounded, with commas between groups of three digits.
func thousands(x float64) string {
	if math.IsNaN(x) {
		return "?"
	}
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// resultsHeader opens a results file that feedbench creates.
const resultsHeader = "# feedbus benchmark results\n"

// Earlier versions of feedbench wrote a header and one section per size;
// updateFile replaces them with the suite's section.
const legacyHeading = "## Throughput: feedbus against a bare ZeroMQ pair"

var legacyBegin = regexp.MustCompile(`<!-- feedbench:throughput size=(\d+) -->`)

// updateFile puts section (markers included) into the file at path: in
// place of the text between the markers, or of what earlier versions of
// feedbench wrote, or at the end. Nothing else in the file changes. A
// missing file is created with resultsHeader.
func updateFile(path, section string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = []byte(resultsHeader), nil
	}
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	doc, err := replaceSection(string(b), section)
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

func replaceSection(doc, section string) (string, error) {
	section = strings.TrimRight(section, "\n")
	placed := false
	put := func(i, j int) {
		ins := ""
		if !placed {
			ins, placed = section, true
		}
		doc = splice(doc, i, j, ins)
	}
	if i := strings.Index(doc, beginMarker); i >= 0 {
		j := strings.Index(doc[i:], endMarker)
		if j < 0 {
			return "", fmt.Errorf("%q without %q; fix or remove it", beginMarker, endMarker)
		}
		put(i, i+j+len(endMarker))
	} else if strings.Contains(doc, endMarker) {
		return "", fmt.Errorf("%q without %q; fix or remove it", endMarker, beginMarker)
	}
	if h := strings.Index(doc, legacyHeading); h >= 0 {
		// The old header runs to the next marker or section heading.
		e := len(doc)
		if k := strings.Index(doc[h+len(legacyHeading):], "<!--"); k >= 0 {
			e = min(e, h+len(legacyHeading)+k)
		}
		if k := strings.Index(doc[h+len(legacyHeading):], "\n## "); k >= 0 {
			e = min(e, h+len(legacyHeading)+k)
		}
		put(h, e)
	}
	for {
		m := legacyBegin.FindStringSubmatchIndex(doc)
		if m == nil {
			break
		}
		end := "<!-- /feedbench:throughput size=" + doc[m[2]:m[3]] + " -->"
		j := strings.Index(doc[m[1]:], end)
		if j < 0 {
			return "", fmt.Errorf("%q without %q; fix or remove it", doc[m[0]:m[1]], end)
		}
		put(m[0], m[1]+j+len(end))
	}
	if !placed {
		put(len(doc), len(doc))
	}
	return doc, nil
}

// splice replaces doc[i:j] with ins, keeping one blank line between ins
// and the text around it (none at the very start) and ending the document
// with one newline.
func splice(doc string, i, j int, ins string) string {
	before := strings.TrimRight(doc[:i], "\n")
	after := strings.TrimLeft(doc[j:], "\n")
	var parts []string
	for _, s := range []string{before, ins, after} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	out := strings.Join(parts, "\n\n")
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}
