package bus

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// feedFrames builds n realistic frames: quotes and trades on a few
// symbols, prices walking, as feedpub sends them.
func feedFrames(t testing.TB, n int) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	syms := [][]byte{[]byte("AAPL"), []byte("MSFT"), []byte("ES.Z6"), []byte("EURUSD"), []byte("SYM00042")}
	var out [][]byte
	seq := uint64(1)
	var w FrameWriter
	for i := 0; i < n; i++ {
		h := Header{Session: 9, Stream: 1, FirstSeq: seq}
		w.Begin(&h)
		for w.Len() < 1300 {
			m := Message{Kind: KindQuote, Symbol: syms[rng.IntN(len(syms))], BidPrice: 100_00000000 + rng.Int64N(1000)*1000000,
				BidSize: uint32(rng.IntN(50)) * 100, AskSize: uint32(rng.IntN(50)) * 100, Len: 64}
			m.AskPrice = m.BidPrice + 1000000
			if rng.IntN(5) == 0 {
				m = Message{Kind: KindTrade, Symbol: m.Symbol, Price: m.BidPrice, Size: 100, Side: SideBuy, Len: 64}
			}
			if err := w.Add(&m); err != nil {
				t.Fatal(err)
			}
		}
		seq += uint64(w.Count())
		out = append(out, bytes.Clone(w.Finish(int64(i))))
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	frames := feedFrames(t, 200)
	dictionary, err := TrainDictionary(frames[:150], 8<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec Codec
		dict  []byte
	}{{"none", CodecNone, nil}, {"s2", CodecS2, nil}, {"zstd", CodecZstd, nil}, {"zstd+dict", CodecZstd, dictionary}} {
		t.Run(c.name, func(t *testing.T) {
			comp, err := NewCompressor(c.codec, c.dict)
			if err != nil {
				t.Fatal(err)
			}
			var dicts [][]byte
			if c.dict != nil {
				dicts = append(dicts, c.dict)
			}
			dec, err := NewDecoder(dicts...)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			in, out := 0, 0
			for _, fr := range frames[150:] {
				z := comp.Compress(fr)
				in, out = in+len(fr), out+len(z)
				if c.codec != CodecNone && codecOf(z[5]) != c.codec {
					t.Fatalf("frame not compressed with %v (flags %#x, %d -> %d bytes)", c.codec, z[5], len(fr), len(z))
				}
				var got, want Frame
				if err := dec.Decode(z, &got); err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if err := Decode(fr, &want); err != nil {
					t.Fatal(err)
				}
				if got.Header != want.Header || !bytes.Equal(got.body, want.body) {
					t.Fatalf("round trip changed the frame: %+v vs %+v", got.Header, want.Header)
				}
			}
			t.Logf("%s: %d -> %d bytes (%.2fx)", c.name, in, out, float64(in)/float64(out))
		})
	}
}

func TestCompressIncompressibleStaysRaw(t *testing.T) {
	var w FrameWriter
	w.Begin(&Header{Session: 1, FirstSeq: 1})
	rng := rand.New(rand.NewPCG(3, 4))
	sym := make([]byte, MaxSymbolLen)
	for i := 0; i < 10; i++ {
		for j := range sym {
			sym[j] = byte('A' + rng.IntN(26))
		}
		w.Add(&Message{Kind: KindTrade, Symbol: sym, Price: rng.Int64(), Size: rng.Uint32()})
	}
	fr := w.Finish(1)
	comp, _ := NewCompressor(CodecS2, nil)
	if z := comp.Compress(fr); &z[0] != &fr[0] && len(z) >= len(fr) {
		t.Fatalf("a compressed frame no smaller than the original was sent (%d >= %d)", len(z), len(fr))
	}
}

func TestDecoderRejectsBombsAndGarbage(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	hdr := AppendHeader(nil, &Header{Session: 1, FirstSeq: 1, Count: 1})
	big := make([]byte, 4*MaxFrameLen)
	s2hdr := bytes.Clone(hdr)
	s2hdr[5] = uint8(CodecS2) << 1
	zhdr := bytes.Clone(hdr)
	zhdr[5] = uint8(CodecZstd) << 1
	zenc, _ := zstd.NewWriter(nil)
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"s2 bomb", append(s2hdr, s2.Encode(nil, big)...), ErrTooLarge},
		{"zstd bomb", append(bytes.Clone(zhdr), zenc.EncodeAll(big, nil)...), ErrTooLarge},
		{"s2 garbage", append(bytes.Clone(s2hdr), 0x20, 0xff, 0xff, 0x01, 0x02), ErrCodec},
		{"zstd garbage", append(bytes.Clone(zhdr), 1, 2, 3, 4, 5, 6, 7, 8), ErrCodec},
		{"codec 7", func() []byte { b := bytes.Clone(hdr); b[5] = 7 << 1; return append(b, 1) }(), ErrCodec},
	}
	for _, c := range cases {
		var f Frame
		if err := dec.Decode(c.b, &f); !errors.Is(err, c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// The package-level Decode refuses compressed frames outright.
	var f Frame
	if err := Decode(append(s2hdr, 0), &f); !errors.Is(err, ErrCodec) {
		t.Errorf("Decode of a compressed frame: %v, want ErrCodec", err)
	}
}

func TestCodecNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	frames := feedFrames(t, 50)
	dictionary, err := TrainDictionary(frames, 8<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec Codec
		dict  []byte
		auth  bool // with an auth trailer, which the Decoder carries past the codec
	}{
		{"s2", CodecS2, nil, false}, {"zstd", CodecZstd, nil, false}, {"zstd+dict", CodecZstd, dictionary, false},
		{"s2+auth", CodecS2, nil, true}, {"zstd+auth", CodecZstd, nil, true},
	} {
		comp, _ := NewCompressor(c.codec, c.dict)
		var dicts [][]byte
		if c.dict != nil {
			dicts = append(dicts, c.dict)
		}
		dec, _ := NewDecoder(dicts...)
		var f Frame
		var m Message
		var signed []byte
		i := 0
		run := func() {
			z := comp.Compress(frames[i%len(frames)])
			i++
			if c.auth {
				signed = append(append(signed[:0], z...), make([]byte, AuthTrailerLen)...)
				signed[5] |= FlagAuth
				z = signed
			}
			if err := dec.Decode(z, &f); err != nil {
				t.Fatal(err)
			}
			for {
				if _, ok := f.Next(&m); !ok {
					break
				}
			}
		}
		for range 100 {
			run()
		}
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: compress+decode allocates %.1f times per frame after warm-up", c.name, n)
		}
		dec.Close()
	}
}

func FuzzDecoder(f *testing.F) {
	frames := feedFrames(f, 3)
	s2c, _ := NewCompressor(CodecS2, nil)
	zc, _ := NewCompressor(CodecZstd, nil)
	for _, fr := range frames {
		f.Add(bytes.Clone(fr))
		f.Add(bytes.Clone(s2c.Compress(fr)))
		f.Add(bytes.Clone(zc.Compress(fr)))
	}
	// Bombs: S2 and zstd of zeros, under and over the size limit.
	hdr := AppendHeader(nil, &Header{Session: 1, FirstSeq: 1, Count: 1})
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	for _, n := range []int{4 << 10, MaxFrameLen - HeaderLen, MaxFrameLen} {
		b := append(bytes.Clone(hdr), s2.Encode(nil, make([]byte, n))...)
		b[5] |= uint8(CodecS2) << 1
		f.Add(b)
		b = zenc.EncodeAll(make([]byte, n), bytes.Clone(hdr))
		b[5] |= uint8(CodecZstd) << 1
		f.Add(b)
	}
	zenc.Close()
	dec, err := NewDecoder()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		if err := dec.Decode(b, &fr); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if codecOf(b[5]) != CodecNone {
			// Nothing inflated past the ratio cap.
			hlen := int(b[6]) | int(b[7])<<8
			wire := len(b) - hlen
			if fr.Authenticated() {
				wire -= AuthTrailerLen
			}
			if float64(len(fr.body)) > DefaultMaxRatio*float64(wire) {
				t.Fatalf("a %d-byte body inflated to %d bytes, over the ratio cap", wire, len(fr.body))
			}
		}
		var m Message
		n := uint32(0)
		for {
			if _, ok := fr.Next(&m); !ok {
				break
			}
			n++
		}
		if n != fr.Count {
			t.Fatalf("Next yielded %d messages, header says %d", n, fr.Count)
		}
	})
}
