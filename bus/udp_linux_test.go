package bus

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/feedbus/feedbus/internal/udptest"
)

// Frames sent on two udp:// lines arrive in order on each, or are counted
// as dropped by the kernel; corked, they go out in sendmmsg batches (held
// until Uncork, or MaxBatch at a time) with the same result.
func TestUDPLineLoopback(t *testing.T) {
	t.Run("write", func(t *testing.T) { udpLoopback(t, false) })
	t.Run("corked", func(t *testing.T) { udpLoopback(t, true) })
}

func udpLoopback(t *testing.T, corked bool) {
	lines := udptest.LoopLines(2)
	sub, err := NewSubscriber(lines)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := NewPublisher(lines, WithLoopback(true))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if got := pub.MaxFrame(); got != DefaultMaxDatagram {
		t.Errorf("MaxFrame %d, want %d", got, DefaultMaxDatagram)
	}
	const frames = 2000
	frame := make([]byte, 1000)
	for i := range frames {
		if corked && i%100 == 0 {
			pub.Cork() // 100 frames: three full batches and a part one
		}
		binary.LittleEndian.PutUint64(frame, uint64(i))
		if err := pub.SendMessages(frame, 1); err != nil {
			t.Fatal(err)
		}
		if corked && i%100 == 99 {
			if held := pub.batch.len(); held != 100%MaxBatch {
				t.Fatalf("%d frames held before Uncork, want %d", held, 100%MaxBatch)
			}
			if err := pub.Uncork(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, st := range pub.Stats() {
		if st.Sent+st.Dropped != frames || st.DroppedMessages != st.Dropped {
			t.Fatalf("line %s: sent %d dropped %d (%d messages) of %d frames", LineName(i), st.Sent, st.Dropped, st.DroppedMessages, frames)
		}
	}
	// Every datagram arrives or is counted as dropped by the kernel (the
	// sender does not pace, and loopback buffers may be clamped small).
	seen := [2]map[uint64]bool{{}, {}}
	var last [2]uint64
	accounted := func() bool {
		st := sub.UDPStats()
		return uint64(len(seen[0]))+st[0].KernelDrops == frames && uint64(len(seen[1]))+st[1].KernelDrops == frames
	}
	deadline := time.Now().Add(10 * time.Second)
	for !accounted() && time.Now().Before(deadline) {
		b, line, err := sub.Recv(50 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			// A drop shows in the count carried by the next datagram: a
			// marker after the burst brings it.
			binary.LittleEndian.PutUint64(frame, frames)
			if err := pub.Send(frame); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if len(b) != len(frame) || sub.Stamp() == 0 {
			t.Fatalf("frame of %d bytes, stamp %d", len(b), sub.Stamp())
		}
		if n := binary.LittleEndian.Uint64(b); n < frames {
			if n < last[line] && len(seen[line]) > 0 {
				t.Fatalf("line %s: frame %d after %d", LineName(line), n, last[line])
			}
			seen[line][n], last[line] = true, n
		}
	}
	st := sub.UDPStats()
	if !accounted() || len(seen[0]) == 0 || len(seen[1]) == 0 {
		t.Fatalf("line A %d, line B %d of %d frames, the rest not counted as dropped: %+v", len(seen[0]), len(seen[1]), frames, st)
	}
	if buf := make([]UDPLineStats, 0, 2); !raceEnabled {
		if a := testing.AllocsPerRun(10, func() { buf = sub.AppendUDPStats(buf[:0]) }); a != 0 {
			t.Errorf("AppendUDPStats with room allocates %.0f times", a)
		}
	}
	if st[0].ThreadID == 0 || st[1].ThreadID == st[0].ThreadID {
		t.Errorf("receive threads %d and %d, want one each", st[0].ThreadID, st[1].ThreadID)
	}
	if err := pub.Send(make([]byte, DefaultMaxDatagram+1)); err == nil {
		t.Error("a frame larger than a datagram was sent")
	}
}

// BenchmarkUDPSend sends 1000-byte frames on one udp:// line on the
// loopback interface (no receiver joined): a write each, or corked into
// sendmmsg batches of MaxBatch.
func BenchmarkUDPSend(b *testing.B) {
	for _, corked := range []bool{false, true} {
		name := "write"
		if corked {
			name = "sendmmsg"
		}
		b.Run(name, func(b *testing.B) {
			pub, err := NewPublisher(udptest.LoopLines(1))
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			frame := make([]byte, 1000)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for i := 0; b.Loop(); i++ {
				if corked && i%MaxBatch == 0 {
					pub.Cork()
				}
				if err := pub.Send(frame); err != nil {
					b.Fatal(err)
				}
				if corked && i%MaxBatch == MaxBatch-1 {
					if err := pub.Uncork(); err != nil {
						b.Fatal(err)
					}
				}
			}
			pub.Uncork()
		})
	}
}
