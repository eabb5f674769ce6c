package bus

import (
	"bytes"
	"errors"
	"testing"
)

// fakeTrailer stands in for an auth trailer: package bus never checks
// one, it only sets it aside.
var fakeTrailer = bytes.Repeat([]byte{0xA5}, AuthTrailerLen)

// withTrailer marks frame authenticated and appends a trailer.
func withTrailer(frame []byte) []byte {
	b := append(bytes.Clone(frame), fakeTrailer...)
	b[5] |= FlagAuth
	return b
}

func TestDecodeAuth(t *testing.T) {
	h := Header{Session: 0xabc, Stream: 7, FirstSeq: 100, SendTime: 12345}
	plain := buildFrame(t, h, sampleMessages())
	signed := withTrailer(plain)

	var want, f Frame
	if err := Decode(plain, &want); err != nil {
		t.Fatal(err)
	}
	if err := Decode(signed, &f); err != nil {
		t.Fatalf("Decode of an authenticated frame: %v", err)
	}
	if !f.Authenticated() || want.Authenticated() {
		t.Errorf("Authenticated() = %v for the signed frame, %v for the plain one", f.Authenticated(), want.Authenticated())
	}
	if f.Flags != FlagAuth || f.Count != want.Count || f.FirstSeq != want.FirstSeq || f.SendTime != want.SendTime {
		t.Errorf("header %+v, want %+v with FlagAuth", f.Header, want.Header)
	}
	// The body ends where the trailer starts: the same messages, and
	// nothing of the trailer.
	if !bytes.Equal(f.body, want.body) {
		t.Errorf("body is %d bytes, want %d (the trailer must not be body)", len(f.body), len(want.body))
	}
	var m, wm Message
	n := 0
	for seq, ok := f.Next(&m); ok; seq, ok = f.Next(&m) {
		wseq, _ := want.Next(&wm)
		if seq != wseq || m.Kind != wm.Kind || !bytes.Equal(m.Symbol, wm.Symbol) || m.Len != wm.Len {
			t.Errorf("message %d: %d %+v, want %d %+v", n, seq, m, wseq, wm)
		}
		n++
	}
	if n != len(sampleMessages()) {
		t.Errorf("%d messages, want %d", n, len(sampleMessages()))
	}

	// A heartbeat with a trailer: its body is empty, the trailer aside.
	hb := withTrailer(buildFrame(t, Header{Flags: FlagHeartbeat, Session: 1, FirstSeq: 9}, nil))
	if len(hb) != HeaderLen+AuthTrailerLen {
		t.Fatalf("authenticated heartbeat is %d bytes", len(hb))
	}
	if err := Decode(hb, &f); err != nil || !f.Heartbeat() || !f.Authenticated() {
		t.Errorf("authenticated heartbeat: %v, header %+v", err, f.Header)
	}
	end := withTrailer(buildFrame(t, Header{Flags: FlagHeartbeat | FlagEnd, Session: 1, FirstSeq: 9}, nil))
	if err := Decode(end, &f); err != nil || !f.End() || !f.Authenticated() {
		t.Errorf("authenticated end of session: %v, header %+v", err, f.Header)
	}
}

func TestDecodeAuthRejects(t *testing.T) {
	h := Header{Session: 1, FirstSeq: 1}
	plain := buildFrame(t, h, sampleMessages()[:1])
	signed := withTrailer(plain)
	hb := withTrailer(buildFrame(t, Header{Flags: FlagHeartbeat, Session: 1, FirstSeq: 9}, nil))
	flagOnly := bytes.Clone(plain)
	flagOnly[5] |= FlagAuth
	longHeader := bytes.Clone(hb)
	longHeader[6] = HeaderLen + AuthTrailerLen - 1 // hlen leaves 1 byte short of a trailer
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		// A frame shorter than header plus trailer.
		{"heartbeat, trailer cut by 1", hb[:len(hb)-1], ErrTruncated},
		{"header and FlagAuth only", hb[:HeaderLen], ErrTruncated},
		{"longer header eats the trailer", longHeader, ErrTruncated},
		// The flag without a trailer: the last 20 bytes of the message
		// are taken as the trailer, so the message is cut short.
		{"flag without trailer", flagOnly, ErrTruncated},
		// A trailer without the flag is trailing bytes.
		{"trailer without flag", append(bytes.Clone(plain), fakeTrailer...), ErrTrailing},
		// One byte of body after a heartbeat, before its trailer.
		{"heartbeat with a body", withTrailer(append(buildFrame(t, Header{Flags: FlagHeartbeat, Session: 1, FirstSeq: 9}, nil), 0)), ErrHeader},
		{"bit 6", func() []byte { b := bytes.Clone(signed); b[5] |= 1 << 6; return b }(), ErrFlags},
	} {
		var f Frame
		if err := Decode(c.b, &f); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestAuthFlagBits: a reader whose flagsKnown lacks
// FlagAuth rejects an authenticated frame with ErrFlags (docs/wire.md
// §12.8); this reader knows the bit.
func TestAuthFlagBits(t *testing.T) {
	if FlagAuth != 0x20 || flagsKnown&FlagAuth == 0 {
		t.Fatalf("FlagAuth = %#02x, known %#02x", FlagAuth, flagsKnown)
	}
	if flagsKnown != 0x3F {
		t.Errorf("flagsKnown = %#02x, want 0x3f (bits 0-5)", flagsKnown)
	}
	oldKnown := flagsKnown &^ FlagAuth
	signed := withTrailer(buildFrame(t, Header{Session: 1, FirstSeq: 1}, sampleMessages()[:1]))
	if signed[5]&^oldKnown == 0 {
		t.Error("an authenticated frame would pass a reader that predates FlagAuth")
	}
}

// TestAppendHeaderClearsAuth: only a signer sets FlagAuth, with the
// trailer; re-encoding a decoded header never claims one.
func TestAppendHeaderClearsAuth(t *testing.T) {
	h := Header{Flags: FlagAuth | FlagHeartbeat, Session: 1, FirstSeq: 1}
	b := AppendHeader(nil, &h)
	if b[5] != FlagHeartbeat {
		t.Errorf("flags written %#02x, want %#02x", b[5], FlagHeartbeat)
	}
	var w FrameWriter
	w.Begin(&Header{Flags: FlagAuth, Session: 1, FirstSeq: 1})
	m := sampleMessages()[0]
	if err := w.Add(&m); err != nil {
		t.Fatal(err)
	}
	var f Frame
	if err := Decode(w.Finish(1), &f); err != nil || f.Authenticated() {
		t.Errorf("FrameWriter with FlagAuth in its header: %v, authenticated %v", err, f.Authenticated())
	}
}

// TestDecoderAuth: Decoder.Decode inflates an authenticated compressed
// frame's body alone, the trailer set aside and put back after it.
func TestDecoderAuth(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	plain := buildFrame(t, Header{Session: 1, FirstSeq: 1, SendTime: 2}, sampleMessages())
	var want Frame
	if err := Decode(plain, &want); err != nil {
		t.Fatal(err)
	}
	for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			comp, err := NewCompressor(codec, nil)
			if err != nil {
				t.Fatal(err)
			}
			wire := withTrailer(comp.Compress(plain)) // signed after compressing
			if codec != CodecNone && codecOf(wire[5]) != codec {
				t.Fatalf("not compressed with %v", codec)
			}
			var f Frame
			if err := dec.Decode(wire, &f); err != nil {
				t.Fatalf("Decoder.Decode: %v", err)
			}
			if f.Flags != FlagAuth || f.Count != want.Count || !bytes.Equal(f.body, want.body) {
				t.Errorf("decoded header %+v, %d body bytes; want %+v with FlagAuth, %d bytes", f.Header, len(f.body), want.Header, len(want.body))
			}
			// A trailer cut short is refused before inflating.
			if err := dec.Decode(wire[:HeaderLen+AuthTrailerLen-1], &f); !errors.Is(err, ErrTruncated) {
				t.Errorf("cut trailer: %v, want ErrTruncated", err)
			}
			if err := dec.Decode(wire[:len(wire)-1], &f); err == nil {
				t.Error("a frame one byte short decoded")
			}
			if raceEnabled {
				return // allocation counts are checked without -race
			}
			if n := testing.AllocsPerRun(100, func() {
				if err := dec.Decode(wire, &f); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("decoding allocates %.1f times per frame", n)
			}
		})
	}
}

// FuzzDecodeAuth: an authenticated frame decodes exactly as the same
// frame without its flag and trailer, through Decode and Decoder alike.
func FuzzDecodeAuth(f *testing.F) {
	plain := buildFrame(f, Header{Session: 1, FirstSeq: 1, SendTime: 1}, sampleMessages())
	f.Add(withTrailer(plain))
	f.Add(withTrailer(buildFrame(f, Header{Flags: FlagHeartbeat | FlagEnd, Session: 2, FirstSeq: 9}, nil)))
	for _, c := range []Codec{CodecS2, CodecZstd} {
		comp, err := NewCompressor(c, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(withTrailer(comp.Compress(plain)))
	}
	dec, err := NewDecoder()
	if err != nil {
		f.Fatal(err)
	}
	dec2, err := NewDecoder()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fa, fp Frame
		ea := dec.Decode(b, &fa)
		if ea != nil && !errors.Is(ea, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", ea)
		}
		if len(b) < HeaderLen || b[5]&FlagAuth == 0 || len(b) > MaxFrameLen {
			return
		}
		hlen := int(b[6]) | int(b[7])<<8
		if hlen < HeaderLen || hlen+AuthTrailerLen > len(b) {
			if ea == nil {
				t.Fatalf("decoded a frame with no room for its trailer (hlen %d, %d bytes)", hlen, len(b))
			}
			return
		}
		p := bytes.Clone(b[:len(b)-AuthTrailerLen])
		p[5] &^= FlagAuth
		ep := dec2.Decode(p, &fp)
		if (ea == nil) != (ep == nil) {
			t.Fatalf("authenticated: %v; without flag and trailer: %v", ea, ep)
		}
		if ea != nil {
			return
		}
		if fa.Flags != fp.Flags|FlagAuth || fa.Count != fp.Count || !bytes.Equal(fa.body, fp.body) {
			t.Fatalf("authenticated frame decodes to %+v (%d body bytes), plain to %+v (%d)", fa.Header, len(fa.body), fp.Header, len(fp.body))
		}
	})
}
