package bus_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/synth"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// The bounds a Decoder puts on compressed frames: accepted codecs, the
// declared size checked before inflating, one zstd frame with a content
// size, and the compression ratio cap.

var fullRatios = flag.Bool("ratios.full", false, "TestCompressionRatios: measure the whole grid (symbols, sizes, frame budgets up to 1 MiB)")

const bomb = 1 << 20 // a compression bomb inflates to this: 1 MiB of zeros

// synthFrames builds n frames of the synthetic feed as feedpub sends them:
// messages batched up to a frame budget of budget bytes.
func synthFrames(t testing.TB, symbols, size, budget, n int) [][]byte {
	t.Helper()
	src, err := synth.New(symbols, size, 1)
	if err != nil {
		t.Fatal(err)
	}
	var w bus.FrameWriter
	var m bus.Message
	var frames [][]byte
	seq := uint64(1)
	src.Next(&m)
	for len(frames) < n {
		w.Begin(&bus.Header{Session: 1, Stream: 1, FirstSeq: seq})
		for w.Count() == 0 || w.Len()+m.EncodedLen() <= budget {
			if err := w.Add(&m); err != nil {
				t.Fatal(err)
			}
			src.Next(&m)
		}
		seq += uint64(w.Count())
		frames = append(frames, bytes.Clone(w.Finish(int64(seq))))
	}
	return frames
}

// compressed returns a frame of one message (as its header says) whose
// body, in codec c, is body.
func compressed(c bus.Codec, body []byte) []byte {
	b := bus.AppendHeader(nil, &bus.Header{Session: 1, FirstSeq: 1, Count: 1})
	b[5] |= uint8(c) << 1
	return append(b, body...)
}

// recompressed returns frame fr with its body replaced by body, in codec c.
func recompressed(fr []byte, c bus.Codec, body []byte) []byte {
	b := bytes.Clone(fr[:bus.HeaderLen])
	b[5] |= uint8(c) << 1
	return append(b, body...)
}

func codecOf(frame []byte) bus.Codec { return bus.Codec(frame[5] >> 1 & 7) }

// ratio is the compression ratio of a compressed frame: the inflated
// body's size over the body's size on the wire.
func ratio(raw, z []byte) float64 {
	return float64(len(raw)-bus.HeaderLen) / float64(len(z)-bus.HeaderLen)
}

func s2Bomb(n int) []byte { return s2.Encode(nil, make([]byte, n)) }

func zstdBomb(t testing.TB, n int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(make([]byte, n), nil)
}

// zstdLying is a zstd frame whose header declares fcs bytes of content
// and whose one block is data, which does not decode: a decoder that
// reports the data's error has inflated, one that reports the size has
// not.
func zstdLying(fcs uint32, data []byte) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20 | 2<<6} // single segment, 4-byte Frame_Content_Size
	b = binary.LittleEndian.AppendUint32(b, fcs)
	bh := 1 | 2<<1 | uint32(len(data))<<3 // last block, compressed
	b = append(b, byte(bh), byte(bh>>8), byte(bh>>16))
	return append(b, data...)
}

// s2Lying is an S2 block that declares n bytes and holds data that does
// not decode.
func s2Lying(n uint64, data []byte) []byte {
	return append(binary.AppendUvarint(nil, n), data...)
}

var garbage = []byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4}

func newDecoder(t testing.TB, dicts ...[]byte) *bus.Decoder {
	t.Helper()
	d, err := bus.NewDecoder(dicts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// wantErr checks that decoding b fails with want (and ErrMalformed), and,
// if msg is not empty, that the error says msg.
func wantErr(t *testing.T, d *bus.Decoder, name string, b []byte, want error, msg string) {
	t.Helper()
	var f bus.Frame
	err := d.Decode(b, &f)
	switch {
	case !errors.Is(err, want) || !errors.Is(err, bus.ErrMalformed):
		t.Errorf("%s: error %v, want %v", name, err, want)
	case msg != "" && !strings.Contains(err.Error(), msg):
		t.Errorf("%s: error %q does not say %q", name, err, msg)
	}
}

func TestDecoderRefusesBombs(t *testing.T) {
	limit := bus.MaxFrameLen - bus.HeaderLen
	d := newDecoder(t)
	for _, c := range []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		// 1 MiB of zeros: over the size limit, from the declared size.
		{"s2 of 1 MiB of zeros", compressed(bus.CodecS2, s2Bomb(bomb)), bus.ErrTooLarge, "limit"},
		{"zstd of 1 MiB of zeros", compressed(bus.CodecZstd, zstdBomb(t, bomb)), bus.ErrTooLarge, "limit"},
		// Just under the size limit: the ratio cap refuses it.
		{"s2 of 1 MiB-40 of zeros", compressed(bus.CodecS2, s2Bomb(limit)), bus.ErrTooLarge, "ratio"},
		{"zstd of 1 MiB-40 of zeros", compressed(bus.CodecZstd, zstdBomb(t, limit)), bus.ErrTooLarge, "ratio"},
		// Declared sizes over the limit or the cap, with data that does
		// not decode: ErrTooLarge, not a data error, so the size was
		// checked before anything was inflated.
		{"s2 declaring 1 MiB, garbage data", compressed(bus.CodecS2, s2Lying(bomb, garbage)), bus.ErrTooLarge, "limit"},
		{"zstd declaring 1 MiB, garbage data", compressed(bus.CodecZstd, zstdLying(bomb, garbage)), bus.ErrTooLarge, "limit"},
		{"s2 declaring 500 KB, garbage data", compressed(bus.CodecS2, s2Lying(500_000, garbage)), bus.ErrTooLarge, "ratio"},
		{"zstd declaring 500 KB, garbage data", compressed(bus.CodecZstd, zstdLying(500_000, garbage)), bus.ErrTooLarge, "ratio"},
		{"s2 declaring 4 GiB", compressed(bus.CodecS2, s2Lying(math.MaxUint32, garbage)), bus.ErrTooLarge, "limit"},
		{"zstd declaring 4 GiB", compressed(bus.CodecZstd, zstdLying(math.MaxUint32, garbage)), bus.ErrTooLarge, "limit"},
		// A small declared size, within the cap, but a window that would
		// let one block inflate to 128 KiB before the overrun shows.
		{"zstd declaring 256 bytes in a 1 MiB window", compressed(bus.CodecZstd, zstdWideWindow(t)), bus.ErrTooLarge, "window"},
	} {
		wantErr(t, d, c.name, c.b, c.want, c.msg)
	}

	// Refusing a bomb allocates no room for it: a fresh decoder refuses
	// each one a hundred times with a few hundred bytes of garbage (error
	// messages) per refusal, not the 1 MiB inflating would have needed.
	for _, b := range [][]byte{
		compressed(bus.CodecS2, s2Bomb(bomb)), compressed(bus.CodecZstd, zstdBomb(t, bomb)),
		compressed(bus.CodecS2, s2Bomb(limit)), compressed(bus.CodecZstd, zstdBomb(t, limit)),
	} {
		fresh := newDecoder(t)
		var f bus.Frame
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			if fresh.Decode(b, &f) == nil {
				t.Fatal("a bomb decoded")
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 100*4<<10 {
			t.Errorf("refusing a %v bomb 100 times allocated %d bytes", codecOf(b), n)
		}
	}

	// The same garbage with a modest declared size is inflated, and fails
	// as bad data: what the cases above did not get to.
	wantErr(t, d, "s2 declaring 100 bytes, garbage data", compressed(bus.CodecS2, s2Lying(100, garbage)), bus.ErrCodec, "")
	wantErr(t, d, "zstd declaring 100 bytes, garbage data", compressed(bus.CodecZstd, zstdLying(100, garbage)), bus.ErrCodec, "")

	// Without the cap, the ratio bombs are inflated and fail only as
	// frames (a message of zeros has no symbol); the size limit still
	// holds.
	if err := d.SetMaxRatio(0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, d, "s2 bomb, no cap", compressed(bus.CodecS2, s2Bomb(limit)), bus.ErrSymbol, "")
	wantErr(t, d, "zstd bomb, no cap", compressed(bus.CodecZstd, zstdBomb(t, limit)), bus.ErrSymbol, "")
	wantErr(t, d, "zstd declaring 500 KB, garbage data, no cap", compressed(bus.CodecZstd, zstdLying(500_000, garbage)), bus.ErrCodec, "")
	wantErr(t, d, "zstd of 1 MiB of zeros, no cap", compressed(bus.CodecZstd, zstdBomb(t, bomb)), bus.ErrTooLarge, "limit")
}

func TestDecoderZstdOneFrameWithContentSize(t *testing.T) {
	d := newDecoder(t)
	fr := synthFrames(t, 100, 64, 1400, 1)[0]
	body := fr[bus.HeaderLen:]
	enc := func(opts ...zstd.EOption) []byte {
		e, err := zstd.NewWriter(nil, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		return e.EncodeAll(body, nil)
	}
	one := enc(zstd.WithSingleSegment(true))
	var f bus.Frame
	if err := d.Decode(recompressed(fr, bus.CodecZstd, one), &f); err != nil {
		t.Fatalf("one frame with a content size: %v", err)
	}
	// Any such frame, not just the Compressor's: a checksum, or a window
	// descriptor instead of a single segment, is fine.
	if err := d.Decode(recompressed(fr, bus.CodecZstd, enc(zstd.WithSingleSegment(false), zstd.WithEncoderCRC(true))), &f); err != nil {
		t.Fatalf("one frame with a window and a checksum: %v", err)
	}

	// Without WithSingleSegment, the encoder leaves the content size out
	// of a small frame's header: such frames exist.
	small := body[:100]
	e, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	noFCS := e.EncodeAll(small, nil)
	e.Close()
	var h zstd.Header
	if err := h.Decode(noFCS); err != nil || h.HasFCS {
		t.Fatalf("premise: zstd of 100 bytes without single segment has a content size (%+v, %v)", h, err)
	}
	skippable := binary.LittleEndian.AppendUint32([]byte{0x50, 0x2a, 0x4d, 0x18}, 4)
	skippable = append(skippable, 1, 2, 3, 4)
	// A 256-byte frame that asks for an 8 MiB window: a 2-byte content
	// size (256 + 0), window exponent 13 (2^23), one last RLE block of 256
	// zeros.
	windowed := []byte{0x28, 0xb5, 0x2f, 0xfd, 1 << 6, 13 << 3, 0, 0}
	bh := 1 | 1<<1 | 256<<3
	windowed = append(windowed, byte(bh), byte(bh>>8), byte(bh>>16), 0)
	for _, c := range []struct {
		name string
		body []byte
		want error
		msg  string
	}{
		{"no content size", noFCS, bus.ErrCodec, "content size"},
		{"two frames", append(bytes.Clone(one), one...), bus.ErrCodec, "exactly one frame"},
		{"a frame and a skippable frame", append(bytes.Clone(one), skippable...), bus.ErrCodec, "exactly one frame"},
		{"a skippable frame", skippable, bus.ErrCodec, "skippable"},
		{"a skippable frame and a frame", append(bytes.Clone(skippable), one...), bus.ErrCodec, "skippable"},
		{"a byte after the frame", append(bytes.Clone(one), 0), bus.ErrCodec, "exactly one frame"},
		{"truncated", one[:len(one)-1], bus.ErrCodec, "truncated"},
		{"header only", one[:6], bus.ErrCodec, ""},
		{"empty", nil, bus.ErrCodec, ""},
		{"8 MiB window", windowed, bus.ErrTooLarge, "window"},
		{"raw block over the content size", zstdBlocks(256, false, raw(300)), bus.ErrCodec, "declared 256"},
		{"RLE blocks over the content size", zstdBlocks(256, false, rle(200), rle(200)), bus.ErrCodec, "declared 256"},
		{"block over the window", zstdBlocks(100, true, raw(1025)), bus.ErrCodec, "limit 1024"},
		{"blocks matching the content size", zstdBlocks(300, false, raw(100), rle(200)), nil, ""},
	} {
		if c.want == nil {
			// Valid zstd, refused only later, as a frame.
			wantErr(t, d, c.name, recompressed(fr, bus.CodecZstd, c.body), bus.ErrSymbol, "")
			continue
		}
		wantErr(t, d, c.name, recompressed(fr, bus.CodecZstd, c.body), c.want, c.msg)
	}
}

// A zstd block: its header's type and size, and its bytes in the frame.
type zblock struct {
	typ, size int
	data      []byte
}

func raw(n int) zblock { return zblock{0, n, make([]byte, n)} }
func rle(n int) zblock { return zblock{1, n, []byte{0}} }

// zstdBlocks is a zstd frame declaring fcs bytes of content (in a 2-byte
// field, so 256 or more, or single segment) made of the given blocks.
func zstdBlocks(fcs int, single bool, blocks ...zblock) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd}
	if single {
		b = append(b, 0x20|2<<6)
		b = binary.LittleEndian.AppendUint32(b, uint32(fcs))
	} else {
		b = append(b, 1<<6, 0) // window 1 KiB
		b = binary.LittleEndian.AppendUint16(b, uint16(fcs-256))
	}
	for i, k := range blocks {
		bh := k.typ<<1 | k.size<<3
		if i == len(blocks)-1 {
			bh |= 1
		}
		b = append(b, byte(bh), byte(bh>>8), byte(bh>>16))
		b = append(b, k.data...)
	}
	return b
}

// TestCompressorDeclaresContentSize: every zstd frame the Compressor
// makes is one frame that declares its content size, whatever the body's
// size, with or without a dictionary, so a Decoder takes all of them.
func TestCompressorDeclaresContentSize(t *testing.T) {
	frames := synthFrames(t, 100, 64, 1400, 300)
	dict, err := bus.TrainDictionary(frames[:200], 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	// Frames of 1 to 21 messages: a partial frame, flushed by the
	// publisher's max delay, has a body of tens of bytes.
	var tests [][]byte
	src, _ := synth.New(100, 64, 2)
	var w bus.FrameWriter
	var m bus.Message
	for n := 1; n <= 21; n++ {
		w.Begin(&bus.Header{Session: 1, FirstSeq: 1})
		for range n {
			src.Next(&m)
			if err := w.Add(&m); err != nil {
				t.Fatal(err)
			}
		}
		tests = append(tests, bytes.Clone(w.Finish(1)))
	}
	for _, size := range []int{0, 64} {
		tests = append(tests, synthFrames(t, 18, size, 1400, 20)...)
		tests = append(tests, synthFrames(t, 18, size, 65536, 2)...)
	}
	for _, dc := range []struct {
		name string
		dict []byte
	}{{"zstd", nil}, {"zstd+dict", dict}} {
		comp, err := bus.NewCompressor(bus.CodecZstd, dc.dict)
		if err != nil {
			t.Fatal(err)
		}
		var dicts [][]byte
		if dc.dict != nil {
			dicts = append(dicts, dc.dict)
		}
		d := newDecoder(t, dicts...)
		sent := 0
		for _, fr := range tests {
			z := comp.Compress(fr)
			if codecOf(z) != bus.CodecZstd {
				continue
			}
			sent++
			body := z[bus.HeaderLen:]
			var h zstd.Header
			if err := h.Decode(body); err != nil {
				t.Fatal(err)
			}
			if !h.HasFCS || h.FrameContentSize != uint64(len(fr)-bus.HeaderLen) || h.Skippable {
				t.Errorf("%s: %d-byte body: content size %v %d, want %d", dc.name, len(fr)-bus.HeaderLen, h.HasFCS, h.FrameContentSize, len(fr)-bus.HeaderLen)
			}
			var f bus.Frame
			if err := d.Decode(z, &f); err != nil {
				t.Errorf("%s: %d-byte body: %v", dc.name, len(fr)-bus.HeaderLen, err)
			}
		}
		if sent < len(tests)/2 {
			t.Errorf("%s: only %d of %d frames were sent compressed", dc.name, sent, len(tests))
		}
	}
}

func TestDecoderAccept(t *testing.T) {
	frames := synthFrames(t, 100, 64, 1400, 3)
	s2c, _ := bus.NewCompressor(bus.CodecS2, nil)
	zc, _ := bus.NewCompressor(bus.CodecZstd, nil)
	raw := frames[0]
	s2f := bytes.Clone(s2c.Compress(frames[1]))
	zf := bytes.Clone(zc.Compress(frames[2]))
	heartbeat := bus.AppendHeader(nil, &bus.Header{Session: 1, FirstSeq: 7, Flags: bus.FlagHeartbeat})
	if codecOf(s2f) != bus.CodecS2 || codecOf(zf) != bus.CodecZstd {
		t.Fatal("premise: the frames did not compress")
	}
	for _, c := range []struct {
		name   string
		accept []bus.Codec // nil: NewDecoder's default
		s2, z  bool
	}{
		{"default", nil, true, true},
		{"none", []bus.Codec{}, false, false},
		{"none, listed", []bus.Codec{bus.CodecNone}, false, false},
		{"s2", []bus.Codec{bus.CodecS2}, true, false},
		{"none and s2", []bus.Codec{bus.CodecNone, bus.CodecS2}, true, false},
		{"zstd", []bus.Codec{bus.CodecZstd}, false, true},
		{"all", []bus.Codec{bus.CodecNone, bus.CodecS2, bus.CodecZstd}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDecoder(t)
			if c.accept != nil {
				if err := d.Accept(c.accept...); err != nil {
					t.Fatal(err)
				}
			}
			if !d.Accepts(bus.CodecNone) || d.Accepts(bus.CodecS2) != c.s2 || d.Accepts(bus.CodecZstd) != c.z {
				t.Errorf("Accepts: none %v s2 %v zstd %v, want true %v %v", d.Accepts(bus.CodecNone), d.Accepts(bus.CodecS2), d.Accepts(bus.CodecZstd), c.s2, c.z)
			}
			var f bus.Frame
			for _, b := range [][]byte{raw, heartbeat} {
				if err := d.Decode(b, &f); err != nil {
					t.Errorf("uncompressed frame: %v", err)
				}
			}
			for _, k := range []struct {
				b      []byte
				accept bool
				bomb   []byte
			}{{s2f, c.s2, compressed(bus.CodecS2, s2Bomb(bomb))}, {zf, c.z, compressed(bus.CodecZstd, zstdLying(bomb, garbage))}} {
				name := codecOf(k.b).String()
				if k.accept {
					if err := d.Decode(k.b, &f); err != nil {
						t.Errorf("%s frame: %v", name, err)
					}
					continue
				}
				wantErr(t, d, name+" frame", k.b, bus.ErrCodec, "does not accept")
				// Refused for its codec, not for its size: its body was
				// not looked at.
				wantErr(t, d, name+" bomb", k.bomb, bus.ErrCodec, "does not accept")
			}
		})
	}
	d := newDecoder(t)
	if err := d.Accept(bus.CodecS2); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []bus.Codec{3, 7, 255} {
		if err := d.Accept(bus.CodecZstd, bad); !errors.Is(err, bus.ErrOption) {
			t.Errorf("Accept(%v): %v, want ErrOption", bad, err)
		}
	}
	if d.Accepts(bus.CodecZstd) || !d.Accepts(bus.CodecS2) {
		t.Error("a failed Accept changed what the decoder accepts")
	}
	if d.Accepts(3) {
		t.Error("Accepts(3)")
	}
	// Codecs 3-7 stay ErrCodec.
	wantErr(t, d, "codec 5", compressed(5, []byte{1, 2, 3}), bus.ErrCodec, "codec 5")
}

func TestDecoderSetMaxRatio(t *testing.T) {
	d := newDecoder(t)
	if d.MaxRatio() != bus.DefaultMaxRatio {
		t.Errorf("MaxRatio %v, want DefaultMaxRatio %v", d.MaxRatio(), bus.DefaultMaxRatio)
	}
	for _, r := range []float64{-1, 0.5, math.NaN(), math.Inf(-1)} {
		if err := d.SetMaxRatio(r); !errors.Is(err, bus.ErrOption) {
			t.Errorf("SetMaxRatio(%v): %v, want ErrOption", r, err)
		}
	}
	if d.MaxRatio() != bus.DefaultMaxRatio {
		t.Errorf("a failed SetMaxRatio changed the cap to %v", d.MaxRatio())
	}
	for _, r := range []float64{0, 1, 10, math.Inf(1)} {
		if err := d.SetMaxRatio(r); err != nil || d.MaxRatio() != r {
			t.Errorf("SetMaxRatio(%v): %v, MaxRatio %v", r, err, d.MaxRatio())
		}
	}

	// The cap is inclusive: a frame at exactly the cap decodes, one a
	// little over it is refused.
	fr := synthFrames(t, 1, 64, 8192, 1)[0]
	for _, codec := range []bus.Codec{bus.CodecS2, bus.CodecZstd} {
		comp, _ := bus.NewCompressor(codec, nil)
		z := comp.Compress(fr)
		r := ratio(fr, z)
		var f bus.Frame
		if err := d.SetMaxRatio(r); err != nil {
			t.Fatal(err)
		}
		if err := d.Decode(z, &f); err != nil {
			t.Errorf("%v: ratio %.2f, cap %.2f: %v", codec, r, r, err)
		}
		if err := d.SetMaxRatio(r * 0.99); err != nil {
			t.Fatal(err)
		}
		wantErr(t, d, fmt.Sprintf("%v at ratio %.2f, cap %.2f", codec, r, r*0.99), z, bus.ErrTooLarge, fmt.Sprintf("ratio of %.1f", r))
	}
}

// TestDecoderAuthTrailer: a signed frame's auth trailer follows the
// compressed body and is not compressed; the Decoder inflates the body
// alone and puts the trailer back after it, and the size limit counts it.
func TestDecoderAuthTrailer(t *testing.T) {
	fr := synthFrames(t, 100, 64, 1400, 1)[0]
	trailer := bytes.Repeat([]byte{0xa5}, bus.AuthTrailerLen)
	sign := func(b []byte) []byte {
		b = append(bytes.Clone(b), trailer...)
		b[5] |= bus.FlagAuth
		return b
	}
	d := newDecoder(t)
	var want, got bus.Frame
	if err := bus.Decode(sign(fr), &want); err != nil {
		t.Fatal(err)
	}
	for _, codec := range []bus.Codec{bus.CodecS2, bus.CodecZstd} {
		comp, _ := bus.NewCompressor(codec, nil)
		z := sign(comp.Compress(fr))
		if codecOf(z) != codec {
			t.Fatalf("premise: %v did not compress", codec)
		}
		if err := d.Decode(z, &got); err != nil {
			t.Fatalf("%v: %v", codec, err)
		}
		if got.Header != want.Header || !got.Authenticated() {
			t.Errorf("%v: header %+v, want %+v", codec, got.Header, want.Header)
		}
		var a, b bus.Message
		for {
			_, ok1 := got.Next(&a)
			_, ok2 := want.Next(&b)
			if ok1 != ok2 || ok1 && (!bytes.Equal(a.Symbol, b.Symbol) || a.Kind != b.Kind || a.BidPrice != b.BidPrice || a.Price != b.Price) {
				t.Fatalf("%v: messages differ: %+v, want %+v", codec, a, b)
			}
			if !ok1 {
				break
			}
		}
		if err := bus.Decode(sign(fr), &want); err != nil { // rewind
			t.Fatal(err)
		}
	}
	// With the trailer, a body may declare 20 bytes less.
	full := bus.MaxFrameLen - bus.HeaderLen
	wantErr(t, d, "signed s2 body declaring MaxFrameLen-hlen", sign(compressed(bus.CodecS2, s2Lying(uint64(full), garbage))), bus.ErrTooLarge,
		fmt.Sprintf("limit %d", full-bus.AuthTrailerLen))
}

// TestCompressionRatios measures the compression ratio of frames as
// feedpub builds them, and checks that every one decodes under the
// default cap with room to spare. -v prints the table; -ratios.full
// measures the whole grid behind DefaultMaxRatio's numbers:
//
//	go test ./bus/ -run TestCompressionRatios -v -ratios.full
func TestCompressionRatios(t *testing.T) {
	type config struct{ symbols, size, budget, frames int }
	var grid []config
	symbols, budgets := []int{1, 100}, []int{1400, 65536}
	if *fullRatios {
		symbols, budgets = []int{1, 18, 100, 10_000}, []int{1400, 8192, 65536, bus.MaxFrameLen}
	}
	if testing.Short() {
		symbols, budgets = []int{1}, []int{1400}
	}
	for _, size := range []int{0, 64} { // natural size, and feedpub's default padding
		for _, sy := range symbols {
			for _, b := range budgets {
				grid = append(grid, config{sy, size, b, max(20, 2000*1400/b)})
			}
		}
	}
	worst := map[string]float64{}
	t.Logf("%-5s %-7s %-8s %-10s %6s %6s", "size", "symbols", "budget", "codec", "mean", "max")
	for _, c := range grid {
		frames := synthFrames(t, c.symbols, c.size, c.budget, c.frames)
		var dict []byte
		if c.budget < bus.MaxFrameLen { // the dictionary builder fails on 1 MiB samples
			// feedpub --train-dict trains on the frames it then sends.
			d, err := bus.TrainDictionary(frames, 16<<10)
			if err != nil {
				t.Fatal(err)
			}
			dict = d
		}
		for _, k := range []struct {
			name  string
			codec bus.Codec
			dict  []byte
		}{{"s2", bus.CodecS2, nil}, {"zstd", bus.CodecZstd, nil}, {"zstd+dict", bus.CodecZstd, dict}} {
			if k.name == "zstd+dict" && dict == nil {
				continue
			}
			comp, err := bus.NewCompressor(k.codec, k.dict)
			if err != nil {
				t.Fatal(err)
			}
			var dicts [][]byte
			if k.dict != nil {
				dicts = append(dicts, k.dict)
			}
			d := newDecoder(t, dicts...)
			sum, hi, n := 0.0, 0.0, 0
			for _, fr := range frames {
				z := comp.Compress(fr)
				if codecOf(z) == bus.CodecNone {
					continue
				}
				r := ratio(fr, z)
				sum, hi, n = sum+r, max(hi, r), n+1
				var f bus.Frame
				if err := d.Decode(z, &f); err != nil {
					t.Fatalf("%+v %s: frame at ratio %.2f: %v", c, k.name, r, err)
				}
			}
			if n == 0 {
				continue
			}
			t.Logf("%-5d %-7d %-8d %-10s %6.2f %6.2f", c.size, c.symbols, c.budget, k.name, sum/float64(n), hi)
			key := fmt.Sprintf("size %d, %s", c.size, k.name)
			worst[key] = max(worst[key], hi)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(worst)) {
		r := worst[k]
		t.Logf("worst %-20s %6.2f", k, r)
		// A safe margin: the worst real frame is well under the cap.
		if r > bus.DefaultMaxRatio/4 {
			t.Errorf("%s: frames reach a ratio of %.2f, too close to DefaultMaxRatio %v", k, r, bus.DefaultMaxRatio)
		}
	}
}

// BenchmarkDecodeBomb is the cost of refusing a compression bomb, per
// frame, next to decoding a normal compressed frame and to what a bomb
// cost before the ratio cap (inflated, then rejected as a frame).
func BenchmarkDecodeBomb(b *testing.B) {
	limit := bus.MaxFrameLen - bus.HeaderLen
	frames := synthFrames(b, 100, 64, 1400, 64)
	s2c, _ := bus.NewCompressor(bus.CodecS2, nil)
	zc, _ := bus.NewCompressor(bus.CodecZstd, nil)
	compressAll := func(c *bus.Compressor) [][]byte {
		var out [][]byte
		for _, fr := range frames {
			out = append(out, bytes.Clone(c.Compress(fr)))
		}
		return out
	}
	s2Near, zstdNear := nearCap(b, bus.CodecS2, limit), nearCap(b, bus.CodecZstd, limit)
	notAccepted := newDecoder(b)
	notAccepted.Accept()
	cases := []struct {
		name   string
		frames [][]byte
		cap    float64
		ok     bool
	}{
		{"normal/s2", compressAll(s2c), bus.DefaultMaxRatio, true},
		{"normal/zstd", compressAll(zc), bus.DefaultMaxRatio, true},
		{"refused/s2-1MiB", [][]byte{compressed(bus.CodecS2, s2Bomb(bomb))}, bus.DefaultMaxRatio, false},
		{"refused/zstd-1MiB", [][]byte{compressed(bus.CodecZstd, zstdBomb(b, bomb))}, bus.DefaultMaxRatio, false},
		{"refused/s2-ratio", [][]byte{compressed(bus.CodecS2, s2Bomb(limit))}, bus.DefaultMaxRatio, false},
		{"refused/zstd-ratio", [][]byte{compressed(bus.CodecZstd, zstdBomb(b, limit))}, bus.DefaultMaxRatio, false},
		{"refused/zstd-wide-window", [][]byte{compressed(bus.CodecZstd, zstdWideWindow(b))}, bus.DefaultMaxRatio, false},
		{"refused/not-accepted", [][]byte{compressed(bus.CodecZstd, zstdBomb(b, limit))}, -1, false},
		// What a bomb cost before the cap: inflated, then rejected as a
		// frame (a message of zeros has no symbol).
		{"uncapped/s2-ratio", [][]byte{compressed(bus.CodecS2, s2Bomb(limit))}, 0, false},
		{"uncapped/zstd-ratio", [][]byte{compressed(bus.CodecZstd, zstdBomb(b, limit))}, 0, false},
		// The worst a hostile frame can do under the cap: a body that
		// declares 1 MiB at a ratio just under it, inflated, then rejected.
		{"under-cap/s2", [][]byte{compressed(bus.CodecS2, s2Near)}, bus.DefaultMaxRatio, false},
		{"under-cap/zstd", [][]byte{compressed(bus.CodecZstd, zstdNear)}, bus.DefaultMaxRatio, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := notAccepted
			if c.cap >= 0 {
				d = newDecoder(b)
				if err := d.SetMaxRatio(c.cap); err != nil {
					b.Fatal(err)
				}
			}
			wire := 0
			for _, fr := range c.frames {
				wire += len(fr)
			}
			var f bus.Frame
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				err := d.Decode(c.frames[i%len(c.frames)], &f)
				if (err == nil) != c.ok {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(wire)/float64(len(c.frames)), "wire-B/frame")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*float64(len(c.frames))/float64(wire), "ns/wire-B")
		})
	}
}

// nearCap returns a body in codec c that inflates to n bytes at a ratio
// just under DefaultMaxRatio: zeros with a random byte every so often.
func nearCap(t testing.TB, c bus.Codec, n int) []byte {
	t.Helper()
	comp, err := bus.NewCompressor(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for gap := 8; gap < n; gap = gap*21/20 + 1 {
		data := make([]byte, n)
		for i := 0; i < n; i += gap {
			data[i] = byte(rng.Uint32())
		}
		frame := append(bus.AppendHeader(nil, &bus.Header{Session: 1, FirstSeq: 1, Count: 1}), data...)
		z := comp.Compress(frame)
		if r := ratio(frame, z); r > bus.DefaultMaxRatio*0.9 && r <= bus.DefaultMaxRatio {
			return bytes.Clone(z[bus.HeaderLen:])
		}
	}
	t.Fatalf("no %v body with a ratio just under %v", c, bus.DefaultMaxRatio)
	return nil
}

// zstdWideWindow is a zstd frame that declares 256 bytes of content and a
// 1 MiB window, and whose block inflates to 128 KiB: a decoder that
// trusted the window would inflate the whole block before it saw the
// content size overrun.
func zstdWideWindow(t testing.TB) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithSingleSegment(false), zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src := e.EncodeAll(make([]byte, 128<<10), nil)
	var h zstd.Header
	if err := h.Decode(src); err != nil || !h.FirstBlock.OK || !h.FirstBlock.Last {
		t.Fatalf("premise: 128 KiB of zeros is not one block: %+v %v", h, err)
	}
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 1 << 6, (20 - 10) << 3, 0, 0} // 2-byte content size: 256; window 2^20
	return append(b, src[h.HeaderSize:]...)
}
