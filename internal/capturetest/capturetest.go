// Package capturetest holds the fixtures that the capture and replay tests
// share: sample frames, a small two-line capture, and a helper that writes
// records with capture.Writer.
package capturetest

import (
	"bytes"
	"testing"

	"github.com/feedbus/feedbus/capture"
)

// WireExample is the frame of docs/wire.md's first worked example (as
// version 1 wrote it), and Heartbeat a 40-byte heartbeat: literal bytes,
// because a capture stores frames without reading them and the golden file
// must not change with the wire format.
var (
	WireExample = []byte{
		0x46, 0x42, 0x55, 0x53, 0x01, 0x00, 0x28, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x16, 0x00, 0x02, 0x02, 0x41, 0x42, 0x03, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	}
	Heartbeat = []byte{
		0x46, 0x42, 0x55, 0x53, 0x01, 0x01, 0x28, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x89, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	}
)

// Record is one frame of a capture.
type Record struct {
	Line     int
	RecvTime int64
	Frame    []byte
}

// SampleLines and SampleRecords are a small two-line capture: a frame on A
// and its copy on B, a heartbeat that B sees first, and an empty ZeroMQ
// message on A. capture/testdata/two-lines.pcapng is this capture.
var SampleLines = []string{"epgm://10.0.0.1;239.192.1.1:5555", "epgm://10.0.1.1;239.192.1.2:5556"}

// SampleRecords returns the sample capture's frames.
func SampleRecords() []Record {
	const base = 1_767_225_600_123_456_789 // 2026-01-01T00:00:00.123456789Z: every digit counts
	return []Record{
		{Line: 0, RecvTime: base, Frame: WireExample},
		{Line: 1, RecvTime: base + 1, Frame: WireExample},
		{Line: 1, RecvTime: base + 999_999_999, Frame: Heartbeat},
		{Line: 0, RecvTime: base + 1_000_000_001, Frame: Heartbeat},
		{Line: 0, RecvTime: base + 2_000_000_000, Frame: []byte{}},
	}
}

// Write writes recs with a capture.Writer for lines and returns the file.
func Write(t testing.TB, lines []string, recs []Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := capture.NewWriter(&buf, lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r.Line, r.RecvTime, r.Frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
