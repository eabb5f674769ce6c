package capture_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/internal/capturetest"
)

// The fixtures are shared with replay's tests.
var (
	wireExample   = capturetest.WireExample
	sampleLines   = capturetest.SampleLines
	sampleRecords = capturetest.SampleRecords
	writeCapture  = capturetest.Write
)

// record is one frame of a capture.
type record = capturetest.Record

// file is a capture as the Writer writes it, taken apart block by block:
// little-endian, one section. Package capture has no reader (package
// replay has, and it depends on gopacket), so its tests read their files
// with this, which knows only the Writer's blocks and fails on anything
// else.
type file struct {
	lines   []string // interface descriptions, by interface id
	names   []string // interface names
	records []record // enhanced packet blocks, in file order
	stats   []stat   // interface statistics blocks, in file order
}

type stat struct {
	line              int
	at                int64 // ns since the Unix epoch
	received, dropped uint64
}

// parse takes a capture apart, checking every length on the way.
func parse(t testing.TB, data []byte) file {
	t.Helper()
	var f file
	le := binary.LittleEndian
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			t.Fatalf("offset %d: %d bytes left, want a block", off, len(data)-off)
		}
		typ, total := le.Uint32(data[off:]), int(le.Uint32(data[off+4:]))
		if total < 12 || total%4 != 0 || total > len(data)-off || int(le.Uint32(data[off+total-4:])) != total {
			t.Fatalf("offset %d: block of type %#x with length %d, trailer or file too short", off, typ, total)
		}
		body := data[off+8 : off+total-4]
		if (off == 0) != (typ == 0x0A0D0D0A) {
			t.Fatalf("offset %d: block of type %#x, want the section header first and only there", off, typ)
		}
		switch typ {
		case 0x0A0D0D0A:
			if le.Uint32(body) != 0x1A2B3C4D || le.Uint16(body[4:]) != 1 || le.Uint16(body[6:]) != 0 || le.Uint64(body[8:]) != 1<<64-1 {
				t.Fatalf("section header % x", body[:16])
			}
			options(t, body[16:])
		case 1:
			if lt, snap := le.Uint16(body), le.Uint32(body[4:]); lt != capture.LinkType || snap != 0 {
				t.Fatalf("interface %d: link type %d, snap length %d", len(f.lines), lt, snap)
			}
			opts := options(t, body[8:])
			if r := opts[9]; r != "\x09" {
				t.Fatalf("interface %d: if_tsresol %q, want 9", len(f.lines), r)
			}
			f.names = append(f.names, opts[2])
			f.lines = append(f.lines, opts[3])
		case 6:
			id, caplen, origLen := int(le.Uint32(body)), int(le.Uint32(body[12:])), int(le.Uint32(body[16:]))
			if id >= len(f.lines) || caplen != origLen || len(body) != 20+(caplen+3)&^3 {
				t.Fatalf("offset %d: frame on interface %d of %d, %d of %d bytes in a body of %d", off, id, len(f.lines), caplen, origLen, len(body))
			}
			if pad := body[20+caplen:]; !bytes.Equal(pad, make([]byte, len(pad))) {
				t.Fatalf("offset %d: padding % x", off, pad)
			}
			f.records = append(f.records, record{
				Line:     id,
				RecvTime: int64(uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))),
				Frame:    bytes.Clone(body[20 : 20+caplen]),
			})
		case 5:
			id := int(le.Uint32(body))
			if id >= len(f.lines) {
				t.Fatalf("offset %d: statistics for interface %d of %d", off, id, len(f.lines))
			}
			opts := options(t, body[12:])
			if len(opts[4]) != 8 || len(opts[5]) != 8 {
				t.Fatalf("offset %d: isb_ifrecv % x, isb_ifdrop % x", off, opts[4], opts[5])
			}
			f.stats = append(f.stats, stat{
				line:     id,
				at:       int64(uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))),
				received: le.Uint64([]byte(opts[4])),
				dropped:  le.Uint64([]byte(opts[5])),
			})
		default:
			t.Fatalf("offset %d: block of type %#x", off, typ)
		}
		off += total
	}
	return f
}

// options reads a block's options, which must end with an end of options
// and fill the block exactly; it returns them by code.
func options(t testing.TB, b []byte) map[uint16]string {
	t.Helper()
	le := binary.LittleEndian
	opts := map[uint16]string{}
	for len(b) >= 4 {
		code, n := le.Uint16(b), int(le.Uint16(b[2:]))
		if code == 0 {
			if n != 0 || len(b) != 4 {
				t.Fatalf("end of options of length %d, then %d bytes", n, len(b)-4)
			}
			return opts
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) || !bytes.Equal(b[4+n:4+padded], make([]byte, padded-n)) {
			t.Fatalf("option %d of %d bytes overruns its block or is padded with nonzero bytes", code, n)
		}
		if _, dup := opts[code]; dup {
			t.Fatalf("option %d twice", code)
		}
		opts[code] = string(b[4 : 4+n])
		b = b[4+padded:]
	}
	t.Fatalf("options without an end of options")
	return nil
}
