package capture_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/capture"
)

var update = flag.Bool("update", false, "rewrite testdata/two-lines.pcapng")

// TestWriterBlocks takes the Writer's output apart block by block.
func TestWriterBlocks(t *testing.T) {
	want := sampleRecords()
	f := parse(t, writeCapture(t, sampleLines, want))
	if !slices.Equal(f.lines, sampleLines) || !slices.Equal(f.names, []string{"A", "B"}) {
		t.Errorf("interfaces %q described %q, want A, B described %q", f.names, f.lines, sampleLines)
	}
	if len(f.stats) != 0 {
		t.Errorf("%d statistics blocks from a Writer alone", len(f.stats))
	}
	if !slices.EqualFunc(f.records, want, equalRecord) {
		t.Errorf("frames %+v, want %+v", f.records, want)
	}
}

func equalRecord(a, b record) bool {
	return a.Line == b.Line && a.RecvTime == b.RecvTime && bytes.Equal(a.Frame, b.Frame)
}

// TestWriterPadding writes frames of every length modulo 4, an empty
// endpoint and the largest frame and time the Writer takes.
func TestWriterPadding(t *testing.T) {
	big := bytes.Repeat([]byte{0x5a}, bus.MaxFrameLen)
	var recs []record
	for n := range 9 {
		recs = append(recs, record{Line: n % 2, RecvTime: int64(n) << 32, Frame: big[:n]})
	}
	recs = append(recs, record{Line: 1, RecvTime: math.MaxInt64, Frame: big})
	f := parse(t, writeCapture(t, []string{"ipc:///a", ""}, recs))
	if !slices.Equal(f.lines, []string{"ipc:///a", ""}) || !slices.EqualFunc(f.records, recs, equalRecord) {
		t.Fatalf("lines %q and %d frames, want the %d written", f.lines, len(f.records), len(recs))
	}
}

func TestWriterDoesNotAllocate(t *testing.T) {
	w, err := capture.NewWriter(io.Discard, sampleLines)
	if err != nil {
		t.Fatal(err)
	}
	small, big := []byte("frame"), bytes.Repeat([]byte{1}, 8192) // big goes past the buffer
	if n := testing.AllocsPerRun(1000, func() {
		w.Write(1, 1, small)
		w.Write(0, 2, wireExample)
		w.Write(1, 3, big)
	}); n != 0 {
		t.Fatalf("Write allocates %v times", n)
	}
}

// TestGolden pins the bytes a Writer produces, which docs/capture.md
// describes; the file is also a sample to try tshark on.
func TestGolden(t *testing.T) {
	got := writeCapture(t, sampleLines, sampleRecords())
	path := filepath.Join("testdata", "two-lines.pcapng")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Writer output differs from %s (go test -run Golden -update rewrites it, if the change is meant)", path)
	}
	// The parts a user sees in tshark and capinfos.
	for _, s := range []string{"feedbus", "A", "B", sampleLines[0], sampleLines[1]} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("%q missing from the file", s)
		}
	}
}

func TestWriterRefuses(t *testing.T) {
	if _, err := capture.NewWriter(&bytes.Buffer{}, nil); err == nil {
		t.Error("NewWriter with no lines: no error")
	}
	if _, err := capture.NewWriter(&bytes.Buffer{}, make([]string, capture.MaxLines+1)); err == nil {
		t.Error("NewWriter with too many lines: no error")
	}
	if _, err := capture.NewWriter(&bytes.Buffer{}, []string{strings.Repeat("x", 70000)}); err == nil {
		t.Error("NewWriter with an endpoint longer than a pcapng option: no error")
	}

	var buf bytes.Buffer
	w, err := capture.NewWriter(&buf, sampleLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		line     int
		recvTime int64
		frame    []byte
		want     string
	}{
		{"line past the last", 2, 1, nil, "capture: line 2 of 2: out of range"},
		{"negative line", -1, 1, nil, "capture: line -1 of 2: out of range"},
		{"before 1970", 0, -1, nil, "capture: receive time -1 is before 1970"},
		{"frame too large", 1, 1, make([]byte, bus.MaxFrameLen+1), "capture: frame of 1048577 bytes on line B, limit 1048576"},
	} {
		if err := w.Write(tc.line, tc.recvTime, tc.frame); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A refused frame leaves the file whole.
	if err := w.Write(1, 5, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if recs := parse(t, buf.Bytes()).records; len(recs) != 1 || recs[0].Line != 1 || recs[0].RecvTime != 5 {
		t.Fatalf("after refusals read %+v; want the one frame written", recs)
	}
}

// TestTsharkReads checks that tshark reads what a Recorder writes, frames
// and statistics, where tshark is installed. (replay's TestToolsInterop
// checks that the Reader reads what tshark writes.)
func TestTsharkReads(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FEEDLAB_REQUIRE") != "" {
			t.Fatal("tshark is not installed; scripts/test installs it (apt-get install tshark)")
		}
		t.Skip("tshark not installed")
	}
	var buf bytes.Buffer
	w, err := capture.NewWriter(&buf, sampleLines)
	if err != nil {
		t.Fatal(err)
	}
	r := capture.NewRecorder(w, 16)
	for _, rec := range sampleRecords() {
		r.Record(rec.Line, rec.RecvTime, rec.Frame)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.pcapng")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", in, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.interface_name",
		"-e", "frame.interface_description", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "data.data")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.Bytes())
	}
	var want strings.Builder
	for _, rec := range sampleRecords() {
		fmt.Fprintf(&want, "%d\t%s\t%s\t%d.%09d\t%d\t%x\n", rec.Line, bus.LineName(rec.Line), sampleLines[rec.Line],
			rec.RecvTime/1e9, rec.RecvTime%1e9, len(rec.Frame), rec.Frame)
	}
	if string(out) != want.String() {
		t.Fatalf("tshark reads\n%s\nwant\n%s", out, want.String())
	}
}
