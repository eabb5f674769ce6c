package capture_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/capture"
)

var update = flag.Bool("update", false, "rewrite testdata/two-lines.pcapng")

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
	_, recs, err := readAll(buf.Bytes())
	if err != nil || len(recs) != 1 || recs[0].Line != 1 || recs[0].RecvTime != 5 {
		t.Fatalf("after refusals read %+v, %v; want the one frame written", recs, err)
	}
}
