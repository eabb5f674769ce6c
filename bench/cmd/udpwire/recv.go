package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/internal/latency"
	"golang.org/x/sys/unix"
)

// pollEvery bounds how long the receiver waits for a datagram before it
// looks at the clock and the context, as feedsub does.
const pollEvery = 50 * time.Millisecond

// counter tracks the sequence numbers of measured datagrams.
type counter struct {
	received  uint64
	first     uint64
	last      uint64 // highest seen
	lost      uint64 // sequence numbers skipped between first and last
	holes     uint64 // runs of skipped sequence numbers
	reordered uint64 // arrived at or below the highest seen
}

func (c *counter) add(seq uint64) {
	switch {
	case c.received == 0:
		c.first, c.last = seq, seq
	case seq > c.last:
		if seq > c.last+1 {
			c.lost += seq - c.last - 1
			c.holes++
		}
		c.last = seq
	default:
		c.reordered++
	}
	c.received++
}

// result is what the receiver writes with -json: the fields of barepair's
// result, latency as feedsub reports it, and the socket buffer granted.
type result struct {
	Received  uint64  `json:"received"`
	Bytes     uint64  `json:"bytes"`
	ElapsedS  float64 `json:"elapsed_s"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	MbitPerS  float64 `json:"mbit_per_s"`
	FirstSeq  uint64  `json:"first_seq"`
	LastSeq   uint64  `json:"last_seq"`
	Lost      uint64  `json:"lost"`
	Holes     uint64  `json:"holes"`
	Reordered uint64  `json:"reordered"`
	Markers   uint64  `json:"markers"`
	Malformed uint64  `json:"malformed"`
	// NegativeLatency counts datagrams that arrived before they were sent
	// by the clocks' reckoning.
	NegativeLatency    uint64               `json:"negative_latency"`
	LatencyUS          latency.Percentiles  `json:"latency_us"`
	LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us,omitempty"`
	ExpectedIntervalUS float64              `json:"expected_interval_us,omitempty"`
	RcvbufBytes        int                  `json:"rcvbuf_bytes"`
	EndReason          string               `json:"end_reason"`
}

// receive counts datagrams and records their latency until -idle passes
// without one (once data has arrived), -wait passes without any, or ctx
// ends.
func receive(ctx context.Context, c *config, stdout, stderr io.Writer) (err error) {
	fd, granted, err := openReceiver(c.group, c.iface, c.rcvbuf, pollEvery)
	if err != nil {
		return fmt.Errorf("receiver of %s on %s: %w", c.group, c.iface, err)
	}
	defer unix.Close(fd)
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
		if err := rec.LogTo(w, fmt.Sprintf("udpwire one-way latency, ns: %s on %s", c.group, c.iface), time.Now()); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "udpwire: recv %s on %s rcvbuf %d joined\n", c.group, c.iface, granted)

	b := newBatch(c.batch, maxSize)
	r := result{RcvbufBytes: granted}
	var cnt counter
	var first, last time.Time
	start := time.Now()
	nextTick := start.Add(c.status)
	for {
		if ctx.Err() != nil {
			r.EndReason = "signal"
			break
		}
		n, err := recvmmsg(fd, b.hdrs)
		now := time.Now()
		if err != nil {
			return fmt.Errorf("recvmmsg: %w", err)
		}
		ns := now.UnixNano()
		for i := range n {
			d := b.bufs[i][:b.hdrs[i].Len]
			seq, sent, err := decode(d)
			switch {
			case err != nil:
				r.Malformed++
				continue
			case seq == 0:
				r.Markers++
				continue
			}
			if cnt.received == 0 {
				first = now
			}
			last = now
			cnt.add(seq)
			r.Bytes += uint64(len(d))
			rec.Record(ns-sent, 1)
		}
		if !now.Before(nextTick) {
			rec.Interval(now)
			nextTick = now.Add(c.status)
		}
		if n > 0 {
			continue
		}
		if cnt.received > 0 && now.Sub(last) >= c.idle {
			r.EndReason = "idle"
			break
		}
		if cnt.received == 0 && now.Sub(start) >= c.wait {
			r.EndReason = "wait"
			break
		}
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

	r.Received, r.FirstSeq, r.LastSeq = cnt.received, cnt.first, cnt.last
	r.Lost, r.Holes, r.Reordered = cnt.lost, cnt.holes, cnt.reordered
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
	fmt.Fprintf(stdout, "udpwire: received %d messages (%d bytes) in %.2fs: %.0f msg/s, %.1f Mbit/s; lost %d in %d holes, reordered %d, malformed %d; latency p50 %s p99 %s p99.9 %s max %s; ended by %s\n",
		r.Received, r.Bytes, r.ElapsedS, r.MsgsPerS, r.MbitPerS, r.Lost, r.Holes, r.Reordered, r.Malformed,
		latency.Format(l.P50), latency.Format(l.P99), latency.Format(l.P999), latency.Format(l.Max), r.EndReason)
	if r.EndReason == "wait" {
		return fmt.Errorf("no data on %s within %v", c.group, c.wait)
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
