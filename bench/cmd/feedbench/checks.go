package main

import (
	"fmt"
	"strings"

	"github.com/feedbus/feedbus/bus"
)

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
