package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
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

func describeMachine() machine {
	m := machine{nproc: runtime.NumCPU(), cpu: "unknown CPU", kernel: "unknown", goVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	major, minor, patch := zmq.Version()
	m.zmq = fmt.Sprintf("%d.%d.%d", major, minor, patch)
	return m
}

// report is everything one feedbench run measured.
type report struct {
	machine machine
	cfg     *config
	date    time.Time
	sizes   []*sizeResult
}

type sizeResult struct {
	size    int
	samples []sample
	cmds    map[kind][]string
	retries []string // measurements that failed once, and why
}

// section is the markdown for one message size, markers included.
type section struct {
	size int
	text string
}

func beginMarker(size int) string { return fmt.Sprintf("<!-- feedbench:throughput size=%d -->", size) }
func endMarker(size int) string   { return fmt.Sprintf("<!-- /feedbench:throughput size=%d -->", size) }

// command is the feedbench command line as it is run from the checkout.
func (r *report) command() string {
	parts := []string{"go run ./bench/cmd/feedbench"}
	for _, a := range r.cfg.args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func (r *report) sections() []section {
	var out []section
	for _, sr := range r.sizes {
		out = append(out, section{size: sr.size, text: r.render(sr)})
	}
	return out
}

func (r *report) render(sr *sizeResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.machine
	by := map[kind][]sample{}
	for _, s := range sr.samples {
		by[s.kind] = append(by[s.kind], s)
	}
	get := func(k kind, f func(sample) float64) []float64 {
		var xs []float64
		for _, s := range by[k] {
			if x := f(s); !math.IsNaN(x) {
				xs = append(xs, x)
			}
		}
		return xs
	}
	msgs := func(s sample) float64 { return s.msgsPerS }
	mbit := func(s sample) float64 { return s.mbitPerS }
	delivered := func(s sample) float64 { return s.delivered() }
	lost := func(s sample) float64 { return float64(s.lost) }

	p("%s\n", beginMarker(sr.size))
	p("### %d-byte messages\n\n", sr.size)
	short := ""
	if r.cfg.short {
		short = " (-short: a quick check, not a measurement to quote)"
	}
	p("`%s` on %s%s: %d run(s) of %v per kind, alternating bare and feedbus; median [min–max] over the runs.\n\n",
		r.command(), r.date.Format("2006-01-02 15:04 UTC"), short, r.cfg.runs, r.cfg.duration)
	p("Machine: nproc %d, %s, Linux %s, libzmq %s, %s; lab net.core.rmem_max/wmem_max %d.\n\n",
		m.nproc, m.cpu, m.kernel, m.zmq, m.goVersion, m.bufMax)

	p("| %d B over EPGM, line A | msgs/s | Mbit/s | delivered (received/sent) | lost (sub's count) |\n", sr.size)
	p("|---|---:|---:|---:|---:|\n")
	p("| bare pair (barepair) | %s | %s | %s | %s skipped |\n",
		stat(get(bare, msgs), thousands), stat(get(bare, mbit), oneDecimal), stat(get(bare, delivered), percent), stat(get(bare, lost), thousands))
	p("| feedbus (feedpub → feedsub) | %s | %s | %s | %s gaps |\n",
		stat(get(feedbus, msgs), thousands), stat(get(feedbus, mbit), oneDecimal), stat(get(feedbus, delivered), percent), stat(get(feedbus, lost), thousands))
	ratio := median(get(feedbus, msgs)) / median(get(bare, msgs))
	p("| **feedbus / bare** | **%.2f×** | %.2f× | | |\n\n", ratio, median(get(feedbus, mbit))/median(get(bare, mbit)))

	p("Runs (CPU columns are taken over the middle 80%% of the publisher's data phase; a program's CPU is the Go side + libzmq's I/O thread, in %% of one core):\n\n")
	p("| run | kind | sent | received | msgs/s | Mbit/s | lost (holes) | publisher CPU | subscriber CPU | UDP datagrams out → in (rcvbuf drops) | machine CPU busy before / during |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range sr.samples {
		sent := "?"
		if s.sent > 0 {
			sent = thousands(float64(s.sent))
		}
		p("| %d | %s | %s | %s | %s | %.1f | %s (%s) | %s | %s | %s → %s (%s) | %s / %s |\n", s.run, s.kind, sent,
			thousands(float64(s.received)), thousands(s.msgsPerS), s.mbitPerS,
			thousands(float64(s.lost)), thousands(float64(s.holes)), s.during.pub.share(s.during.secs), s.during.sub.share(s.during.secs),
			thousands(float64(s.udpOut)), thousands(float64(s.udpIn)), thousands(float64(s.udpRcvbufErrors)), pct(100*s.busyBefore, 0), pct(100*s.during.busy, 0))
	}
	p("\nCommands (programs built by `go build` from this checkout into a temporary directory; JSON written there):\n\n```\n")
	for _, k := range []kind{bare, feedbus} {
		for _, c := range sr.cmds[k] {
			p("%s\n", c)
		}
	}
	p("```\n\n")
	p("Observations (generated):\n\n")
	for _, o := range append(sr.retries, observe(m, sr.size, by, ratio)...) {
		p("- %s\n", o)
	}
	p("%s\n", endMarker(sr.size))
	return b.String()
}

// busy is the share of a core from which a thread counts as CPU-bound.
const busy = 0.9

// observe flags what deserves a look: lost data, a slow feedbus, CPU-bound
// programs and a saturated machine.
func observe(m machine, size int, by map[kind][]sample, ratio float64) []string {
	var out []string
	fb := by[feedbus]
	var gaps, missing []string
	for _, s := range fb {
		gaps = append(gaps, thousands(float64(s.lost)))
		missing = append(missing, pct(100-s.delivered(), 2))
	}
	switch {
	case slices.ContainsFunc(fb, func(s sample) bool { return s.lost > 0 }):
		out = append(out, fmt.Sprintf("**feedbus lost data**: feedsub declared gaps of %s messages (runs in order); %s of what feedpub sent never arrived.",
			strings.Join(gaps, ", "), strings.Join(missing, ", ")))
	case slices.ContainsFunc(fb, func(s sample) bool { return s.received < s.sent }):
		out = append(out, fmt.Sprintf("feedsub declared no gaps, but %s of what feedpub sent did not arrive (runs in order).", strings.Join(missing, ", ")))
	case slices.ContainsFunc(fb, func(s sample) bool { return s.sent == 0 }):
		out = append(out, "feedsub declared no gaps (feedpub's sent count is unknown for some runs).")
	default:
		out = append(out, "feedbus delivered every message it sent, without gaps.")
	}
	for _, s := range fb {
		if s.sessions != 1 || s.pending > 0 || s.late > 0 || s.malformed > 0 || s.endReason != "idle" {
			out = append(out, fmt.Sprintf("feedbus run %d: sessions %d, pending %d, late %d, malformed %d, ended by %s.",
				s.run, s.sessions, s.pending, s.late, s.malformed, s.endReason))
		}
	}
	if slices.ContainsFunc(by[bare], func(s sample) bool { return s.received < s.sent }) {
		var d []string
		for _, s := range by[bare] {
			d = append(d, pct(s.delivered(), 1))
		}
		out = append(out, fmt.Sprintf("The bare pair delivered %s of what it sent (runs in order).", strings.Join(d, ", ")))
	}
	for _, k := range []kind{bare, feedbus} {
		ss := by[k]
		if !slices.ContainsFunc(ss, func(s sample) bool { return s.received < s.sent }) {
			continue
		}
		if slices.ContainsFunc(ss, func(s sample) bool { return s.udpRcvbufErrors > 0 }) {
			var drops []string
			for _, s := range ss {
				drops = append(drops, thousands(float64(s.udpRcvbufErrors)))
			}
			out = append(out, fmt.Sprintf("%s: the subscriber's host dropped %s UDP datagrams for a full socket receive buffer (runs in order): the subscriber did not drain its socket in time, so PGM had to repair those or give up on them; the subscriber cannot tell these losses from drops at the publisher.", k, strings.Join(drops, ", ")))
			continue
		}
		if slices.ContainsFunc(ss, func(s sample) bool { return s.udpIn != s.udpOut }) {
			continue
		}
		var runLen []float64
		for _, s := range ss {
			runLen = append(runLen, float64(s.received)/float64(s.holes+1))
		}
		out = append(out, fmt.Sprintf("%s: every UDP datagram the publisher's host sent reached the subscriber's socket (out = in, no buffer drops), so what is missing never left the publisher: its PUB socket dropped it at the high-water mark, as --rate 0 offers more than libzmq's PGM sender sends. Messages arrived in runs of about %s between holes (median).", k, thousands(median(runLen))))
	}
	for _, s := range append(slices.Clone(by[bare]), by[feedbus]...) {
		if s.busyBefore > quiet {
			out = append(out, fmt.Sprintf("**The machine was %.0f%% busy just before %s run %d**: something else was running, so that run's figures are low.", 100*s.busyBefore, s.kind, s.run))
		}
	}
	perFrame := maxSize / size
	switch {
	case ratio < 0.5:
		out = append(out, fmt.Sprintf("**feedbus is far slower than the bare pair**: %.2f× its msgs/s.", ratio))
	case perFrame > 1:
		out = append(out, fmt.Sprintf("feedbus reaches %.2f× the bare pair's msgs/s; feedpub packs %d messages of this size into each ZeroMQ frame, while the bare pair sends one ZeroMQ message per message.", ratio, perFrame))
	default:
		out = append(out, fmt.Sprintf("feedbus reaches %.2f× the bare pair's msgs/s; at this size feedpub sends one message per ZeroMQ frame, like the bare pair.", ratio))
	}
	for _, k := range []kind{bare, feedbus} {
		ss := by[k]
		var totals []float64
		for _, side := range []struct {
			name string
			cpu  func(sample) (cpuTime, float64)
		}{
			{"publisher", func(s sample) (cpuTime, float64) { return s.during.pub, s.during.secs }},
			{"subscriber", func(s sample) (cpuTime, float64) { return s.during.sub, s.during.secs }},
		} {
			var app, io []float64
			for _, s := range ss {
				c, secs := side.cpu(s)
				if secs <= 0 {
					continue
				}
				app = append(app, c.app.Seconds()/secs)
				io = append(io, c.io.Seconds()/secs)
			}
			if a := median(app); a >= busy {
				out = append(out, fmt.Sprintf("%s %s: the Go side is CPU-bound, at %.0f%% of a core (median).", k, side.name, 100*a))
			}
			if i := median(io); i >= busy {
				out = append(out, fmt.Sprintf("%s %s: libzmq's I/O thread is CPU-bound, at %.0f%% of a core (median).", k, side.name, 100*i))
			}
		}
		for _, s := range ss {
			if !math.IsNaN(s.during.busy) {
				totals = append(totals, s.during.busy)
			}
		}
		if t := median(totals); t >= busy {
			out = append(out, fmt.Sprintf("%s: the machine's %d CPUs were %.0f%% busy while the publisher sent (median): publisher, subscriber and the kernel's networking compete for CPU, so the figures are CPU-limited.", k, m.nproc, 100*t))
		}
	}
	return out
}

// delivered is the percentage of the messages sent that arrived, NaN if
// the publisher's count is unknown.
func (s sample) delivered() float64 {
	if s.sent == 0 {
		return math.NaN()
	}
	return 100 * float64(s.received) / float64(s.sent)
}

// share renders c as shares of one core over secs seconds.
func (c cpuTime) share(secs float64) string {
	if secs <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%% + %.0f%%", 100*c.app.Seconds()/secs, 100*c.io.Seconds()/secs)
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

// stat renders the median of xs and, for more than one value, their range.
func stat(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "–"
	}
	if len(xs) == 1 {
		return f(xs[0])
	}
	return fmt.Sprintf("%s [%s–%s]", f(median(xs)), f(slices.Min(xs)), f(slices.Max(xs)))
}

func oneDecimal(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
func percent(x float64) string    { return pct(x, 1) }

// pct renders a percentage with prec decimals, "?" for NaN.
func pct(x float64, prec int) string {
	if math.IsNaN(x) {
		return "?"
	}
	return strconv.FormatFloat(x, 'f', prec, 64) + "%"
}

// thousands renders x rounded, with commas between groups of three digits.
func thousands(x float64) string {
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
const resultsHeader = `# feedbus benchmark results

Written by ` + "`go run ./bench/cmd/feedbench -out bench/RESULTS.md`" + ` (as root); each message
size has its own section between ` + "`<!-- feedbench:throughput size=N -->`" + ` markers,
which a rerun replaces in place. Text outside the markers is left alone.
`

// updateFile replaces each section's part of the file at path, between its
// markers, or appends the section if the file has none; a missing file is
// created with resultsHeader.
func updateFile(path string, sections []section) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = []byte(resultsHeader), nil
	}
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	doc := string(b)
	for _, s := range sections {
		begin, end := beginMarker(s.size), endMarker(s.size)
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i >= 0 && j > i {
			doc = doc[:i] + strings.TrimSuffix(s.text, "\n") + doc[j+len(end):]
			continue
		}
		if i >= 0 || j >= 0 {
			return fmt.Errorf("results %s: unmatched marker for size %d; fix or remove %q and %q", path, s.size, begin, end)
		}
		doc = strings.TrimRight(doc, "\n") + "\n\n" + s.text
	}
	if !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}
