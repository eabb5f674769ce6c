package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// testSecret is a deterministic 32-byte secret for key id.
func testSecret(id uint32) []byte {
	s := make([]byte, MinSecretLen)
	for i := range s {
		s[i] = byte(int(id)*31 + i + 1)
	}
	return s
}

// testKeys returns keys with the given ids, signing with sign.
func testKeys(t testing.TB, sign uint32, ids ...uint32) *Keys {
	t.Helper()
	var ks []Key
	for _, id := range ids {
		ks = append(ks, Key{ID: id, Secret: testSecret(id)})
	}
	k, err := NewKeys(sign, ks...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testSigner(t testing.TB, sign uint32, ids ...uint32) *Signer {
	t.Helper()
	s, err := NewSigner(testKeys(t, sign, ids...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testNow is the send time of test frames, and the verifier's clock.
const testNow = int64(1_780_000_000_000_000_000)

func testMessages() []bus.Message {
	return []bus.Message{
		{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 189_12000000, AskPrice: 189_13000000, BidSize: 300, AskSize: 200},
		{Kind: bus.KindTrade, Symbol: []byte("MSFT"), Price: 411_50000000, Size: 100, Side: bus.SideSell},
		{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 189_12000000, AskPrice: 189_13000000, BidSize: 400, AskSize: 200},
		{Kind: 200, Symbol: []byte("X"), Body: []byte("application body")},
	}
}

// testFrame builds an unsigned frame with msgs (a heartbeat if none),
// in a slice with no spare capacity.
func testFrame(t testing.TB, msgs []bus.Message) []byte {
	t.Helper()
	h := bus.Header{Session: 0xfeed, Stream: 3, FirstSeq: 42}
	if len(msgs) == 0 {
		h.Flags = bus.FlagHeartbeat
	}
	var w bus.FrameWriter
	w.Begin(&h)
	for i := range msgs {
		if err := w.Add(&msgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.Clone(w.Finish(testNow))
}

// sign signs a copy of frame and returns an independent signed frame.
func sign(t testing.TB, s *Signer, frame []byte) []byte {
	t.Helper()
	out, err := s.Sign(bytes.Clone(frame))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(out)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := testSigner(t, 0, 7)
	v := NewVerifier(testKeys(t, 0, 7))
	plain := testFrame(t, testMessages())
	s2, err := bus.NewCompressor(bus.CodecS2, nil)
	if err != nil {
		t.Fatal(err)
	}
	zc, err := bus.NewCompressor(bus.CodecZstd, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"data":      plain,
		"heartbeat": testFrame(t, nil),
		"s2":        bytes.Clone(s2.Compress(plain)),
		"zstd":      bytes.Clone(zc.Compress(plain)),
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			signed := sign(t, s, frame)
			if len(signed) != len(frame)+TrailerLen {
				t.Fatalf("signed frame is %d bytes, want %d + %d", len(signed), len(frame), TrailerLen)
			}
			if !bytes.Equal(signed[6:len(frame)], frame[6:]) || !bytes.Equal(signed[:5], frame[:5]) {
				t.Error("signing changed bytes other than the flags")
			}
			if signed[5] != frame[5]|bus.FlagAuth {
				t.Errorf("flags %#02x, want %#02x", signed[5], frame[5]|bus.FlagAuth)
			}
			if id, ok := FrameKeyID(signed); !ok || id != 7 {
				t.Errorf("FrameKeyID = %d, %v; want 7, true", id, ok)
			}
			if err := v.Verify(signed, testNow); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.LastFailure() != nil {
				t.Errorf("LastFailure = %v after successes only", v.LastFailure())
			}
		})
	}

	// An uncompressed signed frame decodes to what was signed, the trailer
	// set aside.
	signed := sign(t, s, plain)
	var f, want bus.Frame
	if err := bus.Decode(signed, &f); err != nil {
		t.Fatalf("Decode of a signed frame: %v", err)
	}
	if err := bus.Decode(plain, &want); err != nil {
		t.Fatal(err)
	}
	if !f.Authenticated() || f.Flags != want.Flags|bus.FlagAuth || f.Count != want.Count || f.FirstSeq != want.FirstSeq {
		t.Errorf("header %+v, want %+v with FlagAuth", f.Header, want.Header)
	}
	var m, wm bus.Message
	for i := 0; ; i++ {
		_, ok := f.Next(&m)
		_, wok := want.Next(&wm)
		if ok != wok {
			t.Fatalf("message %d: signed frame has one: %v, unsigned: %v", i, ok, wok)
		}
		if !ok {
			break
		}
		if m.Kind != wm.Kind || !bytes.Equal(m.Symbol, wm.Symbol) || !bytes.Equal(m.Body, wm.Body) || m.Len != wm.Len {
			t.Errorf("message %d = %+v, want %+v", i, m, wm)
		}
	}
}

func TestSignInPlaceAndCopy(t *testing.T) {
	s := testSigner(t, 0, 1)
	frame := testFrame(t, testMessages())

	// No spare capacity: a copy is signed, frame is untouched.
	orig := bytes.Clone(frame)
	out, err := s.Sign(frame)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frame, orig) {
		t.Error("Sign changed a frame it had to copy")
	}
	if &out[0] == &frame[0] {
		t.Error("Sign wrote past a full slice's length into its array")
	}
	copied := bytes.Clone(out)

	// Spare capacity: signed in place, same result.
	roomy := append(make([]byte, 0, len(frame)+TrailerLen), frame...)
	out, err = s.Sign(roomy)
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &roomy[0] {
		t.Error("Sign copied a frame that had room for the trailer")
	}
	if !bytes.Equal(out, copied) {
		t.Error("in-place and copied signatures differ")
	}
}

func TestSignRefuses(t *testing.T) {
	s := testSigner(t, 0, 1)
	frame := testFrame(t, testMessages())
	signed := sign(t, s, frame)
	big := make([]byte, bus.MaxFrameLen-TrailerLen+1)
	copy(big, frame[:bus.HeaderLen])
	for name, b := range map[string][]byte{
		"short":          frame[:bus.HeaderLen-1],
		"not a frame":    append([]byte("XBUS"), frame[4:]...),
		"already signed": signed,
		"too large":      big,
	} {
		if _, err := s.Sign(bytes.Clone(b)); !errors.Is(err, ErrSign) {
			t.Errorf("%s: Sign error %v, want ErrSign", name, err)
		}
	}
	// The largest frame that fits still signs.
	if _, err := s.Sign(big[:len(big)-1]); err != nil {
		t.Errorf("frame of MaxFrameLen-TrailerLen bytes: %v", err)
	}
}

// TestTamper flips every bit of a signed frame, one at a time, and cuts
// and extends it: each change must fail.
func TestTamper(t *testing.T) {
	s := testSigner(t, 0, 5)
	v := NewVerifier(testKeys(t, 0, 5))
	signed := sign(t, s, testFrame(t, testMessages()))
	n := len(signed)
	for i := range n {
		for bit := range 8 {
			b := bytes.Clone(signed)
			b[i] ^= 1 << bit
			err := v.Verify(b, testNow)
			var want error
			switch {
			case i == 5 && 1<<bit == bus.FlagAuth:
				want = ErrUnsigned
			case i >= n-TrailerLen && i < n-TagLen:
				want = ErrUnknownKey
			default:
				want = ErrBadTag
			}
			if err != want {
				t.Fatalf("bit %d of byte %d flipped: %v, want %v", bit, i, err, want)
			}
		}
	}
	for _, b := range [][]byte{signed[:n-1], append(bytes.Clone(signed), 0), signed[1:], signed[:bus.HeaderLen+TrailerLen]} {
		if err := v.Verify(b, testNow); !errors.Is(err, ErrAuth) {
			t.Errorf("frame of %d bytes from a %d-byte signed one: %v, want an ErrAuth", len(b), n, err)
		}
	}
	// Stripping the trailer and the flag gives back the unsigned frame,
	// which a verifier refuses.
	stripped := bytes.Clone(signed[:n-TrailerLen])
	stripped[5] &^= bus.FlagAuth
	if err := v.Verify(stripped, testNow); err != ErrUnsigned {
		t.Errorf("stripped frame: %v, want ErrUnsigned", err)
	}
	// A trailer moved to another frame does not fit it.
	other := sign(t, s, testFrame(t, testMessages()[:1]))
	moved := append(bytes.Clone(other[:len(other)-TrailerLen]), signed[n-TrailerLen:]...)
	if err := v.Verify(moved, testNow); err != ErrBadTag {
		t.Errorf("trailer moved to another frame: %v, want ErrBadTag", err)
	}
}

func TestUnknownKeyAndWrongSecret(t *testing.T) {
	frame := testFrame(t, testMessages())
	v := NewVerifier(testKeys(t, 0, 1, 2))
	if err := v.Verify(sign(t, testSigner(t, 0, 3), frame), testNow); err != ErrUnknownKey {
		t.Errorf("key 3 against keys 1, 2: %v, want ErrUnknownKey", err)
	}
	if err := v.LastFailure(); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "key id 3") {
		t.Errorf("LastFailure = %v", err)
	}
	// Same id, another secret.
	k, err := NewKeys(0, Key{ID: 2, Secret: testSecret(99)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(sign(t, other, frame), testNow); err != ErrBadTag {
		t.Errorf("key 2 with another secret: %v, want ErrBadTag", err)
	}
}

// TestRotation: while both keys are configured, frames signed with the
// old and the new key verify; once the old key is removed, its frames
// fail.
func TestRotation(t *testing.T) {
	frame := testFrame(t, testMessages())
	oldSigner := testSigner(t, 1, 1, 2) // step 1: both keys everywhere, still signing with 1
	newSigner := testSigner(t, 2, 1, 2) // step 2: publishers switch to 2
	if oldSigner.KeyID() != 1 || newSigner.KeyID() != 2 {
		t.Fatalf("signers use keys %d and %d, want 1 and 2", oldSigner.KeyID(), newSigner.KeyID())
	}
	both := NewVerifier(testKeys(t, 0, 1, 2))
	onlyNew := NewVerifier(testKeys(t, 0, 2)) // step 3: old key removed
	for _, s := range []*Signer{oldSigner, newSigner} {
		if err := both.Verify(sign(t, s, frame), testNow); err != nil {
			t.Errorf("key %d during rotation: %v", s.KeyID(), err)
		}
	}
	if err := onlyNew.Verify(sign(t, newSigner, frame), testNow); err != nil {
		t.Errorf("new key after rotation: %v", err)
	}
	if err := onlyNew.Verify(sign(t, oldSigner, frame), testNow); err != ErrUnknownKey {
		t.Errorf("old key after rotation: %v, want ErrUnknownKey", err)
	}
	// Two keys and no sign: a signer must be told which.
	if _, err := NewSigner(testKeys(t, 0, 1, 2)); !errors.Is(err, ErrKeyFile) {
		t.Errorf("NewSigner with two keys and no sign: %v, want ErrKeyFile", err)
	}
}

func TestUnsignedRefused(t *testing.T) {
	v := NewVerifier(testKeys(t, 0, 1))
	frame := testFrame(t, testMessages())
	for name, b := range map[string][]byte{
		"data":      frame,
		"heartbeat": testFrame(t, nil),
		"empty":     nil,
		"5 bytes":   frame[:5],
		"header":    frame[:bus.HeaderLen],
	} {
		if err := v.Verify(b, testNow); err != ErrUnsigned {
			t.Errorf("%s: %v, want ErrUnsigned", name, err)
		}
	}
	// FlagAuth on a frame too short for a trailer.
	short := bytes.Clone(frame[:bus.HeaderLen+TrailerLen-1])
	short[5] |= bus.FlagAuth
	if err := v.Verify(short, testNow); err != ErrUnsigned {
		t.Errorf("flagged short frame: %v, want ErrUnsigned", err)
	}
	if err := v.LastFailure(); !strings.Contains(err.Error(), "too short") {
		t.Errorf("LastFailure = %v", err)
	}
	if err := v.Verify(frame, testNow); !strings.Contains(v.LastFailure().Error(), "does not sign") || !errors.Is(err, ErrAuth) {
		t.Errorf("LastFailure = %v", v.LastFailure())
	}
}

func TestReplayWindow(t *testing.T) {
	s := testSigner(t, 0, 1)
	v := NewVerifier(testKeys(t, 0, 1))
	if v.Window() != DefaultWindow {
		t.Fatalf("window %v, want %v", v.Window(), DefaultWindow)
	}
	signed := sign(t, s, testFrame(t, testMessages())) // sent at testNow
	w := int64(DefaultWindow)
	for _, c := range []struct {
		now  int64
		want error
	}{
		{testNow, nil},
		{testNow + w, nil},
		{testNow - w, nil},
		{testNow + w + 1, ErrStale},
		{testNow - w - 1, ErrStale},
		{math.MaxInt64, ErrStale},
		{math.MinInt64, ErrStale},
		{0, ErrStale},
	} {
		if err := v.Verify(signed, c.now); err != c.want {
			t.Errorf("now = send time %+d ns: %v, want %v", c.now-testNow, err, c.want)
		}
	}
	v.Verify(signed, testNow+int64(12_300*time.Millisecond))
	if err := v.LastFailure(); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "12.3s old") {
		t.Errorf("LastFailure = %v", err)
	}
	v.Verify(signed, testNow-int64(11*time.Second))
	if err := v.LastFailure(); !strings.Contains(err.Error(), "11s ahead") {
		t.Errorf("LastFailure = %v", err)
	}

	// Send times at the ends of the int64 range do not overflow.
	for _, sent := range []int64{math.MinInt64, math.MaxInt64, -1} {
		fr := testFrame(t, testMessages())
		binary.LittleEndian.PutUint64(fr[32:], uint64(sent))
		b := sign(t, s, fr)
		for _, now := range []int64{math.MinInt64, math.MaxInt64, 0, testNow} {
			want := ErrStale
			if d := float64(now) - float64(sent); d >= -float64(w) && d <= float64(w) {
				want = nil
			}
			if err := v.Verify(b, now); err != want {
				t.Errorf("sent %d, now %d: %v, want %v", sent, now, err, want)
			}
		}
	}

	v.SetWindow(time.Second)
	if err := v.Verify(signed, testNow+int64(2*time.Second)); err != ErrStale {
		t.Errorf("1 s window, 2 s old: %v", err)
	}
	v.SetWindow(0)
	if err := v.Verify(signed, 0); err != nil || v.Window() != 0 {
		t.Errorf("no window: %v (window %v)", err, v.Window())
	}
	// A stale frame with a bad tag is a bad tag: the tag is checked first.
	v.SetWindow(DefaultWindow)
	bad := bytes.Clone(signed)
	bad[len(bad)-1] ^= 1
	if err := v.Verify(bad, 0); err != ErrBadTag {
		t.Errorf("stale and forged: %v, want ErrBadTag", err)
	}
}

func TestNoAllocs(t *testing.T) {
	s := testSigner(t, 0, 1)
	v := NewVerifier(testKeys(t, 0, 1, 2))
	frame := testFrame(t, testMessages())
	roomy := append(make([]byte, 0, len(frame)+TrailerLen), frame...)
	signed := sign(t, s, frame)
	bad := bytes.Clone(signed)
	bad[50] ^= 1
	for name, run := range map[string]func(){
		"sign in place": func() {
			b := roomy[:len(frame)]
			b[5] &^= bus.FlagAuth
			if _, err := s.Sign(b); err != nil {
				t.Fatal(err)
			}
		},
		"sign a copy": func() {
			if _, err := s.Sign(frame); err != nil {
				t.Fatal(err)
			}
		},
		"verify": func() {
			if err := v.Verify(signed, testNow); err != nil {
				t.Fatal(err)
			}
		},
		"verify a forgery": func() { v.Verify(bad, testNow) },
		"verify a stale":   func() { v.Verify(signed, 0) },
		"verify unsigned":  func() { v.Verify(frame, testNow) },
	} {
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s allocates %.1f times per frame, want 0", name, n)
		}
	}
}

func TestFrameKeyID(t *testing.T) {
	if _, ok := FrameKeyID(testFrame(t, nil)); ok {
		t.Error("FrameKeyID found a key id in an unsigned heartbeat")
	}
	if _, ok := FrameKeyID([]byte("FB")); ok {
		t.Error("FrameKeyID found a key id in 2 bytes")
	}
	if id, ok := FrameKeyID(sign(t, testSigner(t, 0, 0xdeadbeef), testFrame(t, nil))); !ok || id != 0xdeadbeef {
		t.Errorf("FrameKeyID = %#x, %v", id, ok)
	}
}
