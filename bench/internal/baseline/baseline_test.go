package baseline

import (
	"testing"
	"time"
)

func TestResultCountsSequence(t *testing.T) {
	var r Result
	t0 := time.Unix(0, 0)
	for i, seq := range []uint64{5, 6, 8, 9, 7, 12, 12, 13} {
		r.Add(seq, 10, t0.Add(time.Duration(i)*time.Second))
	}
	// First 5, last 13: 7 arrived late (reordered), 10 and 11 are lost,
	// the second 12 is a duplicate (also counted as reordered).
	if r.Received != 8 || r.FirstSeq != 5 || r.LastSeq != 13 || r.Lost != 3 || r.Holes != 2 || r.Reordered != 2 || r.Bytes != 80 {
		t.Fatalf("result = %+v", r)
	}
	if got := r.Last(); !got.Equal(t0.Add(7 * time.Second)) {
		t.Fatalf("last = %v", got)
	}
}
