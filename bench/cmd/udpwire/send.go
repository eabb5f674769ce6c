package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/internal/pace"
	"golang.org/x/sys/unix"
)

// send sends markers for the warmup, then numbered datagrams for
// c.duration, paced by internal/pace exactly as feedpub paces its feed
// (what is due goes out in one sendmmsg call, up to -batch), then markers
// for the linger. Every datagram of a call carries the time just before
// the call.
func send(ctx context.Context, c *config, stderr io.Writer) error {
	fd, granted, err := openSender(c.group, c.iface, c.hops, c.sndbuf)
	if err != nil {
		return fmt.Errorf("sender on %s to %s: %w", c.iface, c.group, err)
	}
	defer unix.Close(fd)
	fmt.Fprintf(stderr, "udpwire: send to %s from %s size %d rate %.0f duration %v batch %d sndbuf %d\n",
		c.group, c.iface, c.size, c.rate, c.duration, c.batch, granted)

	per := 1 // messages a datagram
	if c.pack > 0 {
		per = c.pack / c.size
	}
	b := newBatch(c.batch, per*c.size)
	for _, buf := range b.bufs {
		for off := 0; off < len(buf); off += c.size {
			pad(buf[off : off+c.size])
		}
	}
	s := &sender{fd: fd, b: b, size: c.size, per: per, timer: time.NewTimer(time.Hour)}
	defer s.timer.Stop()
	if err := s.markers(ctx, c.warmup); err != nil || ctx.Err() != nil {
		return err
	}

	start := time.Now()
	end := start.Add(c.duration)
	pacer := pace.New(c.rate, start)
	now := start
	for now.Before(end) && ctx.Err() == nil {
		n, wait := pacer.Due(now, c.batch*per)
		if n > 0 {
			ts := time.Now().UnixNano()
			datagrams := (n + per - 1) / per
			for i := range n {
				buf := b.bufs[i/per]
				off := (i % per) * c.size
				encode(buf[off:off+c.size], s.sent+uint64(i)+1, ts)
			}
			// The last datagram carries what is left.
			last := n - (datagrams-1)*per
			b.iovs[datagrams-1].SetLen(last * c.size)
			err := s.sendAll(datagrams)
			b.iovs[datagrams-1].SetLen(per * c.size)
			if err != nil {
				return err
			}
			s.sent += uint64(n)
			pacer.Sent(n)
		} else if !s.sleep(ctx, min(wait, end.Sub(now))) {
			break
		}
		now = time.Now()
	}
	elapsed := now.Sub(start).Seconds()
	fmt.Fprintf(stderr, "udpwire: sent %d messages (%d dropped with ENOBUFS) in %d sendmmsg calls in %.2fs (%.0f msg/s)\n",
		s.sent, s.dropped, s.calls, elapsed, float64(s.sent)/max(elapsed, 1e-9))
	return s.markers(ctx, c.linger)
}

type sender struct {
	fd        int
	b         *batch
	size, per int // bytes a message, messages a datagram
	timer     *time.Timer

	sent, dropped, calls uint64
}

// sendAll sends the first n datagrams of the batch. A datagram the kernel
// refuses for want of buffers is dropped and counted, like a PUB socket's
// past its high-water mark; the receiver sees the hole.
func (s *sender) sendAll(n int) error {
	for off := 0; off < n; {
		k, err := sendmmsg(s.fd, s.b.hdrs[off:n])
		s.calls++
		switch {
		case err != nil && isNoBufs(err):
			s.dropped++
			off++
		case err != nil:
			return fmt.Errorf("sendmmsg: %w", err)
		default:
			off += k
		}
	}
	return nil
}

// markers sends a marker (sequence number 0) every markerEvery for d, or
// until ctx ends.
func (s *sender) markers(ctx context.Context, d time.Duration) error {
	buf := s.b.bufs[0][:s.size]
	for end := time.Now().Add(d); time.Now().Before(end); {
		encode(buf, 0, time.Now().UnixNano())
		s.b.iovs[0].SetLen(s.size) // one message
		err := s.sendAll(1)
		s.b.iovs[0].SetLen(s.per * s.size)
		if err != nil {
			return fmt.Errorf("marker: %w", err)
		}
		if !s.sleep(ctx, min(markerEvery, time.Until(end))) {
			return nil
		}
	}
	return nil
}

// sleep waits for d and reports whether ctx is still live.
func (s *sender) sleep(ctx context.Context, d time.Duration) bool {
	s.timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-s.timer.C:
		return true
	}
}
