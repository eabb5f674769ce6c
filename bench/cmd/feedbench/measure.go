package main

import (
	"context"
	"encoding/json"
	"errors"
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
}

func (s sample) brief() string {
	return fmt.Sprintf("%s msg/s %7.1f Mbit/s  sent %s received %s lost %d  pub %s  sub %s",
		thousands(s.msgsPerS), s.mbitPerS, thousands(float64(s.sent)), thousands(float64(s.received)), s.lost,
		s.pubCPU.share(s.pubSecs), s.subCPU.share(s.elapsedS))
}

// measure runs one subscriber and one publisher of kind k and reads the
// subscriber's result. The subscriber starts first; the publisher starts
// once it has joined.
func (b *bench) measure(ctx context.Context, k kind, size, run int) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, warmup+b.cfg.duration+idle+slack)
	defer cancel()
	pubHost, subHost := b.lab.Pub(), b.lab.Subs()[0]
	pubEP, subEP := b.lab.Endpoint("epgm", pubHost, 0), b.lab.Endpoint("epgm", subHost, 0)
	out := filepath.Join(b.tmp, fmt.Sprintf("%s-%d-%d.json", k, size, run))
	dur, sz := b.cfg.duration.String(), strconv.Itoa(size)

	var pubBin, subBin string
	var pubArgs, subArgs []string
	var joined func(string) bool
	switch k {
	case bare:
		pubBin, subBin = "barepair", "barepair"
		subArgs = []string{"-mode", "sub", "-endpoint", subEP, "-idle", idle.String(), "-json", out}
		pubArgs = []string{"-mode", "pub", "-endpoint", pubEP, "-size", sz, "-duration", dur, "-warmup", warmup.String()}
		joined = func(s string) bool { return strings.HasPrefix(s, "barepair: sub ") && strings.HasSuffix(s, " joined") }
	case feedbus:
		pubBin, subBin = "feedpub", "feedsub"
		subArgs = []string{"--line", subEP, "--idle", idle.String(), "--json", out}
		pubArgs = []string{"--line", pubEP, "--rate", "0", "--duration", dur, "--warmup", warmup.String(), "--size", sz}
		joined = func(s string) bool {
			return strings.HasPrefix(s, "feedsub: line A ") && strings.HasSuffix(s, " joined")
		}
	}
	if b.cmds == nil {
		b.cmds = map[kind][]string{}
	}
	b.cmds[k] = []string{commandLine(subHost, subBin, subArgs), commandLine(pubHost, pubBin, pubArgs)}

	var echo io.Writer
	if b.cfg.verbose {
		echo = b.stderr
	}
	os.Remove(out)
	sub, err := start(ctx, b.lab, subHost, string(k)+" "+subBin, joined, echo, filepath.Join(b.bin, subBin), subArgs...)
	if err != nil {
		return sample{}, err
	}
	if err := sub.waitReady(joinTimeout); err != nil {
		cancel()
		sub.wait()
		return sample{}, err
	}
	pub, err := start(ctx, b.lab, pubHost, string(k)+" "+pubBin, nil, echo, filepath.Join(b.bin, pubBin), pubArgs...)
	if err != nil {
		cancel()
		sub.wait()
		return sample{}, err
	}
	perr := pub.wait()
	if perr != nil {
		cancel() // the subscriber would wait for data that never comes
	}
	serr := sub.wait()
	if err := errors.Join(perr, serr); err != nil {
		return sample{}, err
	}
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}

	s := sample{kind: k, run: run, pubCPU: pub.cpu(), subCPU: sub.cpu(), pubSecs: b.cfg.duration.Seconds()}
	var sentLine string
	switch k {
	case bare:
		err = readBare(out, &s)
		sentLine = pub.line("barepair: sent ")
		_, serr = fmt.Sscanf(sentLine, "barepair: sent %d messages", &s.sent)
	case feedbus:
		err = readFeedsub(out, size, &s)
		sentLine = pub.line("feedpub: sent ")
		_, serr = fmt.Sscanf(sentLine, "feedpub: sent %d messages", &s.sent)
	}
	if err != nil {
		return sample{}, err
	}
	if serr != nil {
		return sample{}, fmt.Errorf("%s: no message count in its stderr line %q: %w", pub.desc, sentLine, serr)
	}
	if s.received == 0 || s.elapsedS <= 0 {
		return sample{}, fmt.Errorf("%s received %d messages in %.3fs; the publisher sent %d", sub.desc, s.received, s.elapsedS, s.sent)
	}
	select {
	case <-ctx.Done():
		return sample{}, ctx.Err()
	case <-time.After(pause):
	}
	return s, nil
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
