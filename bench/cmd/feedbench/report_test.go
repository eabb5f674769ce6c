package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
)

func TestParseSent(t *testing.T) {
	var s sample
	path := filepath.Join(t.TempDir(), "pub.json")
	pub := &summary.Publisher{Messages: 20000, Frames: 1569, WireBytes: 1342120,
		Lines: []summary.PublisherLine{{Name: "A", Messages: 19990, DroppedFrames: 1, DroppedMessages: 10}}}
	if err := summary.WriteJSONFile(path, pub); err != nil {
		t.Fatal(err)
	}
	if err := readFeedpub(path, &s); err != nil {
		t.Fatal(err)
	}
	if s.sent != 19990 || s.frames != 1569 || s.wireBytes != 1342120 || s.pubFull != 1 {
		t.Errorf("feedpub: sent %d frames %d bytes %d full %d", s.sent, s.frames, s.wireBytes, s.pubFull)
	}
	if err := parseSent("feedpub: published 1 messages", feedbus, &s); err == nil {
		t.Errorf("parseSent read feedpub's stderr; it must use --json")
	}
	s = sample{}
	if err := parseSent("barepair: sent 4774848 messages (0 refused with EAGAIN) in 2.00s (2387422 msg/s)", bare, &s); err != nil || s.sent != 4774848 {
		t.Errorf("barepair: sent %d, %v", s.sent, err)
	}
	s = sample{}
	if err := parseSent("udpwire: sent 19995 messages (0 dropped with ENOBUFS) in 3092 sendmmsg calls in 2.00s (9994 msg/s)", wire, &s); err != nil || s.sent != 19995 {
		t.Errorf("udpwire: sent %d, %v", s.sent, err)
	}
	if err := parseSent("", wire, &s); err == nil {
		t.Errorf("no error for a missing line")
	}
}

// fakeResults is a complete suite's results, made up.
func fakeResults(t *testing.T) *results {
	t.Helper()
	cfg := &config{sizes: sizes{64, 1024}, duration: 2500 * time.Millisecond, iterations: 5, latDuration: 4 * time.Second, pgmLimit: 20000, args: []string{"-out", "RESULTS.md"}}
	mk := func(sys system, size int, rates []float64, capacity float64) *searchResult {
		r := &searchResult{base: spec{sys: sys, size: size, duration: cfg.duration},
			offered: sample{spec: spec{sys: sys, size: size, duration: cfg.duration}, sent: 10_000_000, received: 2_000_000, msgsPerS: capacity * 1.2, lost: 8_000_000}}
		for _, rate := range rates {
			n := uint64(rate * cfg.duration.Seconds())
			s := sample{spec: spec{sys: sys, size: size, rate: rate, duration: cfg.duration}, sent: n, received: n, sessions: 1, msgsPerS: rate, frames: n / 20, wireBytes: n * 66,
				during: window{secs: 2, busy: 0.95, pub: cpuTime{app: 1900 * time.Millisecond, io: time.Second}, sub: cpuTime{app: time.Second}}}
			if rate > capacity {
				s.lost, s.received = n/10, n-n/10
				s.udpOut, s.udpIn = 1000, 1000
			}
			clean, why := s.verdict()
			r.steps = append(r.steps, step{sample: s, clean: clean, why: why})
		}
		return r
	}
	res := &results{machine: machine{nproc: 2, cpu: "Test CPU", kernel: "6.0", zmq: "4.3.4", goVersion: "go1.26", bufMax: 16 << 20},
		cfg: cfg, date: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), took: 11 * time.Minute, plotsDir: "bench/results", dictBytes: 16384}
	res.sweep = map[int]map[system]*searchResult{
		64: {feedbus: mk(feedbus, 64, []float64{1.2e6, 8e5}, 8e5), tuned: mk(tuned, 64, []float64{1.2e6, 9e5, 1e6}, 1e6), udp: mk(udp, 64, []float64{2e6, 1.8e6}, 1.9e6),
			bare: mk(bare, 64, []float64{4e5, 3e5, 3.5e5}, 3.2e5), wire: mk(wire, 64, []float64{2e5, 2.5e5}, 2.2e5)},
		1024: {feedbus: mk(feedbus, 1024, []float64{9e4, 6e4}, 6.5e4), tuned: mk(tuned, 1024, []float64{9e4, 7e4}, 8e4), udp: mk(udp, 1024, []float64{1.9e5, 1.7e5}, 1.8e5),
			bare: mk(bare, 1024, []float64{1e5, 9e4}, 9.5e4), wire: mk(wire, 1024, []float64{1.5e5}, 2e5)},
	}
	for _, label := range latencyLabels() {
		for i, sys := range append(systems, udpTuned) {
			rate := labelRate(label)
			if label == "max" {
				if sys == udpTuned {
					continue
				}
				rate = res.sweep[64][sys].rate()
			}
			p := latency.Percentiles{Count: 40000, P50: 100 + 10*float64(i), P90: 150, P99: 300, P999: 1000, Max: 2000}
			if sys == udpTuned {
				p.P50 = 50
			}
			c := p
			c.P999 = 5000
			res.latency = append(res.latency, latencyRun{label: label, rep: 1, reps: 1, sample: sample{
				spec: spec{sys: sys, size: 64, rate: rate, duration: cfg.latDuration, hlog: filepath.Join("bench/results", hlogName(label, sys, 1, 1))},
				sent: uint64(rate * 4), received: uint64(rate * 4), sessions: 1, frames: uint64(rate * 4 / 10), msgsPerS: rate, lat: p, corrected: &c, cmds: []string{"sub " + string(sys), "pub " + string(sys)}}})
		}
	}
	res.limited = map[string]*searchResult{
		"bare": mk(bare, 64, []float64{3.5e4, 3e4}, 3.2e4), "none": mk(feedbus, 64, []float64{3.7e4, 3.5e4}, 3.6e4),
		"s2": mk(feedbus, 64, []float64{6e4, 5e4}, 5.5e4), "zstd": mk(feedbus, 64, []float64{9e4, 8e4}, 8.5e4),
	}
	res.cpu = map[string]*searchResult{"none": res.sweep[64][feedbus], "s2": mk(feedbus, 64, []float64{8e5, 7e5}, 7.5e5), "zstd": mk(feedbus, 64, []float64{5e5, 4e5}, 4.5e5)}
	res.pngs = []string{"bench/results/latency-64B-10k.png"}
	return res
}

func TestRender(t *testing.T) {
	res := fakeResults(t)
	text := res.render("results")
	for _, want := range []string{
		beginMarker, endMarker,
		"`cd bench && go run ./cmd/feedbench -out RESULTS.md` on 2026-11-22 03:00 UTC",
		"nproc 2, Test CPU",
		// 64 B: tuned 1M clean, bare 300k: 3.33×, holds; defaults 800k.
		"| 64-byte msgs/s, feedbus ≥ 2.5× bare pair | tuned 1,000,000 vs 300,000 msg/s: **3.33×**; with defaults 800,000, 2.67× | yes |",
		// 1024 B: tuned 70k, bare 90k: 0.78×, does not hold, with reasons.
		"| 1024-byte bytes/s, feedbus ≥ bare pair | tuned 573.4 vs 737.3 Mbit/s: **0.78×**; with defaults 491.5 Mbit/s, 0.67× | **no** |",
		"Why *1024-byte bytes/s, feedbus ≥ bare pair* does not hold",
		"feedbus: at 90,000 msg/s lost 22,500;",
		"its PUB socket dropped them at the high-water mark",
		"CPU-bound in the publisher's Go side (95%)",
		// p50: tuned 110µs vs bare 120µs; defaults 100µs.
		"tuned p50 110µs vs 130µs: **0.85×**",
		"with defaults p50 100µs (0.77×)",
		"| 64 B | 800,000 | 409.6 | 1,000,000 | 512.0 | 1,800,000 | 921.6 | 300,000 | 153.6 | 200,000 | 102.4 | 2.67× | **3.33×** | 5.00× | 2.25× | 9.00× |",
		"| 64-byte msgs/s, udp:// ≥ 2× EPGM (defaults) | 1,800,000 vs 800,000 msg/s: **2.25×** | yes |",
		"| p50 at 10k msg/s, udp:// ≤ 1.2× the UDP wire (defaults) | p50 120µs vs 140µs: **0.86×**",
		"| p50 at 10k msg/s, udp:// tuned ≤ 1.2× the UDP wire | p50 50µs vs 140µs: **0.36×**",
		"| 10,000 | feedbus udp:// tuned | 40,000 |",
		"1,200,000 ✗ lost 300,000 → 900,000 ✓ → 1,000,000 ✓",
		"[latency-64B-10k-feedbus.hlog](results/latency-64B-10k-feedbus.hlog)",
		"![latency-64B-10k.png](results/latency-64B-10k.png)",
		"| 20,000 kbit/s | feedbus zstd + dictionary | 80,000 | 2.29× | 2.67× |",
		"Compression pays under the 20,000 kbit/s PGM limit: s2 sustains 50,000 msg/s, 1.43× none's 35,000",
		"Compression costs at the default PGM limit: s2 sustains 700,000 msg/s, 0.88× none's 800,000",
		"Coordinated omission matters for feedbus at 10,000 msg/s",
		"feedpub --train-dict zstd-64B.dict --size 64",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestRenderShortWithoutBigSize(t *testing.T) {
	res := fakeResults(t)
	res.cfg.sizes, res.cfg.short = sizes{64}, true
	delete(res.sweep, 1024)
	text := res.render("/tmp/x")
	for _, want := range []string{"-short: a check that the pipeline works", "| 1024-byte bytes/s, feedbus ≥ bare pair | -size has no 1024 in this run | not measured |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestMedianLatency(t *testing.T) {
	var runs []latencyRun
	for _, p50 := range []float64{143, 106, 122} {
		runs = append(runs, latencyRun{sample: sample{lat: latency.Percentiles{P50: p50, P99: 2 * p50}}})
	}
	m, p50s := medianLatency(runs)
	if m.P50 != 122 || m.P99 != 244 || len(p50s) != 3 || p50s[0] != 143 {
		t.Errorf("median %+v, p50s %v", m, p50s)
	}
}
