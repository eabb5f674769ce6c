// Package pump publishes the messages of a Source through a
// feedbus.Publisher, paced to a rate: the loop behind feedpub, for a
// synthetic feed, a text file or a pipe.
//
// Run belongs to the goroutine that calls it. It sleeps until messages are
// due and publishes what has come due in one go (corked: see
// feedbus.Publisher.Cork), so a low rate costs almost no CPU and a high
// one is met in batches. A frame goes out when it
// is full, or when holding it for the next message would exceed the max
// delay: at low rates every message leaves at once, at high rates frames
// fill up.
package pump

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/pace"
)

// Source yields messages. Next fills m (which may alias the source's
// buffers until the next call) and returns io.EOF at the end. Any other
// error is about one message: Run passes it to Options.OnError and, if
// that returns nil, carries on with the next.
type Source interface {
	Next(m *bus.Message) error
}

// Options set the pace and the end of a run.
type Options struct {
	// Rate is messages per second; 0 publishes as fast as the source and
	// the lines allow.
	Rate float64
	// Count stops after this many messages (0: no limit).
	Count uint64
	// Duration stops after this long (0: no limit).
	Duration time.Duration
	// MaxDelay is the longest a message waits in a frame for the next one.
	MaxDelay time.Duration
	// OnError decides what a bad message does: return nil to count it and
	// go on, or an error to stop Run with it. Nil stops at the first.
	OnError func(err error) error
}

// Stats count what Run did.
type Stats struct {
	Published uint64 // messages handed to the publisher
	Rejected  uint64 // bad messages from the source, skipped
	// Start is when the paced run began (after any warm-up).
	Start time.Time
}

// Run publishes src's messages on pub until the source ends, Count or
// Duration is reached, or ctx is done, then flushes what is pending. It
// returns nil on any of those ends.
func Run(ctx context.Context, pub *feedbus.Publisher, src Source, o Options) (Stats, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) {
		timer.Reset(d)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}
	st := Stats{Start: time.Now()}
	pacer := pace.New(o.Rate, st.Start)
	const batch = 1024
	var m bus.Message
	for ctx.Err() == nil {
		now := time.Now()
		if o.Duration > 0 && now.Sub(st.Start) >= o.Duration {
			break
		}
		n := batch
		if o.Count > 0 {
			left := o.Count - pacer.Total()
			if left == 0 {
				break
			}
			n = int(min(uint64(n), left))
		}
		n, wait := pacer.Due(now, n)
		if n > 0 {
			// What is due goes out as one burst: on udp:// lines one
			// sendmmsg per line for up to bus.MaxBatch frames.
			pub.Cork()
			sent, err := publishN(pub, src, &m, n, &st, o.OnError)
			if uerr := pub.Uncork(); err == nil {
				err = uerr
			}
			pacer.Sent(sent)
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return st, err
			}
			if _, wait = pacer.Due(now, 1); wait == 0 {
				continue // more are due already: keep filling
			}
		}
		if start := pub.FrameStart(); !start.IsZero() {
			// Hold the frame only if the next message comes before its deadline.
			if deadline := start.Add(o.MaxDelay); now.Add(wait).Before(deadline) {
				sleep(deadline.Sub(now))
				continue
			}
			if err := pub.Flush(); err != nil {
				return st, err
			}
		}
		if wait > 0 {
			sleep(wait)
		}
	}
	return st, pub.Flush()
}

// publishN publishes up to n messages from src and returns how many it
// took from the source (rejected ones included, so a pace counts lines).
func publishN(pub *feedbus.Publisher, src Source, m *bus.Message, n int, st *Stats, onError func(error) error) (int, error) {
	for i := 0; i < n; i++ {
		err := src.Next(m)
		if err == nil {
			err = pub.Publish(m)
			if err == nil {
				st.Published++
				continue
			}
			if !errors.Is(err, bus.ErrMalformed) && !errors.Is(err, feedbus.ErrTooLarge) {
				return i, err // the lines failed, not the message
			}
		}
		if errors.Is(err, io.EOF) {
			return i, err
		}
		st.Rejected++
		if onError == nil {
			return i + 1, err
		}
		if err := onError(err); err != nil {
			return i + 1, err
		}
	}
	return n, nil
}
