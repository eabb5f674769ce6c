package feedbus

import "testing"

func TestFingerprints(t *testing.T) {
	p := newFingerprints()
	real, forged := []byte("trade X 100 @ 1.5"), []byte("trade X 100 @ 9.9")
	p.remember(42, real)
	if p.conflicts(42, real) {
		t.Error("an identical copy conflicts")
	}
	if !p.conflicts(42, forged) {
		t.Error("a differing copy does not conflict")
	}
	if p.conflicts(42+fingerprintSlots, forged) {
		t.Error("a message never remembered conflicts (its slot holds another)")
	}
	p.reset()
	if p.conflicts(42, forged) {
		t.Error("a conflict after reset")
	}
}

// BenchmarkFingerprint is the receive loop's added cost per message: the
// winning copy remembered, the other line's copy checked.
func BenchmarkFingerprint(b *testing.B) {
	p := newFingerprints()
	msg := make([]byte, 40) // a quote with a 4-byte symbol
	b.ReportAllocs()
	for i := range b.N {
		seq := uint64(i + 1)
		p.remember(seq, msg)
		if p.conflicts(seq, msg) {
			b.Fatal("conflict")
		}
	}
}
