package main

import (
	"fmt"
	"iter"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	feedbusroot "github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
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
