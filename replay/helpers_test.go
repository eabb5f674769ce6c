package replay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/internal/capturetest"
	"github.com/feedbus/feedbus/replay"
)

// goldenPath is the Writer's golden file, which capture's TestGolden pins:
// the Reader must read what the Writer writes, byte for byte.
var goldenPath = filepath.Join("..", "capture", "testdata", "two-lines.pcapng")

// The fixtures are shared with capture's tests.
var (
	wireExample = capturetest.WireExample
	heartbeat   = capturetest.Heartbeat
	sampleLines = capturetest.SampleLines
)

func sampleRecords() []replay.Record { return toRecords(capturetest.SampleRecords()) }

func toRecords(in []capturetest.Record) []replay.Record {
	out := make([]replay.Record, len(in))
	for i, r := range in {
		out[i] = replay.Record{Line: r.Line, RecvTime: r.RecvTime, Frame: r.Frame}
	}
	return out
}

// writeCapture writes recs with a Writer and returns the file.
func writeCapture(t testing.TB, lines []string, recs []replay.Record) []byte {
	t.Helper()
	in := make([]capturetest.Record, len(recs))
	for i, r := range recs {
		in[i] = capturetest.Record{Line: r.Line, RecvTime: r.RecvTime, Frame: r.Frame}
	}
	return capturetest.Write(t, lines, in)
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
