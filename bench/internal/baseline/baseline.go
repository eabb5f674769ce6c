// Package baseline is what feedbench's two baselines, barepair (bare
// ZeroMQ) and udpwire (plain UDP), share on the receiving side: counting
// sequence numbers, recording latency as feedsub does, and the result they
// write with -json. Keeping it in one place keeps the two comparable.
//
// A Counter, Result or the log returned by OpenLog belongs to one goroutine.
package baseline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/internal/latency"
)

// Result is what a baseline receiver writes with -json. Counts are measured
// messages (markers excluded); elapsed runs from the first to the last.
// Latency is as feedsub reports it. feedbench reads these field names.
type Result struct {
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
	Malformed uint64  `json:"malformed"` // too short to hold the header
	// NegativeLatency counts messages that arrived before they were sent
	// by the clocks' reckoning.
	NegativeLatency    uint64               `json:"negative_latency"`
	LatencyUS          latency.Percentiles  `json:"latency_us"`
	LatencyCorrectedUS *latency.Percentiles `json:"latency_corrected_us,omitempty"`
	ExpectedIntervalUS float64              `json:"expected_interval_us,omitempty"`
	RcvbufBytes        int                  `json:"rcvbuf_bytes,omitempty"` // udpwire: the socket buffer granted
	EndReason          string               `json:"end_reason"`

	first, last time.Time
}

// Add counts one measured message of n bytes with sequence number seq,
// received at now.
func (r *Result) Add(seq uint64, n int, now time.Time) {
	switch {
	case r.Received == 0:
		r.FirstSeq, r.LastSeq = seq, seq
		r.first = now
	case seq > r.LastSeq:
		if seq > r.LastSeq+1 {
			r.Lost += seq - r.LastSeq - 1
			r.Holes++
		}
		r.LastSeq = seq
	default:
		r.Reordered++
	}
	r.last = now
	r.Received++
	r.Bytes += uint64(n)
}

// Last is when the last measured message arrived (zero before the first).
func (r *Result) Last() time.Time { return r.last }

// Finish fills in the rates and the latency from rec; a positive expected
// interval adds latency corrected for coordinated omission.
func (r *Result) Finish(rec *latency.Recorder, expected time.Duration) {
	r.NegativeLatency = rec.Negative()
	r.LatencyUS = rec.Summary()
	if expected > 0 {
		p := rec.Corrected(expected.Nanoseconds())
		r.LatencyCorrectedUS = &p
		r.ExpectedIntervalUS = float64(expected.Nanoseconds()) / 1e3
	}
	if r.ElapsedS = r.last.Sub(r.first).Seconds(); r.Received > 0 && r.ElapsedS > 0 {
		r.MsgsPerS = float64(r.Received) / r.ElapsedS
		r.MbitPerS = float64(r.Bytes) * 8 / r.ElapsedS / 1e6
	}
}

// WriteJSON writes r to path, indented.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	return nil
}

// Print writes the one-line human summary, prefixed with prog.
func (r *Result) Print(w io.Writer, prog string) {
	l := r.LatencyUS
	fmt.Fprintf(w, "%s: received %d messages (%d bytes) in %.2fs: %.0f msg/s, %.1f Mbit/s; lost %d in %d holes, reordered %d, malformed %d; latency p50 %s p99 %s p99.9 %s max %s; ended by %s\n",
		prog, r.Received, r.Bytes, r.ElapsedS, r.MsgsPerS, r.MbitPerS, r.Lost, r.Holes, r.Reordered, r.Malformed,
		latency.Format(l.P50), latency.Format(l.P99), latency.Format(l.P999), latency.Format(l.Max), r.EndReason)
}

// Report ends a receiver's run: it closes the interval log, finishes r,
// writes it as JSON to jsonPath (if set), prints the summary line prefixed
// with prog, and, if no data came at all (EndReason "wait"), returns an
// error naming source.
func (r *Result) Report(closeLog func() error, rec *latency.Recorder, expected time.Duration, jsonPath string, w io.Writer, prog, source string, wait time.Duration) error {
	if err := closeLog(); err != nil {
		return err
	}
	r.Finish(rec, expected)
	if jsonPath != "" {
		if err := r.WriteJSON(jsonPath); err != nil {
			return err
		}
	}
	r.Print(w, prog)
	if r.EndReason == "wait" {
		return fmt.Errorf("no data on %s within %v", source, wait)
	}
	return nil
}

// OpenLog starts rec's HdrHistogram interval log in path (nothing if path
// is empty). The returned close logs the last, partial interval, flushes
// and closes the file, and reports any error writing the log.
func OpenLog(path, comment string, rec *latency.Recorder) (close func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-hlog: %w", err)
	}
	w := bufio.NewWriter(f)
	if err := rec.LogTo(w, comment, time.Now()); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		rec.Interval(time.Now())
		if err := errors.Join(rec.LogErr(), w.Flush(), f.Close()); err != nil {
			return fmt.Errorf("-hlog %s: %w", path, err)
		}
		return nil
	}, nil
}
