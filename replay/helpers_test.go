package replay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/replay"
)

// goldenPath is the Writer's golden file, which capture's TestGolden pins:
// the Reader must read what the Writer writes, byte for byte.
var goldenPath = filepath.Join("..", "capture", "testdata", "two-lines.pcapng")

// wireExample is the frame of docs/wire.md §9, and heartbeat a 40-byte
// heartbeat: literal bytes, because a capture stores frames without
// reading them and the golden file must not change with the wire format.
var (
	wireExample = []byte{
		0x46, 0x42, 0x55, 0x53, 0x01, 0x00, 0x28, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x16, 0x00, 0x02, 0x02, 0x41, 0x42, 0x03, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	}
	heartbeat = []byte{
		0x46, 0x42, 0x55, 0x53, 0x01, 0x01, 0x28, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x89, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	}
)

// sampleLines and sampleRecords are a small two-line capture: a frame on
// A and its copy on B, a heartbeat that B sees first, and an empty
// ZeroMQ message on A.
var sampleLines = []string{"epgm://10.0.0.1;239.192.1.1:5555", "epgm://10.0.1.1;239.192.1.2:5556"}

func sampleRecords() []replay.Record {
	const base = 1_767_225_600_123_456_789 // 2026-01-01T00:00:00.123456789Z: every digit counts
	return []replay.Record{
		{Line: 0, RecvTime: base, Frame: wireExample},
		{Line: 1, RecvTime: base + 1, Frame: wireExample},
		{Line: 1, RecvTime: base + 999_999_999, Frame: heartbeat},
		{Line: 0, RecvTime: base + 1_000_000_001, Frame: heartbeat},
		{Line: 0, RecvTime: base + 2_000_000_000, Frame: []byte{}},
	}
}

// writeCapture writes recs with a Writer and returns the file.
func writeCapture(t testing.TB, lines []string, recs []replay.Record) []byte {
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

// recorded is the sample capture as a Recorder writes it, statistics and all.
func recorded(t testing.TB) []byte {
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
	return buf.Bytes()
}

// readAll reads a whole capture, copying each frame. It returns the first
// error other than io.EOF, with the records read before it.
func readAll(data []byte) (lines []string, recs []replay.Record, err error) {
	r, err := replay.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	for {
		var rec replay.Record
		if err := r.Next(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return r.Lines(), recs, err
		}
		rec.Frame = bytes.Clone(rec.Frame)
		recs = append(recs, rec)
	}
}

// pcapng builds pcapng files block by block, to make the files a Writer
// never would: other byte orders, other resolutions, and damage.
type pcapng struct {
	order binary.AppendByteOrder
	b     []byte
}

func newPcapng(order binary.AppendByteOrder) *pcapng { return &pcapng{order: order} }

func (p *pcapng) u16(v uint16) []byte { return p.order.AppendUint16(nil, v) }
func (p *pcapng) u32(v uint32) []byte { return p.order.AppendUint32(nil, v) }

// block appends a block of type typ whose body is the parts, padded to 4.
func (p *pcapng) block(typ uint32, parts ...[]byte) *pcapng {
	body := bytes.Join(parts, nil)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	p.b = p.order.AppendUint32(p.b, typ)
	p.b = p.order.AppendUint32(p.b, total)
	p.b = append(p.b, body...)
	p.b = p.order.AppendUint32(p.b, total)
	return p
}

// opt encodes one option, padded; end is the end of options.
func (p *pcapng) opt(code uint16, v []byte) []byte {
	b := append(p.u16(code), p.u16(uint16(len(v)))...)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (p *pcapng) end() []byte { return make([]byte, 4) }

func (p *pcapng) shb(opts ...[]byte) *pcapng {
	parts := [][]byte{p.u32(0x1A2B3C4D), p.u16(1), p.u16(0), bytes.Repeat([]byte{0xff}, 8)}
	return p.block(0x0A0D0D0A, append(parts, opts...)...)
}

func (p *pcapng) idb(linkType uint16, snap uint32, opts ...[]byte) *pcapng {
	parts := [][]byte{p.u16(linkType), p.u16(0), p.u32(snap)}
	return p.block(1, append(parts, opts...)...)
}

// line is a feedbus interface: name, description, nanoseconds.
func (p *pcapng) line(name, endpoint string) *pcapng {
	return p.idb(147, 0, p.opt(2, []byte(name)), p.opt(3, []byte(endpoint)), p.opt(9, []byte{9}), p.end())
}

func (p *pcapng) epb(iface uint32, ts uint64, data []byte, origLen uint32) *pcapng {
	return p.block(6, p.u32(iface), p.u32(uint32(ts>>32)), p.u32(uint32(ts)),
		p.u32(uint32(len(data))), p.u32(origLen), data)
}

func (p *pcapng) bytes() []byte { return bytes.Clone(p.b) }
