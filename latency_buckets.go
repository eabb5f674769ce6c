package feedbus

import (
	"math/bits"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/feedbus/feedbus/internal/latency"
)

// LatencyHistogram is the one-way latency of the messages delivered so
// far (as Summary's latency), in fixed buckets for monitoring systems
// that add histograms up across subscribers (Prometheus). The bounds are
// powers of two nanoseconds, 1.024µs to 17.18s: the HdrHistogram's own
// bucket edges, so each count is exact, not interpolated. The full
// precision stays in Summary and the latency log.
type LatencyHistogram struct {
	Count uint64
	// Sum is the total latency in seconds, from the HdrHistogram's mean
	// (to its 3 significant figures).
	Sum float64
	// Bounds are the buckets' upper bounds in seconds, ascending, and
	// Cumulative[i] counts the messages of latency at most Bounds[i].
	// The rest, up to Count, were slower than the last bound.
	Bounds     []float64
	Cumulative []uint64
}

// The buckets: 2^10 ns (1.024µs) to 2^34 ns (17.18s), doubling.
const (
	latencyFirstPower = 10
	latencyLastPower  = 34
	latencyBounds     = latencyLastPower - latencyFirstPower + 1
)

// latencyBuckets folds the status intervals' histograms into the fixed
// buckets. The status worker adds to it, off the receive loop; Counters
// reads it.
type latencyBuckets struct {
	coarse *hdr.Histogram // the status worker's scratch

	mu     sync.Mutex
	count  uint64
	sum    float64
	counts [latencyBounds + 1]uint64 // per bucket; the last is beyond the last bound
}

// add folds one interval in. Merging into a one-digit histogram first
// leaves a few hundred bars to walk instead of tens of thousands; its
// edges include every power of two, so no count crosses a bound.
func (b *latencyBuckets) add(h *hdr.Histogram, p latency.Percentiles) {
	if h.TotalCount() == 0 {
		return
	}
	if b.coarse == nil {
		b.coarse = hdr.New(h.LowestTrackableValue(), h.HighestTrackableValue(), 1)
	}
	b.coarse.Reset()
	b.coarse.Merge(h)
	var add [latencyBounds + 1]uint64
	for _, bar := range b.coarse.Distribution() {
		add[latencyBucket(bar.From)] += uint64(bar.Count)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, n := range add {
		b.counts[i] += n
	}
	b.count += uint64(h.TotalCount())
	b.sum += p.Mean * float64(p.Count) / 1e6
}

// latencyBucket is the bucket of the values from ns on: the first bound
// 2^k ns above it (latencies are whole nanoseconds, so a bar below 2^k
// is at most 2^k - 1).
func latencyBucket(ns int64) int {
	k := max(bits.Len64(uint64(max(ns, 0))), latencyFirstPower)
	return min(k, latencyLastPower+1) - latencyFirstPower
}

func (b *latencyBuckets) read() LatencyHistogram {
	h := LatencyHistogram{Bounds: make([]float64, latencyBounds), Cumulative: make([]uint64, latencyBounds)}
	for i := range h.Bounds {
		h.Bounds[i] = float64(int64(1)<<(latencyFirstPower+i)) / 1e9
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h.Count, h.Sum = b.count, b.sum
	var total uint64
	for i := range h.Cumulative {
		total += b.counts[i]
		h.Cumulative[i] = total
	}
	return h
}
