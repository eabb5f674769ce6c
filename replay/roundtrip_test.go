package replay_test

import (
	"bytes"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/feedbus/feedbus/replay"
)

// The tests here read what package capture writes: capture's own tests
// cannot, since capture must not depend on gopacket, and so on this Reader.

func TestRoundTrip(t *testing.T) {
	want := sampleRecords()
	lines, got, err := readAll(writeCapture(t, sampleLines, want))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lines, sampleLines) {
		t.Errorf("lines %q, want %q", lines, sampleLines)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, wrote %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Line != w.Line || g.RecvTime != w.RecvTime || !bytes.Equal(g.Frame, w.Frame) {
			t.Errorf("frame %d: line %d at %d, %d bytes; want line %d at %d, %d bytes",
				i, g.Line, g.RecvTime, len(g.Frame), w.Line, w.RecvTime, len(w.Frame))
		}
	}
}

// TestReadGolden reads capture's golden file, which is also what the
// Writer writes today (capture's TestGolden).
func TestReadGolden(t *testing.T) {
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	lines, got, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecords()
	if !slices.Equal(lines, sampleLines) || len(got) != len(want) {
		t.Fatalf("lines %q, %d frames; want %q, %d frames", lines, len(got), sampleLines, len(want))
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Line != w.Line || g.RecvTime != w.RecvTime || !bytes.Equal(g.Frame, w.Frame) {
			t.Errorf("frame %d: line %d at %d, % x; want line %d at %d, % x", i, g.Line, g.RecvTime, g.Frame, w.Line, w.RecvTime, w.Frame)
		}
	}
}

// TestRecordedStatistics reads the interface statistics blocks a Recorder
// writes at Close with pcapgo, the decoder behind the Reader, and checks
// that the Reader skips them.
func TestRecordedStatistics(t *testing.T) {
	before := time.Now()
	data := recorded(t)
	after := time.Now()

	type stat struct {
		pcapgo.NgInterfaceStatistics
		n int
	}
	stats := map[int]*stat{}
	ng, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{
		StatisticsCallback: func(i int, s pcapgo.NgInterfaceStatistics) {
			if stats[i] == nil {
				stats[i] = &stat{}
			}
			stats[i].NgInterfaceStatistics = s
			stats[i].n++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := ng.ReadPacketData(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	for line, want := range []uint64{3, 2} { // sampleRecords: 3 frames on A, 2 on B
		s := stats[line]
		switch {
		case s == nil:
			t.Fatalf("no statistics for line %d", line)
		case s.n != 1 || s.PacketsReceived != want || s.PacketsDropped != 0:
			t.Errorf("line %d: %d blocks, received %d, dropped %d; want 1 block, %d received, 0 dropped",
				line, s.n, s.PacketsReceived, s.PacketsDropped, want)
		case s.LastUpdate.Before(before.Truncate(time.Microsecond)) || s.LastUpdate.After(after):
			t.Errorf("line %d: statistics at %v, want between %v and %v", line, s.LastUpdate, before, after)
		}
	}

	lines, recs, err := readAll(data)
	if err != nil || !slices.Equal(lines, sampleLines) || len(recs) != len(sampleRecords()) {
		t.Fatalf("Reader: lines %q, %d frames, %v", lines, len(recs), err)
	}
}

// TestReadWriterLimits reads the largest frame and the longest endpoint a
// Writer accepts.
func TestReadWriterLimits(t *testing.T) {
	long := string(bytes.Repeat([]byte("e"), 4096))
	big := bytes.Repeat([]byte{0x5a}, 1<<20)
	for _, n := range []int{len(big), len(big) - 1, len(big) - 2, len(big) - 3} {
		lines, recs, err := readAll(writeCapture(t, []string{long, ""}, []replay.Record{
			{Line: 1, RecvTime: 1 << 62, Frame: big[:n]},
		}))
		if err != nil {
			t.Fatalf("frame of %d bytes: %v", n, err)
		}
		if !slices.Equal(lines, []string{long, ""}) || len(recs) != 1 || recs[0].Line != 1 ||
			recs[0].RecvTime != 1<<62 || !bytes.Equal(recs[0].Frame, big[:n]) {
			t.Fatalf("frame of %d bytes: read lines of %d and %d bytes, %d frames", n, len(lines[0]), len(lines[1]), len(recs))
		}
	}
}
