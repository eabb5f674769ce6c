package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// benchSizes are frame sizes before the trailer: a 40-byte header with
// 64 bytes of messages, a PGM TPDU's worth (feedpub's default budget),
// and a large frame.
var benchSizes = []int{bus.HeaderLen + 64, 1400, 8192}

// benchFrame returns an unsigned frame of n bytes with room for a trailer:
// a header and one application message padding it out (its content does
// not matter to the MAC).
func benchFrame(b *testing.B, n int) []byte {
	b.Helper()
	h := bus.Header{Session: 1, Stream: 1, FirstSeq: 1}
	var w bus.FrameWriter
	w.Begin(&h)
	m := bus.Message{Kind: 200, Symbol: []byte("X"), Body: make([]byte, n-bus.HeaderLen-5)}
	if err := w.Add(&m); err != nil {
		b.Fatal(err)
	}
	fr := w.Finish(testNow)
	if len(fr) != n {
		b.Fatalf("frame of %d bytes, want %d", len(fr), n)
	}
	return append(make([]byte, 0, n+TrailerLen), fr...)
}

// BenchmarkSign signs a frame in place, as a publisher does after
// compressing: one MAC over the frame, no allocation.
func BenchmarkSign(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := testSigner(b, 0, 1)
			fr := benchFrame(b, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				fr[5] &^= bus.FlagAuth
				if _, err := s.Sign(fr[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify checks a good frame against a verifier holding two
// keys, as during a rotation, the signing key second.
func BenchmarkVerify(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := testSigner(b, 2, 1, 2)
			v := NewVerifier(testKeys(b, 0, 1, 2))
			signed, err := s.Sign(benchFrame(b, n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(signed, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMAC compares the standard library's candidate MACs over the
// same sizes, so the choice can be checked on another CPU: HMAC-SHA256
// wins where the CPU has SHA extensions (SHA-NI, ARMv8 SHA2); without
// them HMAC-SHA512 can be faster for large frames. Keyed BLAKE2b,
// BLAKE2s and BLAKE3 (golang.org/x/crypto, zeebo/blake3,
// lukechampine.com/blake3) were measured outside this module; see
// docs/wire.md §12.
func BenchmarkMAC(b *testing.B) {
	key := testSecret(1)
	for _, c := range []struct {
		name string
		new  func() hash.Hash
	}{
		{"HMAC-SHA256", func() hash.Hash { return hmac.New(sha256.New, key) }},
		{"HMAC-SHA512", func() hash.Hash { return hmac.New(sha512.New, key) }},
	} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				msg := make([]byte, n)
				h := c.new()
				var sum [sha512.Size]byte
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					h.Reset()
					h.Write(msg)
					h.Sum(sum[:0])
				}
			})
		}
	}
}
