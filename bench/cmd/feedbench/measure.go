package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
// the next.
const pause = 500 * time.Millisecond

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
	lost uint64

	// feedbus only, from feedsub's summary
	pending, late, sessions, malformed uint64
	endReason                          string

	pubCPU, subCPU cpuTime
	pubSecs        float64 // the publisher's data phase, for CPU use

	// UDP datagrams during the measurement, from the namespaces'
	// /proc/net/snmp: sent by the publisher's host, received by the
	// subscriber's, and dropped there because the socket buffer was full.
	udpOut, udpIn, udpRcvbufErrors uint64
}

func (s sample) brief() string {
	return fmt.Sprintf("%s msg/s %7.1f Mbit/s  sent %s received %s lost %d  pub %s  sub %s",
		thousands(s.msgsPerS), s.mbitPerS, thousands(float64(s.sent)), thousands(float64(s.received)), s.lost,
		s.pubCPU.share(s.pubSecs), s.subCPU.share(s.elapsedS))
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

	pubUDP0, err := udpCounters(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, err
	}
	subUDP0, err := udpCounters(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, err
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
	pubUDP, err := udpCounters(ctx, b.lab, pubHost)
	if err != nil {
		return sample{}, err
	}
	subUDP, err := udpCounters(ctx, b.lab, subHost)
	if err != nil {
		return sample{}, err
	}

	s := sample{kind: k, run: run, pubCPU: pub.cpu(), subCPU: sub.cpu(), pubSecs: b.cfg.duration.Seconds(),
		udpOut:          pubUDP["OutDatagrams"] - pubUDP0["OutDatagrams"],
		udpIn:           subUDP["InDatagrams"] - subUDP0["InDatagrams"],
		udpRcvbufErrors: subUDP["RcvbufErrors"] - subUDP0["RcvbufErrors"],
	}
	if k == bare {
		err = readBare(out, &s)
	} else {
		err = readFeedsub(out, size, &s)
	}
	if err != nil {
		return sample{}, err
	}
	if s.received == 0 || s.elapsedS <= 0 {
		return sample{}, fmt.Errorf("%s received %d messages in %.3fs", sub.desc, s.received, s.elapsedS)
	}
	line := pub.line(p.sentPrefix)
	if _, err := fmt.Sscanf(line, p.sentPrefix+"%d messages", &s.sent); err != nil {
		// Only "delivered" needs it; leave it unknown (0) rather than
		// lose the measurement.
		fmt.Fprintf(b.stderr, "feedbench: warning: %s printed no %q line with a message count; sent is unknown\n", pub.desc, p.sentPrefix+"N messages")
	}
	select {
	case <-parent.Done():
		return sample{}, interrupted(parent, parent.Err())
	case <-time.After(pause):
	}
	return s, nil
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
	s.received, s.elapsedS, s.msgsPerS, s.mbitPerS, s.lost, s.endReason = r.Received, r.ElapsedS, r.MsgsPerS, r.MbitPerS, r.Lost, r.EndReason
	return nil
}

func readFeedsub(path string, size int, s *sample) error {
	r, err := summary.ReadJSONFile(path)
	if err != nil {
		return fmt.Errorf("feedsub summary: %w", err)
	}
	s.received, s.elapsedS, s.msgsPerS, s.lost = r.Received, r.ElapsedS, r.MsgsPerS, r.Gaps
	s.mbitPerS = r.MsgsPerS * float64(size) * 8 / 1e6
	s.pending, s.late, s.sessions, s.malformed, s.endReason = r.Pending, r.Late, r.Sessions, r.Malformed, r.EndReason
	return nil
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
