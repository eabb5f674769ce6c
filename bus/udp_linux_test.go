package bus

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// udpLoopLines returns n udp:// lines on the loopback interface, on a
// random group and port each: traffic that never leaves the host.
func udpLoopLines(n int) []string {
	port := 20000 + rand.IntN(20000)
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("udp://lo;239.255.%d.%d:%d", 7+i, 1+rand.IntN(250), port+i))
	}
	return out
}

func TestUDPLineLoopback(t *testing.T) {
	lines := udpLoopLines(2)
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
		binary.LittleEndian.PutUint64(frame, uint64(i))
		if err := pub.Send(frame); err != nil {
			t.Fatal(err)
		}

	}
	// Every datagram arrives or is counted as dropped by the kernel (the
	// sender does not pace, and loopback buffers may be clamped small).
	seen := [2]map[uint64]bool{{}, {}}
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
			seen[line][n] = true
		}
	}
	st := sub.UDPStats()
	if !accounted() || len(seen[0]) == 0 || len(seen[1]) == 0 {
		t.Fatalf("line A %d, line B %d of %d frames, the rest not counted as dropped: %+v", len(seen[0]), len(seen[1]), frames, st)
	}
	if st[0].ThreadID == 0 || st[1].ThreadID == st[0].ThreadID {
		t.Errorf("receive threads %d and %d, want one each", st[0].ThreadID, st[1].ThreadID)
	}
	if err := pub.Send(make([]byte, DefaultMaxDatagram+1)); err == nil {
		t.Error("a frame larger than a datagram was sent")
	}
}
