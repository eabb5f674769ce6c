package feedtext

import (
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// cycle is an endless reader of the same block, so a benchmark can read
// b.N lines without building them first and without allocating.
type cycle struct {
	b   []byte
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.off:])
		n += k
		c.off = (c.off + k) % len(c.b)
	}
	return n, nil
}

const (
	plainLines = "q,AAPL,189.50,189.52,300,400\n" +
		"t,AAPL,189.51,100,b\n" +
		"q,BTC-USD,64000.125,64000.25,2,3\n" +
		"t,ETH-USD,3200.1,5\n"
	appLines    = "k,200,AAPL,halted pending news\nx,201,AAPL,00ff10aabbcc\n"
	quotedLines = "q,\"AAPL\",189.50,189.52,300,400\nk,200,AAPL,\"halted, news pending\"\n"
)

// TestAllocs checks that, once warm, Next allocates nothing for a line
// without a double quote, and one string (encoding/csv's) for a line with
// one.
func TestAllocs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      float64
	}{
		{"quotes and trades", plainLines, 0},
		{"app", appLines, 0},
		{"quoted", quotedLines, 1},
	} {
		r := NewReader(&cycle{b: []byte(tc.in)})
		var m bus.Message
		next := func() {
			if err := r.Next(&m); err != nil {
				t.Fatal(err)
			}
		}
		for range 100 {
			next() // warm up: grow the buffers
		}
		if got := testing.AllocsPerRun(1000, next); got > tc.max {
			t.Errorf("%s: %v allocations per line, want at most %v", tc.name, got, tc.max)
		}
	}
}

func benchmarkReader(b *testing.B, in string) {
	lines := 0
	for _, c := range in {
		if c == '\n' {
			lines++
		}
	}
	r := NewReader(&cycle{b: []byte(in)})
	var m bus.Message
	b.SetBytes(int64(len(in) / lines))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Next(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkReader(b, plainLines) })
	b.Run("app", func(b *testing.B) { benchmarkReader(b, appLines) })
	b.Run("quoted", func(b *testing.B) { benchmarkReader(b, quotedLines) })
}

func BenchmarkAppendLine(b *testing.B) {
	msgs := []bus.Message{
		quote("AAPL", 18950000000, 18952000000, 300, 400),
		trade("AAPL", 18951000000, 100, bus.SideBuy),
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = AppendLine(buf[:0], &msgs[i%len(msgs)])
		i++
	}
}
