package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feedbus/feedbus/internal/latency"
)

// writeHlog writes an interval log the way the subscribers do: values
// 1..n µs, in two intervals.
func writeHlog(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := latency.New()
	start := time.Unix(1_800_000_000, 0)
	if err := rec.LogTo(f, "test", start); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		rec.Record(int64(i)*1000, 1)
		if i == n/2 {
			rec.Interval(start.Add(time.Second))
		}
	}
	rec.Interval(start.Add(2 * time.Second))
	if err := rec.LogErr(); err != nil {
		t.Fatal(err)
	}
}

func TestReadHlogAndCurve(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.hlog")
	writeHlog(t, path, 1000)
	h, err := readHlog(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != 1000 {
		t.Fatalf("count %d, want 1000 (both intervals)", h.TotalCount())
	}
	c := curve(h)
	if c[0].X != 1 || c[len(c)-1].X != 1000 {
		t.Errorf("x runs %v..%v, want 1..1000", c[0].X, c[len(c)-1].X)
	}
	// At x = 2 (p50) the value is about 500 µs; at the end the maximum.
	for _, pt := range c {
		if pt.X == 2 && (pt.Y < 495 || pt.Y > 505) {
			t.Errorf("p50 %v µs, want about 500", pt.Y)
		}
	}
	if last := c[len(c)-1].Y; last < 999 || last > 1001 {
		t.Errorf("max %v µs, want about 1000", last)
	}
	for i := 1; i < len(c); i++ {
		if c[i].X <= c[i-1].X || c[i].Y < c[i-1].Y {
			t.Fatalf("curve not increasing at %d: %v then %v", i, c[i-1], c[i])
		}
	}
}

func TestReadHlogRejectsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.hlog")
	os.WriteFile(path, []byte("#[Histogram log format version 1.3]\n"), 0o644)
	if _, err := readHlog(path); err == nil {
		t.Errorf("no error for a log without intervals")
	}
}

func TestPercentileTicks(t *testing.T) {
	ticks := percentileTicks(1, 123_456)
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	want := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	if len(labels) != len(want) {
		t.Fatalf("labels %v, want %v", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Fatalf("labels %v, want %v", labels, want)
		}
	}
}

func TestPlotLatency(t *testing.T) {
	dir := t.TempDir()
	var ss []series
	for i, name := range []string{"feedbus", "bare pair", "UDP wire"} {
		p := filepath.Join(dir, name+".hlog")
		writeHlog(t, p, 1000*(i+1))
		h, err := readHlog(p)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, series{name: name, h: h})
	}
	out := filepath.Join(dir, "latency.png")
	if err := plotLatency(out, "test", ss); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 500 || r.Dy() < 300 {
		t.Errorf("image %v is small", r)
	}
}
