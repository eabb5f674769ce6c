package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	feedbusroot "github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
)

// system is what a measurement runs.
type system string

const (
	feedbus system = "feedbus" // feedpub -> feedsub, defaults, EPGM lines
	tuned   system = "tuned"   // feedpub -> feedsub, tuned as the README says (tunedFlags)
	udp     system = "udp"     // feedpub -> feedsub, defaults, udp:// lines
	// udpTuned is udp tuned for latency as the README says (latencyFlags);
	// it runs in the latency section only: on udp:// lines a frame is a
	// datagram, so the throughput tuning (larger frames) does not apply.
	udpTuned system = "udp-tuned"
	bare     system = "bare" // barepair pub -> barepair sub
	wire     system = "wire" // udpwire send -> udpwire recv
)

// systems in the order the report lists them.
var systems = []system{feedbus, tuned, udp, bare, wire}

// latencySystems are the systems of the latency section, in its order.
var latencySystems = []system{feedbus, tuned, udp, udpTuned, bare, wire}

// isFeedbus says whether s runs feedpub and feedsub.
func (s system) isFeedbus() bool { return s == feedbus || s == tuned || s == udp || s == udpTuned }

// isUDP says whether s runs feedbus over udp:// lines.
func (s system) isUDP() bool { return s == udp || s == udpTuned }

func (s system) title() string {
	switch s {
	case tuned:
		return "feedbus tuned"
	case udp:
		return "feedbus udp://"
	case udpTuned:
		return "feedbus udp:// tuned"
	case bare:
		return "bare pair"
	case wire:
		return "UDP wire"
	}
	return string(s)
}

// pause separates measurements, so that nothing of one is in flight in
// the next; the machine's CPU use is sampled over it.
const pause = 300 * time.Millisecond

// quiet is the CPU use of the machine (all CPUs) before a measurement
// above which something else was running.
const quiet = 0.1

// spec is one measurement: a system, a message size and a rate.
type spec struct {
	sys      system
	size     int
	rate     float64 // messages per second; 0 = as fast as the publisher can
	duration time.Duration
	codec    string // feedbus: none, s2 or zstd (zstd with the trained dictionary)
	pgmRate  int    // PGM rate limit in kbit/s for feedbus and bare; 0 = feedbus's default
	auth     bool   // feedbus: --auth-key on both sides
	metrics  bool   // feedbus: --metrics on both sides, each scraped every second
	hlog     string // if set, the subscriber writes its latency interval log here
	// lowLatency: tuned is tuned for latency rather than throughput.
	lowLatency bool
}

// expected is the interval between messages the publisher aims for.
func (sp spec) expected() time.Duration {
	if sp.rate <= 0 {
		return 0
	}
	return time.Duration(math.Round(1e9 / sp.rate))
}

func (sp spec) String() string {
	s := fmt.Sprintf("%s %dB", sp.sys, sp.size)
	if sp.sys.isFeedbus() && sp.codec != "" && sp.codec != "none" {
		s += " " + sp.codec
	}
	if sp.pgmRate > 0 {
		s += fmt.Sprintf(" pgm-rate %d", sp.pgmRate)
	}
	if sp.auth {
		s += " auth-key"
	}
	if sp.metrics {
		s += " metrics"
	}
	if sp.lowLatency {
		s += " (for latency)"
	}
	if sp.rate > 0 {
		return s + " at " + thousands(sp.rate) + " msg/s"
	}
	return s + " at rate 0"
}

// sample is the outcome of one measurement.
type sample struct {
	spec spec

	sent      uint64 // messages the publisher handed to its socket
	wireBytes uint64 // feedbus: bytes of data frames sent, after compression
	frames    uint64 // feedbus: data frames sent
	received  uint64
	elapsedS  float64 // subscriber's first to last message
	msgsPerS  float64
	mbitPerS  float64 // market-message bytes (padding included), no framing
	// lost is what the subscriber knows it missed between its first and
	// last message: skipped sequence numbers (bare, wire), gaps (feedbus).
	lost  uint64
	holes uint64 // runs of lost messages

	// feedbus only, from feedsub's summary
	pending, late, sessions, malformed, dropped uint64
	// feedbus only: frames feedpub dropped because line A's queue was full
	// (--on-full drop), from its last lines
	pubFull uint64

	endReason string
	lat       latency.Percentiles
	corrected *latency.Percentiles // with spec.expected(), if the rate was set
	negative  uint64               // messages that arrived before they were sent

	busyBefore float64 // share of all CPUs in use just before, by anything
	during     window  // CPU use while the publisher sent

	// UDP datagrams during the measurement, from the namespaces'
	// /proc/net/snmp: sent by the publisher's host, received by the
	// subscriber's, and dropped there because the socket buffer was full.
	udpOut, udpIn, udpRcvbufErrors uint64
	// backlogDrops are packets the kernel dropped for a full per-CPU
	// input queue (/proc/net/softnet_stat, all namespaces), e.g. between
	// the veths and the bridge.
	backlogDrops uint64
	// txBytes is what the publisher's lab NIC sent (/proc/net/dev), all
	// headers, repairs and heartbeats included.
	txBytes uint64
	// scrapes of feedpub's and feedsub's /metrics that were answered and
	// that failed, in a --metrics run.
	scrapes, scrapeFailures int

	cmds []string // subscriber and publisher command lines
}

func (s sample) brief() string {
	return fmt.Sprintf("%s msg/s %7.1f Mbit/s  sent %s received %s lost %d  pub %s  sub %s",
		thousands(s.msgsPerS), s.mbitPerS, thousands(float64(s.sent)), thousands(float64(s.received)), s.lost,
		s.during.pub.share(s.during.secs), s.during.sub.share(s.during.secs))
}

// achieved is the share of rate × duration a paced publisher must send
// for the run to count: below it the publisher could not keep the pace.
const achieved = 0.97

// verdict tells whether the subscriber got everything the publisher meant
// to send (no loss, received = sent) at the pace it was sent (the publisher
// sent rate × duration, the subscriber received at the rate), and if not,
// why. The pace matters because a publisher's queue can hold a whole short
// run (feedpub's 10,000 frames are 210,000 64-byte messages) and drain it
// after the data phase.
func (s sample) verdict() (bool, string) {
	sp := s.spec
	switch {
	case s.sent == 0:
		return false, "publisher's sent count unknown"
	case s.lost > 0:
		return false, fmt.Sprintf("lost %s", thousands(float64(s.lost)))
	case s.received < s.sent:
		return false, fmt.Sprintf("received %s of %s", thousands(float64(s.received)), thousands(float64(s.sent)))
	case s.received > s.sent:
		return false, fmt.Sprintf("received %s, more than the %s sent", thousands(float64(s.received)), thousands(float64(s.sent)))
	case sp.sys.isFeedbus() && s.dropped > 0:
		return false, fmt.Sprintf("feedsub's workers dropped %s", thousands(float64(s.dropped)))
	case sp.sys.isFeedbus() && (s.pending > 0 || s.late > 0 || s.sessions != 1 || s.malformed > 0):
		return false, fmt.Sprintf("pending %d, late %d, sessions %d, malformed %d", s.pending, s.late, s.sessions, s.malformed)
	case sp.rate > 0 && float64(s.sent) < achieved*sp.rate*sp.duration.Seconds():
		return false, fmt.Sprintf("publisher sent only %.0f%% of rate × duration", 100*float64(s.sent)/(sp.rate*sp.duration.Seconds()))
	case sp.rate > 0 && s.msgsPerS < achieved*sp.rate:
		return false, fmt.Sprintf("subscriber received at only %.0f%% of the rate", 100*s.msgsPerS/sp.rate)
	}
	return true, "clean"
}

// shareOfTarget is what arrived ÷ what a paced run meant to send (rate ×
// duration), or received ÷ sent at --rate 0; NaN if unknown.
func (s sample) shareOfTarget() float64 {
	if s.spec.rate > 0 {
		return float64(s.received) / (s.spec.rate * s.spec.duration.Seconds())
	}
	return s.deliveredFrac()
}

// deliveredFrac is received ÷ sent, NaN if sent is unknown.
func (s sample) deliveredFrac() float64 {
	if s.sent == 0 {
		return math.NaN()
	}
	return float64(s.received) / float64(s.sent)
}

// bytesPerMsg is what feedbus put on the wire per message, frame header
// included, after compression; NaN if unknown.
func (s sample) bytesPerMsg() float64 {
	if s.wireBytes == 0 || s.sent == 0 {
		return math.NaN()
	}
	return float64(s.wireBytes) / float64(s.sent)
}

// plan is how one measurement runs its two programs.
type plan struct {
	pubBin, subBin   string // program names in the build directory
	pubDesc, subDesc string // for messages
	pubArgs, subArgs []string
	joined           func(stderrLine string) bool // the subscriber's ready line
	sentPrefix       string                       // starts a baseline publisher's "sent N messages" line
	pubJSON          string                       // feedpub's --json summary, read instead of its stderr
}

func (b *bench) plan(sp spec, out string) plan {
	pubHost, subHost := b.lab.Pub(), b.lab.Subs()[0]
	scheme := "epgm"
	if sp.sys.isUDP() {
		scheme = "udp"
	}
	pubEP, subEP := b.lab.Endpoint(scheme, pubHost, 0), b.lab.Endpoint(scheme, subHost, 0)
	dur, size, rate := sp.duration.String(), strconv.Itoa(sp.size), strconv.FormatFloat(sp.rate, 'f', -1, 64)
	latFlags := func(prefix string) []string {
		var a []string
		if sp.hlog != "" {
			a = append(a, prefix+"hlog", sp.hlog)
		}
		if sp.rate > 0 {
			a = append(a, prefix+"expected-interval", sp.expected().String())
		}
		return a
	}
	pgm := func(prefix string) []string {
		if sp.pgmRate > 0 {
			return []string{prefix + "pgm-rate", strconv.Itoa(sp.pgmRate)}
		}
		return nil
	}
	switch sp.sys {
	case bare:
		return plan{
			pubBin: "barepair", subBin: "barepair", pubDesc: "barepair pub", subDesc: "barepair sub",
			subArgs: append(append([]string{"-mode", "sub", "-endpoint", subEP, "-idle", idle.String(), "-json", out}, latFlags("-")...), pgm("-")...),
			pubArgs: append([]string{"-mode", "pub", "-endpoint", pubEP, "-size", size, "-rate", rate, "-duration", dur, "-warmup", warmup.String(), "-linger", linger.String()}, pgm("-")...),
			joined: func(s string) bool {
				return strings.HasPrefix(s, "barepair: sub ") && strings.HasSuffix(s, " joined")
			},
			sentPrefix: "barepair: sent ",
		}
	case wire:
		group := b.lab.Group(0).String()
		return plan{
			pubBin: "udpwire", subBin: "udpwire", pubDesc: "udpwire send", subDesc: "udpwire recv",
			subArgs: append([]string{"-mode", "recv", "-group", group, "-iface", subHost.NICs[0].Addr.String(), "-idle", idle.String(), "-json", out}, latFlags("-")...),
			// Messages packed into datagrams of feedbus's frame budget,
			// so the baseline batches as feedbus does.
			pubArgs: []string{"-mode", "send", "-group", group, "-iface", pubHost.NICs[0].Addr.String(), "-size", size, "-pack", strconv.Itoa(wirePack(sp.size)),
				"-rate", rate, "-duration", dur, "-warmup", warmup.String(), "-linger", linger.String()},
			joined: func(s string) bool {
				return strings.HasPrefix(s, "udpwire: recv ") && strings.HasSuffix(s, " joined")
			},
			sentPrefix: "udpwire: sent ",
		}
	}
	pubJSON := out + ".feedpub.json"
	subArgs := []string{"--line", subEP, "--idle", idle.String(), "--json", out, "--books", "0"}
	pubArgs := []string{"--line", pubEP, "--rate", rate, "--duration", dur, "--warmup", warmup.String(), "--linger", linger.String(), "--size", size, "--json", pubJSON}
	if sp.codec != "" && sp.codec != "none" {
		pubArgs = append(pubArgs, "--compress", sp.codec)
		subArgs = append(subArgs, "--codecs", sp.codec)
		if sp.codec == "zstd" {
			pubArgs = append(pubArgs, "--zstd-dict", b.dict)
			subArgs = append(subArgs, "--zstd-dict", b.dict)
		}
	}
	if sp.auth {
		pubArgs = append(pubArgs, "--auth-key", b.keys)
		subArgs = append(subArgs, "--auth-key", b.keys)
	}
	if sp.metrics {
		pubArgs = append(pubArgs, "--metrics", metricsAddr)
		subArgs = append(subArgs, "--metrics", metricsAddr)
	}
	switch sp.sys {
	case tuned:
		pub, sub := tunedFlags(sp.lowLatency, runtime.NumCPU())
		pubArgs, subArgs = append(pubArgs, pub...), append(subArgs, sub...)
	case udpTuned:
		pub, sub := latencyFlags(runtime.NumCPU())
		pubArgs, subArgs = append(pubArgs, pub...), append(subArgs, sub...)
	}
	return plan{
		pubBin: "feedpub", subBin: "feedsub", pubDesc: "feedpub", subDesc: "feedsub",
		subArgs: append(append(subArgs, latFlags("--")...), pgm("--")...),
		pubArgs: append(pubArgs, pgm("--")...),
		joined: func(s string) bool {
			return strings.HasPrefix(s, "feedsub: line A ") && strings.HasSuffix(s, " joined")
		},
		pubJSON: pubJSON,
	}
}

// wirePack is the wire baseline's datagram: as many messages of size as
// fit feedbus's default frame budget, one at least.
func wirePack(size int) int { return max(size, feedbusroot.DefaultFrameBytes/size*size) }

// tunedFrameBytes is the tuned publisher's frame budget: a frame per
// ZeroMQ message of up to 8 KiB instead of one TPDU, so the I/O threads
// handle a sixth as many messages and 1 KB messages share frames.
const tunedFrameBytes = 8192

// tunedSpin is the tuned subscriber's busy-poll budget for latency.
const tunedSpin = 10 * time.Millisecond

// tunedFlags returns the publisher's and the subscriber's flags of the
// tuned system, as the README's tuning section recommends: for throughput
// larger frames; for latency a busy-polling receive thread alone on the
// last CPU, and every other hot thread of both sides on CPU 0, so each
// hand-off between them is a wake-up on the same CPU.
func tunedFlags(lowLatency bool, cpus int) (pub, sub []string) {
	pub = []string{"--frame-bytes", strconv.Itoa(tunedFrameBytes)}
	if !lowLatency {
		return pub, nil
	}
	lp, sub := latencyFlags(cpus)
	return append(pub, lp...), sub
}

// latencyFlags are the latency tuning alone, for any lines: a busy-polling
// receive loop alone on the last CPU, and every other hot thread of both
// sides (I/O or udp:// receive threads, workers) on CPU 0.
func latencyFlags(cpus int) (pub, sub []string) {
	sub = []string{"--spin", tunedSpin.String()}
	if cpus >= 2 {
		last := strconv.Itoa(cpus - 1)
		pub = []string{"--pin-io", "0", "--pin-recv", "0"}
		sub = append(sub, "--pin-recv", last, "--pin-io", "0", "--pin-workers", "0")
	}
	return pub, sub
}

// measure runs one subscriber and one publisher as sp says and reads the
// subscriber's result. The subscriber starts first; the publisher starts
// once it has joined.
func (b *bench) measure(parent context.Context, sp spec) (sample, error) {
	limit := warmup + sp.duration + idle + slack
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	pubHost, subHost := b.lab.Pub(), b.lab.Subs()[0]
	b.seq++
	out := filepath.Join(b.tmp, fmt.Sprintf("%03d-%s-%d.json", b.seq, sp.sys, sp.size))
	p := b.plan(sp, out)
	cmds := []string{commandLine(subHost, p.subBin, p.subArgs), commandLine(pubHost, p.pubBin, p.pubArgs)}
	var echo io.Writer
	if b.cfg.verbose {
		echo = b.stderr
	}
	busyBefore, err := machineBusy(ctx, b.proc, pause)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	pubNet0, err := readHost(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	subNet0, err := readHost(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	backlog0, err := backlogDrops(b.proc)
	if err != nil {
		return sample{}, err
	}
	sub, err := start(ctx, b.lab, subHost, p.subDesc, p.joined, echo, filepath.Join(b.bin, p.subBin), p.subArgs...)
	if err == nil && sp.sys.isFeedbus() {
		sub.accounts = []int{4, 5} // feedsub's "ended with loss" and "received nothing"
	}
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
	var scrapers []*scraper
	if sp.metrics {
		scrapers = []*scraper{b.scrape(ctx, subHost, sub), b.scrape(ctx, pubHost, pub)}
	}
	// Sample CPU use over the middle 80% of the data phase.
	during := make(chan window, 1)
	go func() {
		w := window{busy: math.NaN()}
		select {
		case <-ctx.Done():
		case <-time.After(warmup + sp.duration/10):
			w = sampleWindow(ctx, b.proc, pub, sub, sp.duration*8/10)
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
	pubNet, err := readHost(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	subNet, err := readHost(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, interrupted(parent, err)
	}
	backlog, err := backlogDrops(b.proc)
	if err != nil {
		return sample{}, err
	}

	pubUDP, subUDP := pubNet.udp.minus(pubNet0.udp), subNet.udp.minus(subNet0.udp)
	s := sample{spec: sp, busyBefore: busyBefore, during: w, cmds: cmds,
		udpOut:          pubUDP.out,
		udpIn:           subUDP.in,
		udpRcvbufErrors: subUDP.rcvbufErrors,
		backlogDrops:    backlog - backlog0,
		txBytes:         pubNet.txBytes - pubNet0.txBytes,
	}
	for _, sc := range scrapers {
		ok, failed, err := sc.result()
		if err != nil {
			return sample{}, err
		}
		s.scrapes, s.scrapeFailures = s.scrapes+ok, s.scrapeFailures+failed
	}
	if sp.sys.isFeedbus() {
		err = readFeedsub(out, &s, b.stderr)
	} else {
		err = readBaseline(out, &s)
	}
	if err != nil {
		return sample{}, err
	}
	s.mbitPerS = s.msgsPerS * float64(sp.size) * 8 / 1e6
	if s.received == 0 || s.elapsedS <= 0 {
		return sample{}, sub.failure(fmt.Errorf("received %d messages in %.3fs (ended by %s); publisher: %s",
			s.received, s.elapsedS, s.endReason, strings.Join(pub.lines(), "; ")))
	}
	if p.pubJSON != "" {
		err = readFeedpub(p.pubJSON, &s)
	} else {
		err = parseSent(pub.line(p.sentPrefix), sp.sys, &s)
	}
	if err != nil {
		// Only the verdict needs it, and says "unknown" without it.
		fmt.Fprintf(b.stderr, "feedbench: warning: %s: %v\n", pub.desc, err)
	}
	return s, nil
}

// readFeedpub reads feedpub's --json summary: the messages line A's socket
// took (frames dropped on a full line are not sent), the frames and bytes,
// and the drops.
func readFeedpub(path string, s *sample) error {
	p, err := summary.ReadPublisherJSONFile(path)
	if err != nil {
		return err
	}
	if len(p.Lines) == 0 {
		return fmt.Errorf("%s: no lines", path)
	}
	s.sent, s.frames, s.wireBytes, s.pubFull = p.Lines[0].Messages, p.Frames, p.WireBytes, p.Lines[0].DroppedFrames
	return nil
}

// parseSent reads a baseline publisher's last line: how many messages it
// sent.
func parseSent(line string, sys system, s *sample) error {
	var err error
	switch sys {
	case bare:
		_, err = fmt.Sscanf(line, "barepair: sent %d messages", &s.sent)
	case wire:
		_, err = fmt.Sscanf(line, "udpwire: sent %d messages", &s.sent)
	default:
		return fmt.Errorf("%v: read the publisher's --json summary, not its stderr", sys)
	}
	if err != nil {
		return fmt.Errorf("no message count in %q: %w", line, err)
	}
	return nil
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
func sampleWindow(ctx context.Context, fs procfs.FS, pub, sub *proc, d time.Duration) window {
	w := window{busy: math.NaN()}
	busy0, total0, err0 := machineCPU(fs)
	pub0, err1 := pub.cpu(fs)
	sub0, err2 := sub.cpu(fs)
	start := time.Now()
	if err0 != nil || err1 != nil || err2 != nil {
		return w
	}
	select {
	case <-ctx.Done():
		return w
	case <-time.After(d):
	}
	busy1, total1, err0 := machineCPU(fs)
	pub1, err1 := pub.cpu(fs)
	sub1, err2 := sub.cpu(fs)
	if err0 != nil || err1 != nil || err2 != nil || total1 <= total0 {
		return w
	}
	w.secs = time.Since(start).Seconds()
	w.busy = (busy1 - busy0) / (total1 - total0)
	w.pub, w.sub = pub1.minus(pub0), sub1.minus(sub0)
	return w
}

// machineBusy returns the share of all CPUs that was in use (not idle or
// waiting for I/O) over the next d, from /proc/stat.
func machineBusy(ctx context.Context, fs procfs.FS, d time.Duration) (float64, error) {
	busy0, total0, err := machineCPU(fs)
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	busy1, total1, err := machineCPU(fs)
	if err != nil {
		return 0, err
	}
	if total1 <= total0 {
		return 0, nil
	}
	return (busy1 - busy0) / (total1 - total0), nil
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

// wireMbit is the average rate at which the publisher's NIC sent during
// the data phase, in Mbit/s.
func (s sample) wireMbit() float64 {
	return float64(s.txBytes) * 8 / s.spec.duration.Seconds() / 1e6
}

// baselineResult is the part of barepair's and udpwire's -json that
// feedbench reads; the two write the same fields.
type baselineResult struct {
	Received           uint64               `json:"received"`
	ElapsedS           float64              `json:"elapsed_s"`
	MsgsPerS           float64              `json:"msgs_per_s"`
	Lost               uint64               `json:"lost"`
	Holes              uint64               `json:"holes"`
	Malformed          uint64               `json:"malformed"`
	NegativeLatency    uint64               `json:"negative_latency"`
	LatencyUS          latency.Percentiles  `json:"latency_us"`
	LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us"`
	EndReason          string               `json:"end_reason"`
}

func readBaseline(path string, s *sample) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s result: %w", s.spec.sys, err)
	}
	var r baselineResult
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s result %s: %w", s.spec.sys, path, err)
	}
	s.received, s.elapsedS, s.msgsPerS = r.Received, r.ElapsedS, r.MsgsPerS
	s.lost, s.holes, s.malformed, s.endReason = r.Lost, r.Holes, r.Malformed, r.EndReason
	s.lat, s.corrected, s.negative = r.LatencyUS, r.LatencyCorrectedUS, r.NegativeLatency
	return nil
}

func readFeedsub(path string, s *sample, warn io.Writer) error {
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
	s.pending, s.late, s.sessions, s.malformed, s.dropped = r.Pending, r.Late, r.Sessions, r.Malformed, r.Dropped
	s.endReason, s.lat, s.corrected, s.negative = r.EndReason, r.LatencyUS, r.LatencyCorrectedUS, r.NegativeLatency
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
		Received           uint64               `json:"received"`
		Gaps               uint64               `json:"gaps"`
		GapEvents          uint64               `json:"gap_events"`
		Late               uint64               `json:"late"`
		Pending            uint64               `json:"pending"`
		Malformed          uint64               `json:"malformed"`
		Sessions           uint64               `json:"sessions"`
		Dropped            uint64               `json:"dropped"`
		NegativeLatency    uint64               `json:"negative_latency"`
		ElapsedS           float64              `json:"elapsed_s"`
		MsgsPerS           float64              `json:"msgs_per_s"`
		LatencyUS          latency.Percentiles  `json:"latency_us"`
		LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us"`
		EndReason          string               `json:"end_reason"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("feedsub summary %s: %w", path, err)
	}
	return &summary.Summary{Received: f.Received, Gaps: f.Gaps, GapEvents: f.GapEvents, Late: f.Late, Pending: f.Pending,
		Malformed: f.Malformed, Sessions: f.Sessions, Dropped: f.Dropped, NegativeLatency: f.NegativeLatency,
		ElapsedS: f.ElapsedS, MsgsPerS: f.MsgsPerS, LatencyUS: f.LatencyUS, LatencyCorrectedUS: f.LatencyCorrectedUS, EndReason: f.EndReason}, nil
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
