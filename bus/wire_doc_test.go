package bus

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/internal/wiredoc"
)

// docPath is the wire specification whose worked examples these tests pin.
const docPath = "../docs/wire.md"

// docHexBlocks returns the hex dumps of the docs/wire.md section whose
// heading contains key.
func docHexBlocks(t *testing.T, key string) [][]byte { return wiredoc.HexBlocks(t, docPath, key) }

// docDump formats b as docs/wire.md writes a dump.
func docDump(b []byte) string { return wiredoc.Dump(b) }

// checkDocBlock fails unless the doc's dump equals want byte for byte.
func checkDocBlock(t *testing.T, what string, doc, want []byte) {
	t.Helper()
	if !bytes.Equal(doc, want) {
		t.Errorf("%s: the dump in %s does not match the encoder (%d bytes documented, %d encoded); the encoder gives\n%s",
			what, docPath, len(doc), len(want), docDump(want))
	}
}

// docS2Frame builds the uncompressed frame of the S2 example: three AAPL
// quotes at 189.12 / 189.13 whose sizes change, with the header of the
// trade example.
func docS2Frame(t *testing.T) []byte {
	q := func(bidSize, askSize uint32) Message {
		return Message{Kind: KindQuote, Symbol: []byte("AAPL"), BidPrice: 189_12000000, AskPrice: 189_13000000,
			BidSize: bidSize, AskSize: askSize}
	}
	h := Header{Session: 0x0102030405060708, Stream: 9, FirstSeq: 5, SendTime: 0x1122334455667788}
	return buildFrame(t, h, []Message{q(300, 200), q(400, 200), q(300, 100)})
}

// docS2Wire is the S2 example as Compressor writes it, pinned here as well
// as in docs/wire.md. S2's output is not promised to be stable across
// klauspost/compress releases: if an upgrade changes it, regenerate the
// example (the test prints the new dump) and check that it still shows a
// repeat copy.
const docS2Wire = "" +
	"46 42 55 53 02 02 28 00 08 07 06 05 04 03 02 01 " +
	"09 00 00 00 03 00 00 00 05 00 00 00 00 00 00 00 " +
	"88 77 66 55 44 33 22 11 60 48 20 00 01 04 41 41 " +
	"50 4c 00 38 3e 67 04 00 00 00 40 7a 4d 05 08 1c " +
	"2c 01 00 00 c8 00 00 00 5e 20 00 00 90 15 00 17 " +
	"1c 2c 01 00 00 64 00 00 00"

// TestWireDocExamples checks every worked example in docs/wire.md against
// the encoder, byte for byte, and decodes the compressed one.
func TestWireDocExamples(t *testing.T) {
	t.Run("trade", func(t *testing.T) {
		h := Header{Session: 0x0102030405060708, Stream: 9, FirstSeq: 5, SendTime: 0x1122334455667788}
		want := buildFrame(t, h, []Message{{Kind: KindTrade, Symbol: []byte("AB"), Price: 3, Size: 4, Side: SideBuy}})
		blocks := docHexBlocks(t, "Example: a trade frame")
		if len(blocks) != 1 {
			t.Fatalf("%d dumps in the section, want 1", len(blocks))
		}
		checkDocBlock(t, "trade frame", blocks[0], want)
	})

	t.Run("application", func(t *testing.T) {
		h := Header{Session: 1, Stream: 2, FirstSeq: 3, SendTime: 4}
		want := buildFrame(t, h, []Message{{Kind: 200, Symbol: []byte("X"), Body: []byte("hi")}})
		blocks := docHexBlocks(t, "Example: an application message")
		if len(blocks) != 1 {
			t.Fatalf("%d dumps in the section, want 1", len(blocks))
		}
		checkDocBlock(t, "application message", blocks[0], want)
	})

	t.Run("s2", func(t *testing.T) {
		frame := docS2Frame(t)
		comp, err := NewCompressor(CodecS2, nil)
		if err != nil {
			t.Fatal(err)
		}
		wire := bytes.Clone(comp.Compress(frame))
		pinned, err := hex.DecodeString(strings.ReplaceAll(docS2Wire, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(wire, pinned) {
			t.Errorf("Compressor output changed; it is now\n%s", docDump(wire))
		}
		blocks := docHexBlocks(t, "Example: an S2-compressed frame")
		if len(blocks) != 2 {
			t.Fatalf("%d dumps in the section, want 2 (on the wire, after decompression)", len(blocks))
		}
		checkDocBlock(t, "S2 frame on the wire", blocks[0], wire)
		checkDocBlock(t, "S2 frame after decompression", blocks[1], frame)

		// The documented bytes, not the encoder's, must decode to the
		// documented messages.
		dec, err := NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		var f Frame
		if err := dec.Decode(blocks[0], &f); err != nil {
			t.Fatalf("Decoder.Decode of the documented frame: %v", err)
		}
		wantHdr := Header{Version: 2, Flags: 0, Session: 0x0102030405060708, Stream: 9, Count: 3, FirstSeq: 5,
			SendTime: 0x1122334455667788}
		if f.Header != wantHdr {
			t.Errorf("header = %+v, want %+v", f.Header, wantHdr)
		}
		var got []string
		var m Message
		for seq, ok := f.Next(&m); ok; seq, ok = f.Next(&m) {
			got = append(got, fmt.Sprintf("%d %v %s %d/%d %dx%d len %d", seq, m.Kind, m.Symbol,
				m.BidPrice, m.AskPrice, m.BidSize, m.AskSize, m.Len))
		}
		want := []string{
			"5 quote AAPL 18912000000/18913000000 300x200 len 32",
			"6 quote AAPL 18912000000/18913000000 400x200 len 32",
			"7 quote AAPL 18912000000/18913000000 300x100 len 32",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("decoded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The package-level Decode does not decompress.
		if err := Decode(blocks[0], &f); !errors.Is(err, ErrCodec) {
			t.Errorf("Decode of the compressed example: %v, want ErrCodec", err)
		}

		// The element walk-through in the document: each S2 element kind
		// but the 4-byte-offset copy appears, a repeat copy included, so
		// a plain Snappy decoder cannot read the example.
		body, ops, err := docS2DecodeBlock(blocks[0][HeaderLen:], false)
		if err != nil {
			t.Fatalf("decoding the example's body as the document describes: %v", err)
		}
		if !bytes.Equal(body, frame[HeaderLen:]) {
			t.Errorf("the document's S2 decoding gives\n% x\nwant\n% x", body, frame[HeaderLen:])
		}
		wantOps := "literal 19, copy 5 at 8, literal 8, copy 24 at 32, literal 1, repeat 31 at 32, literal 8"
		if s := strings.Join(ops, ", "); s != wantOps {
			t.Errorf("S2 elements: %s\nwant: %s (the walk-through table in %s)", s, wantOps, docPath)
		}
		if _, _, err := docS2DecodeBlock(blocks[0][HeaderLen:], true); err == nil {
			t.Error("a Snappy-only decoder read the example: the document says it cannot")
		}
	})
}

// docS2DecodeBlock decodes an S2 block exactly as docs/wire.md describes
// the format, independently of klauspost/compress, and lists its
// elements. With snappyOnly, a repeat copy (offset 0) is an error, as it
// is for a Snappy decoder.
func docS2DecodeBlock(src []byte, snappyOnly bool) ([]byte, []string, error) {
	want, k := binary.Uvarint(src)
	if k <= 0 || k > 5 || want > 0xffffffff {
		return nil, nil, errors.New("bad decoded-length varint")
	}
	src = src[k:]
	dst := make([]byte, 0, want)
	var ops []string
	last := 0 // offset of the previous copy; 0 before the first
	take := func(n int) ([]byte, error) {
		if n > len(src) {
			return nil, fmt.Errorf("element needs %d bytes, %d left", n, len(src))
		}
		b := src[:n]
		src = src[n:]
		return b, nil
	}
	le := func(b []byte) int {
		v := 0
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | int(b[i])
		}
		return v
	}
	for len(src) > 0 {
		tag := src[0]
		src = src[1:]
		var n, off int
		repeat := false
		switch tag & 3 {
		case 0: // literal
			n = int(tag>>2) + 1
			if n > 60 {
				b, err := take(n - 60)
				if err != nil {
					return nil, nil, err
				}
				n = le(b) + 1
			}
			b, err := take(n)
			if err != nil {
				return nil, nil, err
			}
			if uint64(len(dst)+n) > want {
				return nil, nil, errors.New("output longer than declared")
			}
			dst = append(dst, b...)
			ops = append(ops, fmt.Sprintf("literal %d", n))
			continue
		case 1: // copy, 1-byte offset, or a repeat
			b, err := take(1)
			if err != nil {
				return nil, nil, err
			}
			l := int(tag>>2) & 7
			off = int(tag>>5)<<8 | int(b[0])
			n = l + 4
			if off == 0 {
				if snappyOnly {
					return nil, nil, errors.New("copy with offset 0")
				}
				repeat = true
				off = last
				if l >= 5 {
					b, err := take(l - 4)
					if err != nil {
						return nil, nil, err
					}
					n = le(b) + []int{5: 8, 6: 260, 7: 65540}[l]
				}
			}
		case 2: // copy, 2-byte offset
			b, err := take(2)
			if err != nil {
				return nil, nil, err
			}
			n, off = int(tag>>2)+1, le(b)
		case 3: // copy, 4-byte offset
			b, err := take(4)
			if err != nil {
				return nil, nil, err
			}
			n, off = int(tag>>2)+1, le(b)
		}
		if off == 0 || off > len(dst) {
			return nil, nil, fmt.Errorf("copy offset %d with %d bytes decoded", off, len(dst))
		}
		if uint64(len(dst)+n) > want {
			return nil, nil, errors.New("output longer than declared")
		}
		for i := 0; i < n; i++ { // byte by byte: the source may overlap the output
			dst = append(dst, dst[len(dst)-off])
		}
		last = off
		if repeat {
			ops = append(ops, fmt.Sprintf("repeat %d at %d", n, off))
		} else {
			ops = append(ops, fmt.Sprintf("copy %d at %d", n, off))
		}
	}
	if uint64(len(dst)) != want {
		return nil, nil, fmt.Errorf("decoded %d bytes, declared %d", len(dst), want)
	}
	return dst, ops, nil
}

// TestWireDocS2Decoder checks that the S2 block format as docs/wire.md
// describes it is enough to read what Compressor writes: a decoder written
// from the document alone decodes realistic frames, padded and
// application messages included.
func TestWireDocS2Decoder(t *testing.T) {
	frames := feedFrames(t, 200)
	big := Header{Session: 5, FirstSeq: 1}
	var w FrameWriter
	w.Begin(&big)
	for i := 0; w.Len() < 200_000; i++ {
		m := Message{Kind: KindQuote, Symbol: []byte(fmt.Sprintf("S%03d", i%300)), BidPrice: int64(i % 977), AskPrice: int64(i % 13),
			BidSize: uint32(i), AskSize: 7, Len: 40 + i%200}
		if i%3 == 0 {
			m = Message{Kind: Kind(128 + i%128), Symbol: []byte("APP"), Body: bytes.Repeat([]byte{byte(i)}, i%700)}
		}
		if err := w.Add(&m); err != nil {
			t.Fatal(err)
		}
	}
	frames = append(frames, bytes.Clone(w.Finish(1)))
	comp, err := NewCompressor(CodecS2, nil)
	if err != nil {
		t.Fatal(err)
	}
	repeats := 0
	for i, fr := range frames {
		z := comp.Compress(fr)
		if codecOf(z[5]) != CodecS2 {
			continue
		}
		body, ops, err := docS2DecodeBlock(z[HeaderLen:], false)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(body, fr[HeaderLen:]) {
			t.Fatalf("frame %d: the document's S2 decoding differs from the body", i)
		}
		for _, op := range ops {
			if strings.HasPrefix(op, "repeat") {
				repeats++
			}
		}
	}
	if repeats == 0 {
		t.Error("no repeat copies seen: the frames do not exercise the S2 extension")
	}
}
