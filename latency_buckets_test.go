package feedbus

import (
	"testing"

	"github.com/feedbus/feedbus/internal/latency"
)

// The buckets count exactly the values below each power of two, however
// the HdrHistogram rounds them, across intervals.
func TestLatencyBucketsExact(t *testing.T) {
	var values []int64
	for k := 0; k <= 36; k++ {
		p := int64(1) << k
		values = append(values, p-1, p, p+1, p+p/3)
	}
	values = append(values, 999, 5000, 123_456_789, 60e9)
	var b latencyBuckets
	for _, part := range [][]int64{values[:len(values)/2], values[len(values)/2:]} {
		h := latency.NewHistogram()
		for _, v := range part {
			if v >= 1 && v <= h.HighestTrackableValue() {
				_ = h.RecordValue(v)
			}
		}
		b.add(h, latency.Summarise(h))
	}
	got := b.read()
	var recorded uint64
	for _, v := range values {
		if v >= 1 && v <= 60e9 {
			recorded++
		}
	}
	if got.Count != recorded {
		t.Fatalf("count %d, want %d", got.Count, recorded)
	}
	for i, le := range got.Bounds {
		bound := int64(le * 1e9)
		if bound != int64(1)<<(latencyFirstPower+i) {
			t.Fatalf("bound %d is %vs, want 2^%d ns", i, le, latencyFirstPower+i)
		}
		var want uint64
		for _, v := range values {
			if v >= 1 && v <= 60e9 && v < bound {
				want++
			}
		}
		if got.Cumulative[i] != want {
			t.Errorf("below %d ns: %d, want %d", bound, got.Cumulative[i], want)
		}
	}
}
