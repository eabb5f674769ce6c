package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
	zmq "github.com/pebbe/zmq4"
)

// pollEvery bounds how long the subscriber waits for a message before it
// looks at the clock and the context, as feedsub does.
const pollEvery = 50 * time.Millisecond

// result is what the subscriber writes with -json. Counts are measured
// messages (markers excluded); elapsed runs from the first to the last.
// Latency is as feedsub reports it.
type result struct {
	Received  uint64  `json:"received"`
	Bytes     uint64  `json:"bytes"`
	ElapsedS  float64 `json:"elapsed_s"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	MbitPerS  float64 `json:"mbit_per_s"`
	FirstSeq  uint64  `json:"first_seq"`
	LastSeq   uint64  `json:"last_seq"`
	Lost      uint64  `json:"lost"`      // sequence numbers skipped between first and last
	Holes     uint64  `json:"holes"`     // runs of skipped sequence numbers
	Reordered uint64  `json:"reordered"` // arrived at or below the highest seen
	Markers   uint64  `json:"markers"`
	Malformed uint64  `json:"malformed"` // shorter than the header
	// NegativeLatency counts messages that arrived before they were sent
	// by the clocks' reckoning.
	NegativeLatency    uint64               `json:"negative_latency"`
	LatencyUS          latency.Percentiles  `json:"latency_us"`
	LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us,omitempty"`
	ExpectedIntervalUS float64              `json:"expected_interval_us,omitempty"`
	EndReason          string               `json:"end_reason"`
}

// subscribe counts messages and records their one-way latency with
// internal/latency, as feedsub does, until -idle passes without one (once
// data has arrived), -wait passes without any, or ctx ends. Like
// bus.Subscriber it receives with DONTWAIT and polls only when nothing is
// queued.
func subscribe(ctx context.Context, c *config, e bus.Endpoint, o *bus.Options, stdout, stderr io.Writer) (err error) {
	s, err := open(zmq.SUB, e, o)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()
	rec := latency.New()
	var flush func() error
	if c.hlog != "" {
		f, err := os.Create(c.hlog)
		if err != nil {
			return fmt.Errorf("-hlog: %w", err)
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		flush = w.Flush
		if err := rec.LogTo(w, "barepair one-way latency, ns: "+e.String(), time.Now()); err != nil {
			return err
		}
	}
	poller := zmq.NewPoller()
	poller.Add(s.sock, zmq.POLLIN)
	fmt.Fprintf(stderr, "barepair: sub %s joined\n", e)

	var r result
	var first, last time.Time
	start := time.Now()
	nextTick := start.Add(c.status)
	for {
		if ctx.Err() != nil {
			r.EndReason = "signal"
			break
		}
		b, err := s.sock.RecvBytes(zmq.DONTWAIT)
		if err != nil {
			if !isAgain(err) {
				return fmt.Errorf("receive: %w", err)
			}
			now := time.Now()
			if !now.Before(nextTick) {
				rec.Interval(now)
				nextTick = now.Add(c.status)
			}
			if r.Received > 0 && now.Sub(last) >= c.idle {
				r.EndReason = "idle"
				break
			}
			if r.Received == 0 && now.Sub(start) >= c.wait {
				r.EndReason = "wait"
				break
			}
			if _, err := poller.Poll(pollEvery); err != nil {
				return fmt.Errorf("poll: %w", err)
			}
			continue
		}
		if len(b) < headerLen {
			r.Malformed++
			continue
		}
		seq := binary.LittleEndian.Uint64(b)
		if seq == 0 {
			r.Markers++
			continue
		}
		last = time.Now()
		rec.Record(last.UnixNano()-int64(binary.LittleEndian.Uint64(b[seqLen:])), 1)
		if !last.Before(nextTick) {
			rec.Interval(last)
			nextTick = last.Add(c.status)
		}
		switch {
		case r.Received == 0:
			first = last
			r.FirstSeq = seq
			r.LastSeq = seq
		case seq > r.LastSeq:
			if seq > r.LastSeq+1 {
				r.Lost += seq - r.LastSeq - 1
				r.Holes++
			}
			r.LastSeq = seq
		default:
			r.Reordered++
		}
		r.Received++
		r.Bytes += uint64(len(b))
	}

	if flush != nil {
		rec.Interval(time.Now()) // the last, partial interval
		if err := rec.LogErr(); err != nil {
			return fmt.Errorf("-hlog: %w", err)
		}
		if err := flush(); err != nil {
			return fmt.Errorf("-hlog: %w", err)
		}
	}
	r.NegativeLatency = rec.Negative()
	r.LatencyUS = rec.Summary()
	if c.expected > 0 {
		p := rec.Corrected(c.expected.Nanoseconds())
		r.LatencyCorrectedUS = &p
		r.ExpectedIntervalUS = float64(c.expected.Nanoseconds()) / 1e3
	}
	if r.ElapsedS = last.Sub(first).Seconds(); r.Received > 0 && r.ElapsedS > 0 {
		r.MsgsPerS = float64(r.Received) / r.ElapsedS
		r.MbitPerS = float64(r.Bytes) * 8 / r.ElapsedS / 1e6
	}
	if c.json != "" {
		if err := writeJSON(c.json, &r); err != nil {
			return err
		}
	}
	l := r.LatencyUS
	fmt.Fprintf(stdout, "barepair: received %d messages (%d bytes) in %.2fs: %.0f msg/s, %.1f Mbit/s; lost %d in %d holes, reordered %d, malformed %d; latency p50 %s p99 %s p99.9 %s max %s; ended by %s\n",
		r.Received, r.Bytes, r.ElapsedS, r.MsgsPerS, r.MbitPerS, r.Lost, r.Holes, r.Reordered, r.Malformed,
		latency.Format(l.P50), latency.Format(l.P99), latency.Format(l.P999), latency.Format(l.Max), r.EndReason)
	if r.EndReason == "wait" {
		return fmt.Errorf("no data on %s within %v", e, c.wait)
	}
	return nil
}

func writeJSON(path string, r *result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	return nil
}
