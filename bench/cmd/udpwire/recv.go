package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bench/internal/baseline"
	"github.com/feedbus/feedbus/internal/latency"
	"golang.org/x/sys/unix"
)

// pollEvery bounds how long the receiver waits for a datagram before it
// looks at the clock and the context, as feedsub does.
const pollEvery = 50 * time.Millisecond

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
	closeLog, err := baseline.OpenLog(c.hlog, fmt.Sprintf("udpwire one-way latency, ns: %s on %s", c.group, c.iface), rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "udpwire: recv %s on %s rcvbuf %d joined\n", c.group, c.iface, granted)

	b := newBatch(c.batch, maxSize)
	r := baseline.Result{RcvbufBytes: granted}
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
			for len(d) > 0 {
				seq, sent, size, err := decode(d)
				switch {
				case err != nil:
					r.Malformed++
					d = nil
					continue
				case seq == 0:
					r.Markers++
				default:
					r.Add(seq, size, now)
					rec.Record(ns-sent, 1)
				}
				d = d[size:]
			}
		}
		if !now.Before(nextTick) {
			rec.Interval(now)
			nextTick = now.Add(c.status)
		}
		if n > 0 {
			continue
		}
		if r.Received > 0 && now.Sub(r.Last()) >= c.idle {
			r.EndReason = "idle"
			break
		}
		if r.Received == 0 && now.Sub(start) >= c.wait {
			r.EndReason = "wait"
			break
		}
	}
	return r.Report(closeLog, rec, c.expected, c.json, stdout, "udpwire", c.group.String(), c.wait)
}
