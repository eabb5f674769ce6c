package latency

import (
	"math"
	"testing"
)

func TestRecorderPercentiles(t *testing.T) {
	r := New()
	for i := int64(1); i <= 1000; i++ {
		r.Record(i*1000, 1) // 1µs .. 1000µs
	}
	p := r.Summary()
	if p.Count != 1000 {
		t.Fatalf("count = %d", p.Count)
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > want*0.01 {
			t.Errorf("%s = %.1fµs, want ~%.1fµs", name, got, want)
		}
	}
	near("p50", p.P50, 500)
	near("p90", p.P90, 900)
	near("p99", p.P99, 990)
	near("max", p.Max, 1000)
	if got := r.Interval(); got.Count != 1000 {
		t.Fatalf("interval count = %d", got.Count)
	}
	if got := r.Interval(); got.Count != 0 {
		t.Fatalf("interval not reset: %d", got.Count)
	}
	if r.Summary().Count != 1000 {
		t.Fatal("Interval reset the cumulative histogram")
	}
}

func TestRecorderClamps(t *testing.T) {
	r := New()
	r.Record(-5000, 3)
	r.Record(highest*2, 1)
	if r.Negative() != 3 {
		t.Fatalf("negative = %d, want 3", r.Negative())
	}
	if p := r.Summary(); p.Count != 4 || p.Min > 0.01 {
		t.Fatalf("summary %+v", p)
	}
}

func TestRecorderNoAllocs(t *testing.T) {
	r := New()
	if n := testing.AllocsPerRun(1000, func() { r.Record(12345, 20) }); n != 0 {
		t.Fatalf("Record allocates %.1f times", n)
	}
}

func TestFormat(t *testing.T) {
	for us, want := range map[float64]string{92.4: "92µs", 1234.5: "1.23ms", 2_500_000: "2.5s"} {
		if got := Format(us); got != want {
			t.Errorf("Format(%v) = %q, want %q", us, got, want)
		}
	}
}
