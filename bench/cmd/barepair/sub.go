package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedbus/feedbus/bus"
	zmq "github.com/pebbe/zmq4"
)

// pollEvery bounds how long the subscriber waits for a message before it
// looks at the clock and the context, as feedsub does.
const pollEvery = 50 * time.Millisecond

// result is what the subscriber writes with -json. Counts are measured
// messages (markers excluded); elapsed runs from the first to the last.
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
	Malformed uint64  `json:"malformed"` // shorter than a sequence number
	EndReason string  `json:"end_reason"`
}

// subscribe counts messages until -idle passes without one (once data has
// arrived), -wait passes without any, or ctx ends. Like bus.Subscriber it
// receives with DONTWAIT and polls only when nothing is queued.
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
	poller := zmq.NewPoller()
	poller.Add(s.sock, zmq.POLLIN)
	fmt.Fprintf(stderr, "barepair: sub %s joined\n", e)

	var r result
	var first, last time.Time
	start := time.Now()
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
		if len(b) < seqLen {
			r.Malformed++
			continue
		}
		seq := binary.LittleEndian.Uint64(b)
		if seq == 0 {
			r.Markers++
			continue
		}
		last = time.Now()
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

	if r.ElapsedS = last.Sub(first).Seconds(); r.Received > 0 && r.ElapsedS > 0 {
		r.MsgsPerS = float64(r.Received) / r.ElapsedS
		r.MbitPerS = float64(r.Bytes) * 8 / r.ElapsedS / 1e6
	}
	if c.json != "" {
		if err := writeJSON(c.json, &r); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "barepair: received %d messages (%d bytes) in %.2fs: %.0f msg/s, %.1f Mbit/s; lost %d in %d holes, reordered %d, malformed %d; ended by %s\n",
		r.Received, r.Bytes, r.ElapsedS, r.MsgsPerS, r.MbitPerS, r.Lost, r.Holes, r.Reordered, r.Malformed, r.EndReason)
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
