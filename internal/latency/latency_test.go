package latency

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
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
	if got := r.Interval(time.Now()); got.Count != 1000 {
		t.Fatalf("interval count = %d", got.Count)
	}
	if got := r.Interval(time.Now()); got.Count != 0 {
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

func TestCorrectedForCoordinatedOmission(t *testing.T) {
	r := New()
	const interval = 100_000 // 100µs between messages, as the sender meant
	for i := 0; i < 99; i++ {
		r.Record(50_000, 1) // 50µs
	}
	r.Record(10_000_000, 1) // one 10ms stall
	raw, cor := r.Summary(), r.Corrected(interval)
	// The stall hid 99 messages that would have waited 9.9ms, 9.8ms, ...
	if cor.Count != 100+99 {
		t.Fatalf("corrected count %d, want 199", cor.Count)
	}
	if raw.P90 > 60 || cor.P90 < 5000 {
		t.Fatalf("p90 raw %.0fµs corrected %.0fµs: the correction did not fill in the stall", raw.P90, cor.P90)
	}
	if got := r.Corrected(0); got != raw {
		t.Fatalf("no interval must mean no correction")
	}
}

func TestIntervalLogReadsBack(t *testing.T) {
	var buf bytes.Buffer
	r := New()
	start := time.UnixMilli(1_700_000_000_000)
	if err := r.LogTo(&buf, "feedsub test", start); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		r.Record(int64(i)*1000, 10)
		r.Interval(start.Add(time.Duration(i) * time.Second))
	}
	if r.LogErr() != nil {
		t.Fatal(r.LogErr())
	}
	if !strings.Contains(buf.String(), "#[StartTime: ") || !strings.Contains(buf.String(), "\"StartTimestamp\"") {
		t.Fatalf("no hlog header:\n%s", buf.String())
	}
	rd := hdr.NewHistogramLogReader(&buf)
	n := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		n++
		if h.TotalCount() != 10 {
			t.Fatalf("interval %d holds %d values, want 10", n, h.TotalCount())
		}
	}
	if n != 3 {
		t.Fatalf("read %d intervals back, want 3", n)
	}
}
