package fanout

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
)

func benchMessages(n int) []bus.Message {
	msgs := make([]bus.Message, n)
	for i := range msgs {
		sym := fmt.Sprintf("BENCH%03d", i%256)
		if i%4 == 3 {
			msgs[i] = trade(sym, px(100)+int64(i), uint32(i%500+1), bus.SideBuy)
		} else {
			msgs[i] = quote(sym, px(100)+int64(i), px(100.01)+int64(i), 100, 200)
		}
	}
	return msgs
}

// reportLoss adds the share of messages the workers could not take: with
// Work 0 the receive loop can outrun a worker, and a drop costs less than
// an enqueue, so ns/msg is only comparable alongside it.
func reportLoss(b *testing.B, f *Fanout) {
	var n, dropped uint64
	for _, s := range f.Stats() {
		n += s.Dispatched
		dropped += s.Dropped
	}
	if n > 0 {
		b.ReportMetric(100*float64(dropped)/float64(n), "%dropped")
	}
}

// BenchmarkDispatch is the receive loop's cost to hand one message to the
// workers (256 symbols, workers running a real book, Drop policy, Work 0).
//
// paced: every 64 messages the loop waits, off the clock, until every queue
// is at most half full, so ns/msg is the common path (enqueue, no drops)
// with the workers consuming concurrently; ns/op includes the waits and so
// shows the workers' own throughput. frames: paced, but with Queue and a
// Flush every 20 messages, as feedsub does per frame. overload: the loop
// never waits; the workers cannot keep up with it, so most messages take
// the drop path, and %dropped says how many.
func BenchmarkDispatch(b *testing.B) {
	const perFrame = 20
	msgs := benchMessages(1024)
	for _, mode := range []string{"paced", "frames", "overload"} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				f, err := New(Config{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				now := time.Now().UnixNano()
				for i := range msgs { // warm-up: every book exists
					f.Dispatch(&msgs[i], uint64(i+1), now, now)
				}
				waitBelow(f, 0)
				b.ReportAllocs()
				seq := uint64(len(msgs))
				var busy time.Duration
				t0 := time.Now()
				for b.Loop() {
					seq++
					if mode == "frames" {
						f.Queue(&msgs[seq%uint64(len(msgs))], seq, now, now)
						if seq%perFrame == 0 {
							f.Flush()
						}
					} else {
						f.Dispatch(&msgs[seq%uint64(len(msgs))], seq, now, now)
					}
					if mode != "overload" && seq%(perFrame*4) == 0 {
						busy += time.Since(t0)
						waitBelow(f, DefaultQueueLen/2)
						t0 = time.Now()
					}
				}
				n := float64(seq - uint64(len(msgs)))
				if mode == "overload" {
					busy = b.Elapsed()
				} else {
					busy += time.Since(t0)
				}
				b.ReportMetric(float64(busy.Nanoseconds())/n, "ns/msg")
				f.Close()
				reportLoss(b, f)
			})
		}
	}
}

// waitBelow returns once every worker's queue holds at most depth messages.
func waitBelow(f *Fanout, depth uint64) {
	for _, w := range f.workers {
		for w.tail.Load()-w.head.Load() > depth {
			runtime.Gosched()
		}
	}
}

// BenchmarkDecodeDispatch is the receive loop's whole cost per message
// after the socket: bus.Decode of a 20-message frame, Next, Queue, and a
// Flush per frame.
// It never waits, like the overload case of BenchmarkDispatch: see
// %dropped.
func BenchmarkDecodeDispatch(b *testing.B) {
	const perFrame = 20
	msgs := benchMessages(perFrame)
	var fw bus.FrameWriter
	fw.Begin(&bus.Header{Session: 1, Stream: 1, FirstSeq: 1})
	for i := range msgs {
		if err := fw.Add(&msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	frame := append([]byte(nil), fw.Finish(time.Now().UnixNano())...)

	for _, workers := range []int{0, 1, 2, 4} {
		name := fmt.Sprintf("workers=%d", workers)
		if workers == 0 {
			name = "decode-only"
		}
		b.Run(name, func(b *testing.B) {
			var f *Fanout
			if workers > 0 {
				var err error
				if f, err = New(Config{Workers: workers}); err != nil {
					b.Fatal(err)
				}
				defer f.Close()
			}
			var fr bus.Frame
			var m bus.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			frames := 0
			for b.Loop() {
				if err := bus.Decode(frame, &fr); err != nil {
					b.Fatal(err)
				}
				now := fr.SendTime
				for seq, ok := fr.Next(&m); ok; seq, ok = fr.Next(&m) {
					if f != nil {
						f.Queue(&m, seq, fr.SendTime, now)
					}
				}
				if f != nil {
					f.Flush()
				}
				frames++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames*perFrame), "ns/msg")
			if f != nil {
				f.Close()
				reportLoss(b, f)
			}
		})
	}
}
