package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// Sink takes the replayed messages: a feedbus.Publisher is one. Publish
// adds a message to the frame in progress; Flush sends that frame. Run
// calls Flush once after each recorded frame's messages, so with a
// publisher that flushes only when asked (and a frame budget no smaller
// than the recorded frames) the replay keeps the recorded batching.
//
// The message and the slices it refers to are valid only during Publish:
// a Sink that keeps them must copy them.
type Sink interface {
	Publish(m *bus.Message) error
	Flush() error
}

// Options control a replay.
type Options struct {
	// Speed is the pace relative to the recording: 1 replays at the
	// recorded pace, 2 twice as fast, 0.5 at half speed, and 0 as fast
	// as possible. ParseSpeed reads the command-line form.
	Speed float64

	clock clock // nil: the real one
}

// Stats count what a replay did.
type Stats struct {
	Frames     uint64 // frames read from the capture, of every kind and on every line
	Heartbeats uint64 // heartbeat frames, skipped
	Malformed  uint64 // frames that did not decode, skipped
	Messages   uint64 // messages published
	Duplicates uint64 // messages not published: a copy of one already published (another line's)
	Skipped    uint64 // messages not published: a kind reserved for a newer wire version (see bus.Kind.Known)

	Elapsed      time.Duration // the replay's duration, on the monotonic clock
	RecordedSpan time.Duration // from the first published frame's receive time to the last's
}

// Run publishes the messages of the capture r to out, each once, paced
// as they were received. It returns at the end of the capture, at the
// first error from r or out, or when ctx is done, with the counts so far.
//
// Each frame is decoded with dec, which undoes compression (give it the
// publisher's zstd dictionaries, if any). Heartbeats and frames that do not
// decode are skipped and counted, and so are messages of a kind reserved
// for a newer wire version, which no Sink could encode; application kinds
// are published with their Body. Every line's copy of a message is
// recorded, so messages are de-duplicated by sequence number across lines
// with a bus.Tracker, the way a subscriber arbitrates: a capture of two
// lines replays each message once, in the order a subscriber took them.
// The Tracker's clock is the receive time, so arbitration does not depend
// on the speed.
//
// Frame k is due at start + (recvTime_k - recvTime_0)/Speed on the
// monotonic clock, measured from the start of Run, where frame 0 is the
// first with something to publish: the heartbeats a publisher sends while
// subscribers join are not replayed as a silence. Frames with nothing to
// publish are not waited for. A replay that falls behind (a slow Sink, a
// late timer) publishes at once what is due, without drifting: each frame
// is due at its own time, not at a delay after the previous one. Receive
// times are the subscriber's wall clock, so a clock step during the
// recording becomes a jump or a burst in the replay.
func Run(ctx context.Context, r *Reader, dec *bus.Decoder, out Sink, opts Options) (st Stats, err error) {
	if s := opts.Speed; s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return st, fmt.Errorf("replay: speed %v: want > 0, or 0 for as fast as possible", s)
	}
	clk := opts.clock
	if clk == nil {
		clk = &realClock{}
	}
	start := clk.Now()
	defer func() { st.Elapsed = clk.Now().Sub(start) }()

	var (
		rec   Record
		f     bus.Frame
		m     bus.Message
		first int64 // receive time of the first frame published
		began bool
		tr    = bus.NewTracker(0) // a line has nothing to wait for in a file
		done  = ctx.Done()
	)
	for {
		select {
		case <-done:
			return st, fmt.Errorf("replay: stopped before frame %d: %w", st.Frames+1, ctx.Err())
		default:
		}
		if err := r.Next(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, fmt.Errorf("replay: after %d frames: %w", st.Frames, err)
		}
		st.Frames++
		if err := dec.Decode(rec.Frame, &f); err != nil {
			st.Malformed++
			continue
		}
		if f.Heartbeat() {
			st.Heartbeats++
			continue
		}
		tr.Begin(&f.Header, rec.RecvTime)
		waited := false
		for seq, ok := f.Next(&m); ok; seq, ok = f.Next(&m) {
			if !tr.Admit(seq, rec.RecvTime) {
				st.Duplicates++
				continue
			}
			if !m.Kind.Known() {
				// A newer publisher's kind: a Sink could not encode it,
				// and the replay's own numbering leaves no gap for it.
				st.Skipped++
				continue
			}
			if !waited {
				// Wait only for a frame with something to publish: a
				// second line's copy is all duplicates.
				waited = true
				if !began {
					first, began = rec.RecvTime, true
				}
				st.RecordedSpan = time.Duration(rec.RecvTime - first)
				if err := wait(ctx, clk, start, due(rec.RecvTime-first, opts.Speed)); err != nil {
					return st, fmt.Errorf("replay: stopped before frame %d: %w", st.Frames, err)
				}
			}
			if err := out.Publish(&m); err != nil {
				return st, fmt.Errorf("replay: frame %d (line %s): publishing seq %d: %w", st.Frames, bus.LineName(rec.Line), seq, err)
			}
			st.Messages++
		}
		if waited {
			if err := out.Flush(); err != nil {
				return st, fmt.Errorf("replay: frame %d (line %s): flushing: %w", st.Frames, bus.LineName(rec.Line), err)
			}
		}
	}
}

// due returns when a frame recorded offset after the first is due, from
// the start of the replay; a negative result means at once.
func due(offset int64, speed float64) time.Duration {
	if speed == 0 {
		return -1
	}
	d := float64(offset) / speed
	if d >= math.MaxInt64 { // a tiny speed: as good as never
		return math.MaxInt64
	}
	return time.Duration(d)
}

// wait waits until at from start, unless that has passed.
func wait(ctx context.Context, clk clock, start time.Time, at time.Duration) error {
	if at < 0 {
		return nil
	}
	if d := at - clk.Now().Sub(start); d > 0 {
		return clk.Sleep(ctx, d)
	}
	return nil
}

// clock is time as Run sees it; tests replace it to check the schedule
// without sleeping.
type clock interface {
	// Now returns the current time; Run only subtracts readings, so the
	// real clock's monotonic readings are what count.
	Now() time.Time
	// Sleep waits for d, or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock sleeps on one timer, reused for every wait.
type realClock struct{ t *time.Timer }

func (*realClock) Now() time.Time { return time.Now() }

func (c *realClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.t == nil {
		c.t = time.NewTimer(d)
	} else {
		c.t.Reset(d) // since Go 1.23 a Reset timer delivers no stale tick
	}
	select {
	case <-c.t.C:
		return nil
	case <-ctx.Done():
		c.t.Stop()
		return ctx.Err()
	}
}

// ParseSpeed parses a replay speed as a command line gives it: "max" for
// as fast as possible (0), or a positive decimal number, the pace relative
// to the recording ("1", "2.5", "0.5").
func ParseSpeed(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	bad := s == "" || strings.Trim(s, "0123456789.") != ""
	v, err := strconv.ParseFloat(s, 64)
	if bad || err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("replay: speed %q: want a positive number (1 = recorded pace, 2 = twice as fast) or max", s)
	}
	return v, nil
}
