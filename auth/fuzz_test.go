package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// codecBits are the flags' codec bits (bus keeps its mask unexported).
const codecBits = 0x7 << 1

// FuzzVerify feeds arbitrary bytes to a Verifier. It must never panic,
// never accept a frame a Signer did not produce, and anything a Signer
// signs must verify, and decode as the frame it signed.
func FuzzVerify(f *testing.F) {
	s := testSigner(f, 2, 1, 2)
	old := testSigner(f, 1, 1, 2)
	frames := [][]byte{
		testFrame(f, testMessages()),
		testFrame(f, testMessages()[:1]),
		testFrame(f, nil),
	}
	comp, err := bus.NewCompressor(bus.CodecS2, nil)
	if err != nil {
		f.Fatal(err)
	}
	frames = append(frames, bytes.Clone(comp.Compress(frames[0])))
	// signed holds every frame the test's signers produced: the only
	// frames a verifier may accept.
	signed := map[string]bool{}
	for _, fr := range frames {
		for _, sg := range []*Signer{s, old} {
			b := sign(f, sg, fr)
			signed[string(b)] = true
			f.Add(b, testNow)
		}
		f.Add(fr, testNow)
	}
	f.Add([]byte{}, int64(0))
	f.Add([]byte("FBUS\x02\x20"), int64(-1))

	v := NewVerifier(testKeys(f, 0, 1, 2))
	loose := NewVerifier(testKeys(f, 0, 1, 2))
	loose.SetWindow(0)
	f.Fuzz(func(t *testing.T, b []byte, now int64) {
		for _, ver := range []*Verifier{v, loose} {
			err := ver.Verify(b, now)
			if err == nil {
				if !signed[string(b)] {
					t.Fatalf("accepted a frame no signer made:\n% x", b)
				}
				continue
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v is not ErrAuth", err)
			}
			if le := ver.LastFailure(); !errors.Is(le, err) {
				t.Fatalf("LastFailure %v does not match %v", le, err)
			}
		}
		// Whatever Sign accepts verifies, and decodes exactly as the
		// unsigned frame does.
		out, err := s.Sign(bytes.Clone(b))
		if err != nil {
			if !errors.Is(err, ErrSign) {
				t.Fatalf("Sign error %v is not ErrSign", err)
			}
			return
		}
		if err := loose.Verify(out, now); err != nil {
			t.Fatalf("a frame Sign just signed fails: %v", err)
		}
		sent := int64(binary.LittleEndian.Uint64(out[32:]))
		if err := v.Verify(out, sent); err != nil {
			t.Fatalf("a frame Sign just signed fails at its own send time: %v", err)
		}
		if b[5]&codecBits != 0 {
			return // compressed: Decode does not inflate
		}
		var f1, f2 bus.Frame
		e1 := bus.Decode(b, &f1)
		e2 := bus.Decode(out, &f2)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("unsigned frame decodes with %v, signed with %v", e1, e2)
		}
		if e1 == nil && (f1.Count != f2.Count || f1.FirstSeq != f2.FirstSeq || f2.Flags != f1.Flags|bus.FlagAuth) {
			t.Fatalf("signed frame decodes to %+v, unsigned to %+v", f2.Header, f1.Header)
		}
	})
}
