package bus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func sampleMessages() []Message {
	return []Message{
		{Kind: KindQuote, Symbol: []byte("AAPL"), BidPrice: 189_12000000, AskPrice: 189_13000000, BidSize: 300, AskSize: 200},
		{Kind: KindTrade, Symbol: []byte("MSFT"), Price: 411_50000000, Size: 100, Side: SideSell},
		{Kind: KindQuote, Symbol: []byte("ES.Z6"), BidPrice: -5, AskPrice: 7, BidSize: 1, AskSize: 2, Len: 128},
		{Kind: KindTrade, Symbol: bytes.Repeat([]byte("X"), MaxSymbolLen), Price: 1, Size: 1, Side: SideBuy, Len: 64},
	}
}

func buildFrame(t testing.TB, h Header, msgs []Message) []byte {
	t.Helper()
	var w FrameWriter
	w.Begin(&h)
	for i := range msgs {
		if err := w.Add(&msgs[i]); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
	}
	return bytes.Clone(w.Finish(h.SendTime))
}

func TestWireRoundTrip(t *testing.T) {
	msgs := sampleMessages()
	h := Header{Session: 0xdeadbeefcafe, Stream: 7, FirstSeq: 1000, SendTime: 1_700_000_000_123_456_789}
	b := buildFrame(t, h, msgs)

	var f Frame
	if err := Decode(b, &f); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if f.Session != h.Session || f.Stream != h.Stream || f.FirstSeq != h.FirstSeq ||
		f.SendTime != h.SendTime || f.Count != uint32(len(msgs)) || f.Version != Version || f.Heartbeat() {
		t.Fatalf("header = %+v, want %+v with count %d", f.Header, h, len(msgs))
	}
	var m Message
	for i := range msgs {
		seq, ok := f.Next(&m)
		if !ok {
			t.Fatalf("Next stopped after %d messages", i)
		}
		if seq != h.FirstSeq+uint64(i) {
			t.Errorf("message %d seq = %d, want %d", i, seq, h.FirstSeq+uint64(i))
		}
		want := msgs[i]
		want.Len = want.EncodedLen()
		if m.Kind != want.Kind || !bytes.Equal(m.Symbol, want.Symbol) || m.BidPrice != want.BidPrice ||
			m.AskPrice != want.AskPrice || m.BidSize != want.BidSize || m.AskSize != want.AskSize ||
			m.Price != want.Price || m.Size != want.Size || m.Side != want.Side || m.Len != want.Len {
			t.Errorf("message %d = %+v, want %+v", i, m, want)
		}
	}
	if _, ok := f.Next(&m); ok {
		t.Fatal("Next returned a message past the count")
	}
}

func TestWireHeartbeat(t *testing.T) {
	h := Header{Flags: FlagHeartbeat, Session: 1, FirstSeq: 42, SendTime: 5}
	b := buildFrame(t, h, nil)
	if len(b) != HeaderLen {
		t.Fatalf("heartbeat is %d bytes, want %d", len(b), HeaderLen)
	}
	var f Frame
	if err := Decode(b, &f); err != nil {
		t.Fatal(err)
	}
	if !f.Heartbeat() || f.FirstSeq != 42 || f.Count != 0 {
		t.Fatalf("heartbeat decoded as %+v", f.Header)
	}
}

// TestWireGolden pins the byte layout documented in docs/wire.md.
func TestWireGolden(t *testing.T) {
	h := Header{Session: 0x0102030405060708, Stream: 9, FirstSeq: 5, SendTime: 0x1122334455667788}
	b := buildFrame(t, h, []Message{{Kind: KindTrade, Symbol: []byte("AB"), Price: 3, Size: 4, Side: SideBuy}})
	want := []byte{
		'F', 'B', 'U', 'S', 2, 0, 40, 0, // magic, version, flags, header length
		8, 7, 6, 5, 4, 3, 2, 1, // session
		9, 0, 0, 0, // stream
		1, 0, 0, 0, // count
		5, 0, 0, 0, 0, 0, 0, 0, // first sequence
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // send time
		22, 0, 2, 2, 'A', 'B', // length, kind, symbol length, symbol
		3, 0, 0, 0, 0, 0, 0, 0, // price
		4, 0, 0, 0, 1, 0, 0, 0, // size, side, reserved
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding\n got % x\nwant % x", b, want)
	}
}

// TestWireGoldenApp pins an application message's layout (docs/wire.md).
func TestWireGoldenApp(t *testing.T) {
	h := Header{Session: 1, Stream: 2, FirstSeq: 3, SendTime: 4}
	b := buildFrame(t, h, []Message{{Kind: 200, Symbol: []byte("X"), Body: []byte("hi")}})
	want := []byte{
		'F', 'B', 'U', 'S', 2, 0, 40, 0,
		1, 0, 0, 0, 0, 0, 0, 0,
		2, 0, 0, 0,
		1, 0, 0, 0,
		3, 0, 0, 0, 0, 0, 0, 0,
		4, 0, 0, 0, 0, 0, 0, 0,
		7, 0, 200, 1, 'X', 'h', 'i', // length 7, kind 200, symbol length 1, symbol, body
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding\n got % x\nwant % x", b, want)
	}
}

// TestDecodeKinds: application kinds come back with their body, a reserved
// kind from a newer writer is handed on for sequencing but not Known, and a
// version 1 frame still decodes.
func TestDecodeKinds(t *testing.T) {
	msgs := []Message{
		{Kind: KindQuote, Symbol: []byte("A"), BidPrice: 1, AskPrice: 2, BidSize: 3, AskSize: 4},
		{Kind: 130, Symbol: []byte("BOOK"), Body: []byte{1, 2, 3}},
		{Kind: 255, Symbol: []byte("E")}, // empty body
		{Kind: KindTrade, Symbol: []byte("A"), Price: 5, Size: 6, Side: SideSell},
	}
	b := buildFrame(t, Header{Session: 1, FirstSeq: 10, SendTime: 1}, msgs)
	// Turn the empty-bodied message into a reserved kind, as a newer
	// writer might send.
	off := HeaderLen
	for i := 0; i < 2; i++ {
		off += int(binary.LittleEndian.Uint16(b[off:]))
	}
	b[off+2] = 77
	var f Frame
	if err := Decode(b, &f); err != nil {
		t.Fatal(err)
	}
	var m Message
	var got []string
	for seq, ok := f.Next(&m); ok; seq, ok = f.Next(&m) {
		got = append(got, fmt.Sprintf("%d %v %s %v %x", seq, m.Kind, m.Symbol, m.Kind.Known(), m.Body))
	}
	want := []string{"10 quote A true ", "11 kind(130) BOOK true 010203", "12 kind(77) E false ", "13 trade A true "}
	if !slices.Equal(got, want) {
		t.Fatalf("decoded\n%q\nwant\n%q", got, want)
	}
	b[4] = 1 // version 1: the same layout
	if err := Decode(b, &f); err != nil {
		t.Fatalf("version 1 frame: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := buildFrame(t, Header{Session: 1, FirstSeq: 1, SendTime: 1}, sampleMessages())
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", good[:HeaderLen-1], ErrTruncated},
		{"truncated body", good[:len(good)-1], ErrTruncated},
		{"truncated mid message", good[:HeaderLen+10], ErrTruncated},
		{"oversized", make([]byte, MaxFrameLen+1), ErrTooLarge},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMagic},
		{"version 0", mutate(func(b []byte) []byte { b[4] = 0; return b }), ErrVersion},
		{"version 3", mutate(func(b []byte) []byte { b[4] = 3; return b }), ErrVersion},
		{"unknown flag", mutate(func(b []byte) []byte { b[5] = 0x80; return b }), ErrFlags},
		{"codec", mutate(func(b []byte) []byte { b[5] = 1 << 1; return b }), ErrCodec},
		{"header length short", mutate(func(b []byte) []byte { b[6] = 39; return b }), ErrHeader},
		{"header length past end", mutate(func(b []byte) []byte { b[6], b[7] = 0xff, 0xff; return b }), ErrHeader},
		{"seq zero", mutate(func(b []byte) []byte { clear(b[24:32]); return b }), ErrHeader},
		{"seq overflow", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], ^uint64(0)); return b }), ErrHeader},
		{"count too big", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 1<<30); return b }), ErrTruncated},
		{"count too small", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 3); return b }), ErrTrailing},
		{"trailing", append(bytes.Clone(good), 0), ErrTrailing},
		{"kind 0", mutate(func(b []byte) []byte { b[HeaderLen+2] = 0; return b }), ErrKind},
		{"symbol empty", mutate(func(b []byte) []byte { b[HeaderLen+3] = 0; return b }), ErrSymbol},
		{"symbol long", mutate(func(b []byte) []byte { b[HeaderLen+3] = MaxSymbolLen + 1; return b }), ErrSymbol},
		{"message length short", mutate(func(b []byte) []byte { b[HeaderLen] = 5; b[HeaderLen+1] = 0; return b }), ErrTruncated},
		{"heartbeat with body", mutate(func(b []byte) []byte { b[5] = FlagHeartbeat; return b }), ErrHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f Frame
			err := Decode(c.b, &f)
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode error = %v, want %v", err, c.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			var m Message
			if _, ok := f.Next(&m); ok {
				t.Fatal("a rejected frame still yields messages")
			}
		})
	}
}

func TestAppendMessageRejects(t *testing.T) {
	cases := []struct {
		m    Message
		want error
	}{
		{Message{Kind: 0, Symbol: []byte("A")}, ErrKind},
		{Message{Kind: 3, Symbol: []byte("A")}, ErrKind}, // reserved: only a newer writer may send it
		{Message{Kind: KindAppFirst, Symbol: []byte("A"), Body: make([]byte, MaxMessageLen)}, ErrTooLarge},
		{Message{Kind: KindQuote}, ErrSymbol},
		{Message{Kind: KindQuote, Symbol: bytes.Repeat([]byte("A"), MaxSymbolLen+1)}, ErrSymbol},
		{Message{Kind: KindQuote, Symbol: []byte("A"), Len: MaxMessageLen + 1}, ErrTooLarge},
	}
	for _, c := range cases {
		dst := []byte("keep")
		got, err := AppendMessage(dst, &c.m)
		if !errors.Is(err, c.want) {
			t.Errorf("AppendMessage(%+v) error = %v, want %v", c.m, err, c.want)
		}
		if string(got) != "keep" {
			t.Errorf("AppendMessage changed dst on error: %q", got)
		}
	}
}

func TestWireNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	msgs := sampleMessages()
	var w FrameWriter
	h := Header{Session: 1, FirstSeq: 1}
	encode := func() []byte {
		w.Begin(&h)
		for i := range msgs {
			if err := w.Add(&msgs[i]); err != nil {
				t.Fatal(err)
			}
		}
		return w.Finish(1)
	}
	b := bytes.Clone(encode())
	if n := testing.AllocsPerRun(100, func() { encode() }); n != 0 {
		t.Errorf("encode allocates %.1f times per frame, want 0", n)
	}
	var f Frame
	var m Message
	if n := testing.AllocsPerRun(100, func() {
		if err := Decode(b, &f); err != nil {
			t.Fatal(err)
		}
		for {
			if _, ok := f.Next(&m); !ok {
				break
			}
		}
	}); n != 0 {
		t.Errorf("decode allocates %.1f times per frame, want 0", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(buildFrame(f, Header{Session: 1, FirstSeq: 1, SendTime: 1}, sampleMessages()))
	f.Add(buildFrame(f, Header{Flags: FlagHeartbeat, Session: 2, FirstSeq: 9}, nil))
	f.Add(buildFrame(f, Header{Session: 3, Stream: 4, FirstSeq: 1 << 40}, sampleMessages()[:1]))
	f.Add([]byte("FBUS"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		if err := Decode(b, &fr); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		// A frame that decodes re-encodes to the same bytes, apart from
		// padding content and a longer header, which the encoder normalises.
		var w FrameWriter
		w.Begin(&fr.Header)
		var m Message
		n := uint32(0)
		skipped := 0 // bytes of reserved kinds, which only a newer writer may encode
		for {
			if _, ok := fr.Next(&m); !ok {
				break
			}
			n++
			if !m.Kind.Known() {
				skipped += m.Len
				continue
			}
			if err := w.Add(&m); err != nil {
				t.Fatalf("re-encoding decoded message %d: %v", n, err)
			}
		}
		if n != fr.Count {
			t.Fatalf("Next yielded %d messages, header says %d", n, fr.Count)
		}
		out := w.Finish(fr.SendTime)
		hlen := int(binary.LittleEndian.Uint16(b[6:]))
		end := len(b)
		if fr.Authenticated() {
			end -= AuthTrailerLen // the trailer is not body
		}
		if len(out)-HeaderLen+skipped != end-hlen {
			t.Fatalf("re-encoded body is %d bytes, original %d", len(out)-HeaderLen, end-hlen)
		}
	})
}
