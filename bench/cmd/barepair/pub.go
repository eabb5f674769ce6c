package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bus"
	zmq "github.com/pebbe/zmq4"
)

// checkEvery is how many messages the publisher sends between looks at the
// clock and the context.
const checkEvery = 64

// publish sends markers for the warmup, then numbered messages of c.size
// bytes as fast as the socket takes them for c.duration, then markers for
// the linger. Like bus.Publisher it sends with DONTWAIT; a PUB socket past
// its high-water mark drops messages without telling, and the subscriber
// sees those as lost.
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
	fmt.Fprintf(stderr, "barepair: pub %s size %d duration %v\n", e, c.size, c.duration)

	msg := make([]byte, c.size)
	for i := seqLen; i < len(msg); i++ {
		msg[i] = byte(i)
	}
	if err := markers(ctx, s.sock, msg, c.warmup); err != nil || ctx.Err() != nil {
		return err
	}

	var sent, again uint64
	start := time.Now()
	end := start.Add(c.duration)
	now := start
	for now.Before(end) && ctx.Err() == nil {
		for range checkEvery {
			binary.LittleEndian.PutUint64(msg, sent+1)
			if _, err := s.sock.SendBytes(msg, zmq.DONTWAIT); err != nil {
				if !isAgain(err) {
					return fmt.Errorf("send: %w", err)
				}
				again++
			}
			sent++
		}
		now = time.Now()
	}
	elapsed := now.Sub(start).Seconds()
	fmt.Fprintf(stderr, "barepair: sent %d messages (%d refused with EAGAIN) in %.2fs (%.0f msg/s)\n",
		sent, again, elapsed, float64(sent)/max(elapsed, 1e-9))
	return markers(ctx, s.sock, msg, c.linger)
}

// markers sends a marker (sequence number 0) every markerEvery for d, or
// until ctx ends.
func markers(ctx context.Context, s *zmq.Socket, msg []byte, d time.Duration) error {
	binary.LittleEndian.PutUint64(msg, 0)
	timer := time.NewTimer(markerEvery)
	defer timer.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := s.SendBytes(msg, zmq.DONTWAIT); err != nil && !isAgain(err) {
			return fmt.Errorf("send marker: %w", err)
		}
		timer.Reset(min(markerEvery, time.Until(end)))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
	return nil
}
