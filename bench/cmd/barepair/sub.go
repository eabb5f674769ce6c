package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bench/internal/baseline"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
	zmq "github.com/pebbe/zmq4"
)

// pollEvery bounds how long the subscriber waits for a message before it
// looks at the clock and the context, as feedsub does.
const pollEvery = 50 * time.Millisecond

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
	closeLog, err := baseline.OpenLog(c.hlog, "barepair one-way latency, ns: "+e.String(), rec)
	if err != nil {
		return err
	}
	poller := zmq.NewPoller()
	poller.Add(s.sock, zmq.POLLIN)
	fmt.Fprintf(stderr, "barepair: sub %s joined\n", e)

	var r baseline.Result
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
			if r.Received > 0 && now.Sub(r.Last()) >= c.idle {
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
		now := time.Now()
		rec.Record(now.UnixNano()-int64(binary.LittleEndian.Uint64(b[seqLen:])), 1)
		if !now.Before(nextTick) {
			rec.Interval(now)
			nextTick = now.Add(c.status)
		}
		r.Add(seq, len(b), now)
	}

	return r.Report(closeLog, rec, c.expected, c.json, stdout, "barepair", e.String(), c.wait)
}
