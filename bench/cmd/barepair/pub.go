package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/pace"
	zmq "github.com/pebbe/zmq4"
)

// checkEvery is how many messages the publisher sends between looks at the
// clock and the context, at most.
const checkEvery = 64

// publish sends markers for the warmup, then numbered, timestamped messages
// of c.size bytes for c.duration, then markers for the linger. With -rate
// it paces them with internal/pace exactly as feedpub paces its feed (what
// is due goes out at once, then it sleeps until the next is due); without,
// as fast as the socket takes them. Each message carries the time just
// before its send. Like bus.Publisher it sends with DONTWAIT; a PUB socket
// past its high-water mark drops messages without telling, and the
// subscriber sees those as lost.
func publish(ctx context.Context, c *config, e bus.Endpoint, o *bus.Options, stderr io.Writer) (err error) {
	s, err := open(zmq.PUB, e, o)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()
	fmt.Fprintf(stderr, "barepair: pub %s size %d rate %.0f duration %v\n", e, c.size, c.rate, c.duration)

	msg := make([]byte, c.size)
	for i := headerLen; i < len(msg); i++ {
		msg[i] = byte(i)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if err := markers(ctx, s.sock, msg, c.warmup, timer); err != nil || ctx.Err() != nil {
		return err
	}

	var sent, again uint64
	start := time.Now()
	end := start.Add(c.duration)
	pacer := pace.New(c.rate, start)
	now := start
	for now.Before(end) && ctx.Err() == nil {
		n, wait := pacer.Due(now, checkEvery)
		for range n {
			binary.LittleEndian.PutUint64(msg, sent+1)
			binary.LittleEndian.PutUint64(msg[seqLen:], uint64(time.Now().UnixNano()))
			if _, err := s.sock.SendBytes(msg, zmq.DONTWAIT); err != nil {
				if !isAgain(err) {
					return fmt.Errorf("send: %w", err)
				}
				again++
			}
			sent++
		}
		pacer.Sent(n)
		if n == 0 && !sleep(ctx, timer, min(wait, end.Sub(now))) {
			break
		}
		now = time.Now()
	}
	elapsed := now.Sub(start).Seconds()
	fmt.Fprintf(stderr, "barepair: sent %d messages (%d refused with EAGAIN) in %.2fs (%.0f msg/s)\n",
		sent, again, elapsed, float64(sent)/max(elapsed, 1e-9))
	return markers(ctx, s.sock, msg, c.linger, timer)
}

// markers sends a marker (sequence number 0) every markerEvery for d, or
// until ctx ends.
func markers(ctx context.Context, s *zmq.Socket, msg []byte, d time.Duration, timer *time.Timer) error {
	binary.LittleEndian.PutUint64(msg, 0)
	for end := time.Now().Add(d); time.Now().Before(end); {
		binary.LittleEndian.PutUint64(msg[seqLen:], uint64(time.Now().UnixNano()))
		if _, err := s.SendBytes(msg, zmq.DONTWAIT); err != nil && !isAgain(err) {
			return fmt.Errorf("send marker: %w", err)
		}
		if !sleep(ctx, timer, min(markerEvery, time.Until(end))) {
			return nil
		}
	}
	return nil
}

// sleep waits for d on timer and reports whether ctx is still live.
func sleep(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
