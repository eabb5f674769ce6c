package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/summary"
)

// kind is what a measurement runs.
type kind string

const (
	bare    kind = "bare"    // barepair pub -> barepair sub
	feedbus kind = "feedbus" // feedpub -> feedsub
)

// pause separates measurements, so that nothing of one is in flight in
// the next; the machine's CPU use is sampled over it.
const pause = 500 * time.Millisecond

// quiet is the CPU use of the machine (all CPUs) before a measurement
// above which something else was running.
const quiet = 0.1

type bench struct {
	cfg    *config
	lab    *lab.Lab
	bin    string // directory of the built programs
	tmp    string // where subscribers write their JSON
	stderr io.Writer
	// cmds holds the last command lines run for each kind, subscriber
	// first, for the report.
	cmds map[kind][]string
}

// sample is the outcome of one measurement.
type sample struct {
	kind kind
	run  int

	sent     uint64 // messages the publisher handed to ZeroMQ
	received uint64
	elapsedS float64 // subscriber's first to last message
	msgsPerS float64
	mbitPerS float64 // market-message bytes (padding included), no framing
	// lost is what the subscriber knows it missed between its first and
	// last message: skipped sequence numbers for bare, gaps for feedbus.
	lost  uint64
	holes uint64 // runs of lost messages: bare's holes, feedbus's gap events

	// feedbus only, from feedsub's summary
	pending, late, sessions, malformed uint64
	endReason                          string

	busyBefore float64 // share of all CPUs in use just before, by anything
	during     window  // CPU use while the publisher sent

	// UDP datagrams during the measurement, from the namespaces'
	// /proc/net/snmp: sent by the publisher's host, received by the
	// subscriber's, and dropped there because the socket buffer was full.
	udpOut, udpIn, udpRcvbufErrors uint64
}

func (s sample) brief() string {
	return fmt.Sprintf("%s msg/s %7.1f Mbit/s  sent %s received %s lost %d  pub %s  sub %s",
		thousands(s.msgsPerS), s.mbitPerS, thousands(float64(s.sent)), thousands(float64(s.received)), s.lost,
		s.during.pub.share(s.during.secs), s.during.sub.share(s.during.secs))
}

// plan is what one measurement runs.
type plan struct {
	pubBin, subBin   string // program names in the build directory
	pubDesc, subDesc string // for messages
	pubArgs, subArgs []string
	joined           func(stderrLine string) bool // the subscriber's ready line
	sentPrefix       string                       // starts the publisher's "sent N messages" line
}

func (b *bench) plan(k kind, size int, out string) plan {
	pubEP, subEP := b.lab.Endpoint("epgm", b.lab.Pub(), 0), b.lab.Endpoint("epgm", b.lab.Subs()[0], 0)
	dur, sz := b.cfg.duration.String(), strconv.Itoa(size)
	if k == bare {
		return plan{
			pubBin: "barepair", subBin: "barepair", pubDesc: "barepair pub", subDesc: "barepair sub",
			subArgs: []string{"-mode", "sub", "-endpoint", subEP, "-idle", idle.String(), "-json", out},
			pubArgs: []string{"-mode", "pub", "-endpoint", pubEP, "-size", sz, "-duration", dur, "-warmup", warmup.String()},
			joined: func(s string) bool {
				return strings.HasPrefix(s, "barepair: sub ") && strings.HasSuffix(s, " joined")
			},
			sentPrefix: "barepair: sent ",
		}
	}
	return plan{
		pubBin: "feedpub", subBin: "feedsub", pubDesc: "feedpub", subDesc: "feedsub",
		subArgs: []string{"--line", subEP, "--idle", idle.String(), "--json", out},
		pubArgs: []string{"--line", pubEP, "--rate", "0", "--duration", dur, "--warmup", warmup.String(), "--size", sz},
		joined: func(s string) bool {
			return strings.HasPrefix(s, "feedsub: line A ") && strings.HasSuffix(s, " joined")
		},
		sentPrefix: "feedpub: sent ",
	}
}

// measure runs one subscriber and one publisher of kind k and reads the
// subscriber's result. The subscriber starts first; the publisher starts
// once it has joined.
func (b *bench) measure(parent context.Context, k kind, size, run int) (sample, error) {
	limit := warmup + b.cfg.duration + idle + slack
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	pubHost, subHost := b.lab.Pub(), b.lab.Subs()[0]
	out := filepath.Join(b.tmp, fmt.Sprintf("%s-%d-%d.json", k, size, run))
	os.Remove(out)
	p := b.plan(k, size, out)
	if b.cmds == nil {
		b.cmds = map[kind][]string{}
	}
	b.cmds[k] = []string{commandLine(subHost, p.subBin, p.subArgs), commandLine(pubHost, p.pubBin, p.pubArgs)}
	var echo io.Writer
	if b.cfg.verbose {
		echo = b.stderr
	}
	busyBefore, err := machineBusy(ctx, pause)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}

	pubUDP0, err := udpCounters(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	subUDP0, err := udpCounters(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	sub, err := start(ctx, b.lab, subHost, p.subDesc, p.joined, echo, filepath.Join(b.bin, p.subBin), p.subArgs...)
	if err != nil {
		return sample{}, err
	}
	if err := sub.waitReady(joinTimeout); err != nil {
		cancel()
		sub.wait()
		return sample{}, interrupted(parent, err)
	}
	pub, err := start(ctx, b.lab, pubHost, p.pubDesc, nil, echo, filepath.Join(b.bin, p.pubBin), p.pubArgs...)
	if err != nil {
		cancel()
		sub.wait()
		return sample{}, interrupted(parent, err)
	}
	// Sample CPU use over the middle 80% of the data phase.
	during := make(chan window, 1)
	go func() {
		w := window{busy: math.NaN()}
		select {
		case <-ctx.Done():
		case <-time.After(warmup + b.cfg.duration/10):
			w = sampleWindow(ctx, pub, sub, b.cfg.duration*8/10)
		}
		during <- w
	}()
	perr := pub.wait()
	if perr != nil {
		cancel() // the subscriber would wait for data that never comes
	}
	serr := sub.wait()
	switch {
	case perr != nil && serr != nil:
		return sample{}, interrupted(parent, fmt.Errorf("%w; %w", perr, serr))
	case perr != nil:
		return sample{}, interrupted(parent, perr)
	case serr != nil:
		return sample{}, interrupted(parent, serr)
	case ctx.Err() != nil:
		return sample{}, interrupted(parent, fmt.Errorf("did not finish within %v: %w", limit, ctx.Err()))
	}
	w := <-during
	pubUDP, err := udpCounters(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	subUDP, err := udpCounters(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}

	s := sample{kind: k, run: run, busyBefore: busyBefore, during: w,
		udpOut:          pubUDP["OutDatagrams"] - pubUDP0["OutDatagrams"],
		udpIn:           subUDP["InDatagrams"] - subUDP0["InDatagrams"],
		udpRcvbufErrors: subUDP["RcvbufErrors"] - subUDP0["RcvbufErrors"],
	}
	if k == bare {
		err = readBare(out, &s)
	} else {
		err = readFeedsub(out, size, &s, b.stderr)
	}
	if err != nil {
		return sample{}, err
	}
	if s.received == 0 || s.elapsedS <= 0 {
		return sample{}, sub.failure(fmt.Errorf("received %d messages in %.3fs (ended by %s); publisher: %s",
			s.received, s.elapsedS, s.endReason, strings.Join(pub.lines(), "; ")))
	}
	line := pub.line(p.sentPrefix)
	if _, err := fmt.Sscanf(line, p.sentPrefix+"%d messages", &s.sent); err != nil {
		// Only "delivered" needs it; leave it unknown (0) rather than
		// lose the measurement.
		fmt.Fprintf(b.stderr, "feedbench: warning: %s printed no %q line with a message count; sent is unknown\n", pub.desc, p.sentPrefix+"N messages")
	}
	return s, nil
}

// window is the CPU use of the machine and of the two programs over a
// stretch of time.
type window struct {
	secs     float64 // 0 if it could not be sampled
	busy     float64 // share of all CPUs in use, NaN if unknown
	pub, sub cpuTime
}

// sampleWindow measures CPU use over the next d. It returns a window with
// secs 0 if a program exited meanwhile or ctx ended.
func sampleWindow(ctx context.Context, pub, sub *proc, d time.Duration) window {
	w := window{busy: math.NaN()}
	busy0, total0, err0 := cpuStat()
	pub0, err1 := pub.cpu()
	sub0, err2 := sub.cpu()
	start := time.Now()
	if err0 != nil || err1 != nil || err2 != nil {
		return w
	}
	select {
	case <-ctx.Done():
		return w
	case <-time.After(d):
	}
	busy1, total1, err0 := cpuStat()
	pub1, err1 := pub.cpu()
	sub1, err2 := sub.cpu()
	if err0 != nil || err1 != nil || err2 != nil || total1 <= total0 {
		return w
	}
	w.secs = time.Since(start).Seconds()
	w.busy = float64(busy1-busy0) / float64(total1-total0)
	w.pub, w.sub = pub1.minus(pub0), sub1.minus(sub0)
	return w
}

// machineBusy returns the share of all CPUs that was in use (not idle or
// waiting for I/O) over the next d, from /proc/stat.
func machineBusy(ctx context.Context, d time.Duration) (float64, error) {
	busy0, total0, err := cpuStat()
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	busy1, total1, err := cpuStat()
	if err != nil {
		return 0, err
	}
	if total1 <= total0 {
		return 0, nil
	}
	return float64(busy1-busy0) / float64(total1-total0), nil
}

// cpuStat reads the machine's busy and total CPU time, in ticks, from the
// "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal.
func cpuStat() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// interrupted returns a plain "interrupted" if ctx was cancelled (by a
// signal), since the programs' failures are then just its consequence, and
// err otherwise.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return err
}

// udpCounters reads the Udp counters of /proc/net/snmp in h's namespace.
func udpCounters(ctx context.Context, l *lab.Lab, h lab.Host) (map[string]uint64, error) {
	out, err := l.Exec(ctx, h, "cat", "/proc/net/snmp")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		m := map[string]uint64{}
		for i, v := range f[1:] {
			if i < len(names) {
				m[names[i]], _ = strconv.ParseUint(v, 10, 64)
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("no Udp counters in /proc/net/snmp of %s", h.Name)
}

// bareResult is the part of barepair -json that feedbench reads.
type bareResult struct {
	Received  uint64  `json:"received"`
	ElapsedS  float64 `json:"elapsed_s"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	MbitPerS  float64 `json:"mbit_per_s"`
	Lost      uint64  `json:"lost"`
	Holes     uint64  `json:"holes"`
	EndReason string  `json:"end_reason"`
}

func readBare(path string, s *sample) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("barepair result: %w", err)
	}
	var r bareResult
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("barepair result %s: %w", path, err)
	}
	s.received, s.elapsedS, s.msgsPerS, s.mbitPerS = r.Received, r.ElapsedS, r.MsgsPerS, r.MbitPerS
	s.lost, s.holes, s.endReason = r.Lost, r.Holes, r.EndReason
	return nil
}

func readFeedsub(path string, size int, s *sample, warn io.Writer) error {
	r, err := summary.ReadJSONFile(path)
	if err != nil {
		// The summary's field names are a stable interface; read those we
		// need ourselves rather than lose the run when a newer field does
		// not round-trip.
		fmt.Fprintf(warn, "feedbench: warning: summary.ReadJSONFile: %v; reading the stable fields directly\n", err)
		if r, err = readSummaryFields(path); err != nil {
			return err
		}
	}
	s.received, s.elapsedS, s.msgsPerS, s.lost, s.holes = r.Received, r.ElapsedS, r.MsgsPerS, r.Gaps, r.GapEvents
	s.mbitPerS = r.MsgsPerS * float64(size) * 8 / 1e6
	s.pending, s.late, s.sessions, s.malformed, s.endReason = r.Pending, r.Late, r.Sessions, r.Malformed, r.EndReason
	return nil
}

// readSummaryFields reads the fields of feedsub's JSON summary that
// feedbench uses, ignoring the rest.
func readSummaryFields(path string) (*summary.Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("feedsub summary: %w", err)
	}
	var f struct {
		Received  uint64  `json:"received"`
		Gaps      uint64  `json:"gaps"`
		GapEvents uint64  `json:"gap_events"`
		Late      uint64  `json:"late"`
		Pending   uint64  `json:"pending"`
		Malformed uint64  `json:"malformed"`
		Sessions  uint64  `json:"sessions"`
		ElapsedS  float64 `json:"elapsed_s"`
		MsgsPerS  float64 `json:"msgs_per_s"`
		EndReason string  `json:"end_reason"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("feedsub summary %s: %w", path, err)
	}
	return &summary.Summary{Received: f.Received, Gaps: f.Gaps, GapEvents: f.GapEvents, Late: f.Late, Pending: f.Pending,
		Malformed: f.Malformed, Sessions: f.Sessions, ElapsedS: f.ElapsedS, MsgsPerS: f.MsgsPerS, EndReason: f.EndReason}, nil
}

// commandLine renders a command run in h for the report, quoted for a
// shell, with temporary paths cut to their base name.
func commandLine(h lab.Host, prog string, args []string) string {
	parts := []string{"ip netns exec", h.Netns, prog}
	for _, a := range args {
		if filepath.IsAbs(a) {
			a = filepath.Base(a)
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/=+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
