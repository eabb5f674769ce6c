package replay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/replay"
)

var le = binary.LittleEndian

const ts = 1_767_225_600_123_456_789

// valid returns a builder holding a section and line A.
func valid() *pcapng { return newPcapng(le).shb().line("A", "tcp://a:1") }

func TestReaderRefuses(t *testing.T) {
	p := newPcapng(le) // for encoding parts
	withTrailer := func(b []byte, total uint32) []byte {
		b = slices.Clone(b)
		le.PutUint32(b[len(b)-4:], total)
		return b
	}
	good := valid().epb(0, ts, wireExample, uint32(len(wireExample))).bytes()
	resized := func(total uint32) []byte { // the frame's block claims total bytes
		b := slices.Clone(good)
		le.PutUint32(b[len(valid().b)+4:], total)
		return b
	}

	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "offset 0: empty file"},
		{"too short", []byte("abc"), "not a pcapng file: shorter than a block header"},
		{"text", []byte("hello, this is not a capture at all"), "not a pcapng file: starts with 68 65 6c"},
		{"classic pcap", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0}, "a classic pcap file"},
		{"byte-order magic", withBOM(valid().bytes(), 0x11223344), "byte-order magic"},
		{"pcapng 2.0", withVersion(valid().bytes(), 2), "pcapng version 2.0, want 1.0"},
		{"no interfaces", newPcapng(le).shb().bytes(), "no interface descriptions"},
		{"frame before interfaces", newPcapng(le).shb().epb(0, ts, wireExample, 62).bytes(), "frame on interface 0 of 0"},
		{"ethernet", newPcapng(le).shb().idb(1, 0).bytes(), "link type 1, want 147 (LINKTYPE_USER0)"},
		// pcapgo keeps 8 bits of a link type, which would make 403 look like 147.
		{"link type 403", newPcapng(le).shb().idb(403, 0).bytes(), "link type 403"},
		{"huge snap length", newPcapng(le).shb().idb(147, 0xffffffff).bytes(), "snap length 4294967295 over the frame limit"},
		// pcapgo divides by 2^64 computed in 64 bits: zero.
		{"resolution 2^-64", newPcapng(le).shb().idb(147, 0, p.opt(9, []byte{0x80 | 64}), p.end()).bytes(), "timestamp resolution 0xc0 not supported"},
		// pcapgo would misread these: its factors for 2^-10 and finer are rounded.
		{"resolution 2^-10", newPcapng(le).shb().idb(147, 0, p.opt(9, []byte{0x80 | 10}), p.end()).bytes(), "timestamp resolution 0x8a not supported"},
		{"resolution 10^-20", newPcapng(le).shb().idb(147, 0, p.opt(9, []byte{20}), p.end()).bytes(), "timestamp resolution 0x14 not supported"},
		{"resolution 10^0", newPcapng(le).shb().idb(147, 0, p.opt(9, []byte{0}), p.end()).bytes(), "timestamp resolution 0x00 not supported"},
		{"long if_tsresol", newPcapng(le).shb().idb(147, 0, p.opt(9, []byte{9, 9}), p.end()).bytes(), "if_tsresol of 2 bytes"},
		{"short if_tsoffset", newPcapng(le).shb().idb(147, 0, p.opt(14, []byte{1}), p.end()).bytes(), "if_tsoffset of 1 bytes"},
		{"option overruns", newPcapng(le).shb().idb(147, 0, p.u16(2), p.u16(200), []byte("A")).bytes(), "option 2 of 200 bytes overruns its block"},
		{"end of options with a length", newPcapng(le).shb().idb(147, 0, p.u16(0), p.u16(4), make([]byte, 4)).bytes(), "end of options with length 4"},
		{"too many interfaces", manyLines(capture.MaxLines + 1), "more than 64 interfaces"},
		{"second section", valid().shb().line("A", "x").bytes(), "second section header"},
		{"simple packet block", valid().block(3, p.u32(4), []byte("abcd")).bytes(), "simple packet block: a feedbus capture has only enhanced packet blocks"},
		{"obsolete packet block", valid().block(2, make([]byte, 20)).bytes(), "packet block: a feedbus capture"},
		{"frame on a missing line", valid().epb(1, ts, wireExample, 62).bytes(), "frame on interface 1 of 1"},
		{"statistics for a missing line", valid().block(5, p.u32(5), make([]byte, 8)).bytes(), "statistics for interface 5 of 1"},
		{"frame over the limit", valid().block(6, p.u32(0), p.u32(0), p.u32(0), p.u32(0x7fffffff), p.u32(0x7fffffff), []byte("tiny")).bytes(), "frame of 2147483647 bytes, limit 1048576"},
		{"frame past its block", valid().block(6, p.u32(0), p.u32(0), p.u32(0), p.u32(100), p.u32(100), []byte("tiny")).bytes(), "frame of 100 bytes in a block of 36"},
		{"block length not a multiple of 4", resized(101), "enhanced packet block of 101 bytes, want a multiple of 4 in [32, "},
		{"block length below the minimum", resized(8), "enhanced packet block of 8 bytes"},
		{"block length of 4 GiB", resized(0xfffffff0), "enhanced packet block of 4294967280 bytes"},
		{"trailer differs", withTrailer(good, 12), "ends with length 12"},
		{"frame cut short", valid().epb(0, ts, wireExample[:10], 62).bytes(), "frame on line A cut to 10 of its 62 bytes"},
		{"frame longer than its original", valid().epb(0, ts, wireExample, 10).bytes(), "frame on line A: captured length 62 over its original length 10"},
		{"time past 2262", newPcapng(le).shb().idb(147, 0, p.opt(14, le.AppendUint64(nil, 1<<62)), p.end()).epb(0, ts, wireExample, 62).bytes(), "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := readAll(tc.file)
			if err == nil {
				t.Fatalf("read %d frames and no error, want %q", len(recs), tc.want)
			}
			if !errors.Is(err, replay.ErrFormat) {
				t.Errorf("error %q does not match ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "capture: ") {
				t.Errorf("error %q, want capture: ...%s...", err, tc.want)
			}
		})
	}
}

func withBOM(b []byte, magic uint32) []byte {
	b = slices.Clone(b)
	le.PutUint32(b[8:], magic)
	return b
}

func withVersion(b []byte, major uint16) []byte {
	b = slices.Clone(b)
	le.PutUint16(b[12:], major)
	return b
}

func manyLines(n int) []byte {
	p := newPcapng(le).shb()
	for range n {
		p.line("L", "x")
	}
	return p.bytes()
}

// TestReaderTruncated cuts a real capture at every length: a cut between
// blocks is a shorter capture; any other cut is an error that says so.
func TestReaderTruncated(t *testing.T) {
	data := recorded(t)
	_, all, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	boundaries := map[int]bool{}
	for off := 0; off < len(data); off += int(le.Uint32(data[off+4:])) {
		boundaries[off] = true
	}
	// Once a line is described, a cut between blocks is a valid capture.
	shb := int(le.Uint32(data[4:]))
	firstLine := shb + int(le.Uint32(data[shb+4:]))
	for n := range len(data) {
		_, recs, err := readAll(data[:n])
		for i := range recs {
			if !bytes.Equal(recs[i].Frame, all[i].Frame) || recs[i].RecvTime != all[i].RecvTime {
				t.Fatalf("cut at %d: frame %d differs", n, i)
			}
		}
		switch {
		case boundaries[n] && n >= firstLine:
			if err != nil {
				t.Fatalf("cut between blocks at %d: %v", n, err)
			}
		case err == nil:
			t.Fatalf("cut at %d: no error", n)
		case !errors.Is(err, replay.ErrFormat):
			t.Fatalf("cut at %d: %v does not match ErrFormat", n, err)
		case n >= 8 && !boundaries[n] && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("cut inside a block at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

// TestReaderOtherWriters reads what other pcapng writers may produce from a
// capture: big-endian, microsecond timestamps, extra blocks and options.
func TestReaderOtherWriters(t *testing.T) {
	be := newPcapng(binary.BigEndian)
	p := be.shb(be.opt(4, []byte("editcap")), be.end()).
		idb(147, 65535, be.opt(2, []byte("A")), be.opt(3, []byte("ipc:///a")), be.opt(9, []byte{6}), be.end()).
		block(4, be.u16(0), be.u16(0)).                       // name resolution, skipped
		epb(0, 1_767_225_600_123_456, wireExample, 62).       // µs
		block(0x40000BAD, []byte("custom block, skipped")).   // a custom block
		idb(147, 0, be.opt(3, []byte("ipc:///b")), be.end()). // a line described late; no if_tsresol: µs
		block(6, be.u32(1), be.u32(0), be.u32(7), be.u32(40), be.u32(40), heartbeat, be.opt(1, []byte("a comment")), be.end())
	r, err := replay.NewReader(bytes.NewReader(p.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if l := r.Lines(); !slices.Equal(l, []string{"ipc:///a"}) {
		t.Fatalf("lines before the first frame %q", l)
	}
	var rec replay.Record
	if err := r.Next(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Line != 0 || rec.RecvTime != 1_767_225_600_123_456_000 || !bytes.Equal(rec.Frame, wireExample) {
		t.Fatalf("first frame: line %d at %d, % x", rec.Line, rec.RecvTime, rec.Frame)
	}
	if err := r.Next(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Line != 1 || rec.RecvTime != 7000 || !bytes.Equal(rec.Frame, heartbeat) {
		t.Fatalf("second frame: line %d at %d, % x", rec.Line, rec.RecvTime, rec.Frame)
	}
	if l := r.Lines(); !slices.Equal(l, []string{"ipc:///a", "ipc:///b"}) {
		t.Fatalf("lines at the end %q", l)
	}
	for range 2 { // io.EOF, and again
		if err := r.Next(&rec); err != io.EOF {
			t.Fatalf("at the end: %v, want io.EOF", err)
		}
	}
}

// TestReaderPowerOfTwoTimes reads times in the power-of-two resolutions
// the reader takes, 2^0 to 2^-9, exactly.
func TestReaderPowerOfTwoTimes(t *testing.T) {
	le := newPcapng(binary.LittleEndian)
	const sec, frac = 1_767_225_600, 3 // a time and a fraction of a second, frac / 2^e
	for e := range 10 {
		p := newPcapng(binary.LittleEndian).shb().idb(147, 0, le.opt(9, []byte{0x80 | byte(e)}), le.end()).
			epb(0, uint64(sec)<<e+frac%(1<<e), heartbeat, 40)
		_, recs, err := readAll(p.bytes())
		if err != nil || len(recs) != 1 {
			t.Fatalf("2^-%d: %d frames, %v", e, len(recs), err)
		}
		if want := int64(sec)*1e9 + int64(frac%(1<<e))*1e9>>e; recs[0].RecvTime != want {
			t.Errorf("2^-%d: time %d, want %d", e, recs[0].RecvTime, want)
		}
	}
}

func TestReaderNoFrames(t *testing.T) {
	lines, recs, err := readAll(writeCapture(t, sampleLines, nil))
	if err != nil || len(recs) != 0 || !slices.Equal(lines, sampleLines) {
		t.Fatalf("lines %q, %d frames, %v; want the lines, no frames, no error", lines, len(recs), err)
	}
}

// TestReaderErrorSticks checks that Next repeats its error instead of
// reading on from the middle of a block.
func TestReaderErrorSticks(t *testing.T) {
	data := valid().epb(0, ts, wireExample, 62).epb(7, ts, wireExample, 62).epb(0, ts, wireExample, 62).bytes()
	r, err := replay.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rec replay.Record
	if err := r.Next(&rec); err != nil {
		t.Fatal(err)
	}
	first := r.Next(&rec)
	if first == nil {
		t.Fatal("frame on line 7 of 1: no error")
	}
	if again := r.Next(&rec); again != first {
		t.Fatalf("after %v, Next returned %v", first, again)
	}
}

// TestToolsInterop checks that what tshark writes from a capture still
// reads, where tshark is installed.
func TestToolsInterop(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FEEDLAB_REQUIRE") != "" {
			t.Fatal("tshark is not installed; scripts/test installs it (apt-get install tshark)")
		}
		t.Skip("tshark not installed")
	}
	out := filepath.Join(t.TempDir(), "b.pcapng")
	in := filepath.Join(t.TempDir(), "in.pcapng")
	if err := os.WriteFile(in, recorded(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", in, "-Y", `frame.interface_name == "B"`, "-w", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines, recs, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lines, sampleLines) || len(recs) != 2 || recs[0].Line != 1 || recs[1].Line != 1 ||
		recs[1].RecvTime != sampleRecords()[2].RecvTime {
		t.Fatalf("tshark's line B: lines %q, frames %+v", lines, recs)
	}
}
