package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/capturetest"
)

const (
	base    = 1_767_225_600_000_000_000 // 2026-01-01T00:00:00Z
	session = 0x5e55
	ms      = int64(time.Millisecond)
)

func trade(seq uint64, pad int) bus.Message {
	return bus.Message{Kind: bus.KindTrade, Symbol: []byte("ESZ6"), Price: int64(seq), Size: 1, Len: pad}
}

// build builds a data frame holding msgs, numbered from first on.
func build(t testing.TB, first uint64, msgs ...bus.Message) []byte {
	t.Helper()
	var w bus.FrameWriter
	w.Begin(&bus.Header{Session: session, Stream: 1, FirstSeq: first})
	for i := range msgs {
		if err := w.Add(&msgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.Clone(w.Finish(base))
}

// frame builds a data frame of count trades from first on; each carries its
// sequence number as its price, so a test can tell which was published.
// pad > 0 pads each message to pad bytes, which compresses well.
func frame(t testing.TB, first uint64, count, pad int) []byte {
	t.Helper()
	msgs := make([]bus.Message, count)
	for i := range msgs {
		msgs[i] = trade(first+uint64(i), pad)
	}
	return build(t, first, msgs...)
}

// withReserved turns the second message of f, an application kind, into
// kind 3, which a newer wire version may define: same layout, opaque body.
func withReserved(f []byte) []byte {
	off := bus.HeaderLen + int(binary.LittleEndian.Uint16(f[bus.HeaderLen:]))
	f[off+2] = 3
	return f
}

func heartbeat(next uint64) []byte {
	var w bus.FrameWriter
	w.Begin(&bus.Header{Flags: bus.FlagHeartbeat, Session: session, Stream: 1, FirstSeq: next})
	return bytes.Clone(w.Finish(base))
}

func compressed(t testing.TB, f []byte) []byte {
	t.Helper()
	c, err := bus.NewCompressor(bus.CodecS2, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(c.Compress(f))
	if len(out) >= len(f) {
		t.Fatal("test frame did not compress")
	}
	return out
}

// twoLines is a capture of lines A and B: every frame on both but one that
// only B has, a heartbeat, a malformed frame, compressed copies, a frame
// that B delivered first, an application message (seq 7) and one of a
// reserved kind (seq 11). Its data frames with something new are at 0, 1,
// 2, 3 and 4 ms.
func twoLines(t testing.TB) []Record {
	f1, f2 := frame(t, 1, 3, 0), frame(t, 4, 2, 0)
	f3 := build(t, 6, trade(6, 0), bus.Message{Kind: 200, Symbol: []byte("app"), Body: []byte("hello")})
	f5 := withReserved(build(t, 10, trade(10, 0), bus.Message{Kind: 130, Symbol: []byte("new"), Body: []byte("?")}))
	f4 := compressed(t, frame(t, 8, 2, 200))
	const a, b = 0, 1
	return []Record{
		{Line: a, RecvTime: base, Frame: f1},
		{Line: b, RecvTime: base + ms/20, Frame: f1},
		{Line: a, RecvTime: base + 1*ms, Frame: f2},
		{Line: b, RecvTime: base + 1*ms + ms/30, Frame: f2},
		{Line: a, RecvTime: base + 1*ms + ms/2, Frame: heartbeat(6)},
		{Line: b, RecvTime: base + 2*ms, Frame: f3}, // A lost it
		{Line: a, RecvTime: base + 2*ms + ms/10, Frame: []byte("FBUS, but not a frame")},
		{Line: a, RecvTime: base + 3*ms, Frame: f4},
		{Line: b, RecvTime: base + 3*ms + ms/100, Frame: f4},
		{Line: b, RecvTime: base + 4*ms, Frame: f5}, // B first
		{Line: a, RecvTime: base + 4*ms + ms/5, Frame: f5},
	}
}

func writeCapture(t testing.TB, recs []Record) []byte {
	t.Helper()
	in := make([]capturetest.Record, len(recs))
	for i, r := range recs {
		in[i] = capturetest.Record(r)
	}
	return capturetest.Write(t, []string{"tcp://a:1", "tcp://b:2"}, in)
}

func reader(t testing.TB, data []byte) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decoder(t testing.TB) *bus.Decoder {
	t.Helper()
	d, err := bus.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// sink records what it is given: "P<seq>" for a message, "F" for a flush,
// and the clock's reading (from start) at each flush.
type sink struct {
	events  []string
	flushed []time.Duration
	clk     clock
	start   time.Time
	onFlush func()
	err     error // returned by Publish once set
}

func (s *sink) Publish(m *bus.Message) error {
	if s.err != nil {
		return s.err
	}
	if m.Kind.IsApp() {
		s.events = append(s.events, fmt.Sprintf("A%d:%s", m.Kind, m.Body))
	} else {
		s.events = append(s.events, fmt.Sprintf("P%d", m.Price))
	}
	return nil
}

func (s *sink) Flush() error {
	s.events = append(s.events, "F")
	if s.clk != nil {
		s.flushed = append(s.flushed, s.clk.Now().Sub(s.start))
	}
	if s.onFlush != nil {
		s.onFlush()
	}
	return nil
}

// fakeClock moves only when Run sleeps, or when a test moves it.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func TestRunPublishesEachMessageOnce(t *testing.T) {
	out := &sink{}
	st, err := Run(context.Background(), reader(t, writeCapture(t, twoLines(t))), decoder(t), out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "P1 P2 P3 F P4 P5 F P6 A200:hello F P8 P9 F P10 F"
	if got := strings.Join(out.events, " "); got != want {
		t.Errorf("published %s\nwant      %s", got, want)
	}
	wantStats := Stats{Frames: 11, Heartbeats: 1, Malformed: 1, Messages: 10, Duplicates: 9, Skipped: 1,
		RecordedSpan: time.Duration(4 * ms), Elapsed: st.Elapsed} // first to last frame published
	if st != wantStats {
		t.Errorf("stats %+v\nwant  %+v", st, wantStats)
	}
}

// TestRunSchedule checks when each frame goes out, on a clock that moves
// only when Run sleeps or the sink takes time.
func TestRunSchedule(t *testing.T) {
	msf := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name      string
		speed     float64
		flushCost time.Duration // how long each Flush takes
		flushed   []time.Duration
		sleeps    []time.Duration
	}{
		{"recorded pace", 1, 0,
			[]time.Duration{0, msf(1), msf(2), msf(3), msf(4)},
			[]time.Duration{msf(1), msf(1), msf(1), msf(1)}},
		{"twice as fast", 2, 0,
			[]time.Duration{0, msf(0.5), msf(1), msf(1.5), msf(2)},
			[]time.Duration{msf(0.5), msf(0.5), msf(0.5), msf(0.5)}},
		// A slow sink shortens the sleeps; the schedule holds.
		{"slow sink", 2, msf(0.2),
			[]time.Duration{0, msf(0.5), msf(1), msf(1.5), msf(2)},
			[]time.Duration{msf(0.3), msf(0.3), msf(0.3), msf(0.3)}},
		// A sink slower than the feed: no sleeps, and no drift either.
		{"sink slower than the feed", 2, msf(0.7),
			[]time.Duration{0, msf(0.7), msf(1.4), msf(2.1), msf(2.8)},
			nil},
		{"max", 0, 0,
			[]time.Duration{0, 0, 0, 0, 0},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Unix(1000, 0)}
			out := &sink{clk: clk, start: clk.now}
			out.onFlush = func() { clk.now = clk.now.Add(tc.flushCost) }
			st, err := Run(context.Background(), reader(t, writeCapture(t, twoLines(t))), decoder(t), out,
				Options{Speed: tc.speed, clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.flushed, tc.flushed) {
				t.Errorf("frames sent at %v, want %v", out.flushed, tc.flushed)
			}
			if !slices.Equal(clk.sleeps, tc.sleeps) {
				t.Errorf("slept %v, want %v", clk.sleeps, tc.sleeps)
			}
			if want := tc.flushed[len(tc.flushed)-1] + tc.flushCost; st.Elapsed != want {
				t.Errorf("elapsed %v, want %v", st.Elapsed, want)
			}
		})
	}
}

// TestRunWaits checks the real clock: a frame 30 ms after the first is
// not sent before 30 ms have passed.
func TestRunWaits(t *testing.T) {
	recs := []Record{
		{Line: 0, RecvTime: base, Frame: frame(t, 1, 1, 0)},
		{Line: 0, RecvTime: base + 30*ms, Frame: frame(t, 2, 1, 0)},
	}
	st, err := Run(context.Background(), reader(t, writeCapture(t, recs)), decoder(t), &sink{}, Options{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 2 || st.Elapsed < 30*time.Millisecond {
		t.Fatalf("%d messages in %v, want 2 in at least 30ms", st.Messages, st.Elapsed)
	}
}

// TestRunCancel stops a replay whose next frame is an hour away.
func TestRunCancel(t *testing.T) {
	recs := []Record{
		{Line: 0, RecvTime: base, Frame: frame(t, 1, 2, 0)},
		{Line: 0, RecvTime: base + int64(time.Hour), Frame: frame(t, 3, 1, 0)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &sink{onFlush: cancel}
	st, err := Run(ctx, reader(t, writeCapture(t, recs)), decoder(t), out, Options{Speed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if st.Messages != 2 {
		t.Fatalf("stats %+v, want the first frame's 2 messages", st)
	}
	if want := "replay: stopped before frame 2: context canceled"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

// TestRealClockSleep checks the real clock's timer: a cancelled wait of an
// hour returns at once, and the timer still works afterwards.
func TestRealClockSleep(t *testing.T) {
	var c realClock
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sleep: %v", err)
	}
	for range 2 {
		start := time.Now()
		if err := c.Sleep(context.Background(), 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 5*time.Millisecond {
			t.Fatalf("slept %v, want 5ms", d)
		}
	}
}

func TestRunErrors(t *testing.T) {
	data := writeCapture(t, twoLines(t))

	errSend := errors.New("line A: send: no route")
	_, err := Run(context.Background(), reader(t, data), decoder(t), &sink{err: errSend}, Options{})
	if !errors.Is(err, errSend) || err.Error() != "replay: frame 1 (line A): publishing seq 1: line A: send: no route" {
		t.Errorf("sink error: %v", err)
	}

	// A capture damaged after its second frame.
	cut := data[:len(writeCapture(t, twoLines(t)[:2]))+10]
	st, err := Run(context.Background(), reader(t, cut), decoder(t), &sink{}, Options{})
	if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "replay: after 2 frames: capture: offset ") {
		t.Errorf("damaged capture: %v", err)
	}
	if st.Frames != 2 || st.Messages != 3 {
		t.Errorf("damaged capture: stats %+v, want the 3 messages of the 2 frames before the damage", st)
	}

	for _, speed := range []float64{-1, 1 / zero(), -1 / zero(), zero() / zero()} {
		if _, err := Run(context.Background(), reader(t, data), decoder(t), &sink{}, Options{Speed: speed}); err == nil {
			t.Errorf("speed %v: no error", speed)
		}
	}
}

func zero() float64 { return 0 }

func TestParseSpeed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"max", 0, true},
		{"1", 1, true},
		{"2.5", 2.5, true},
		{"10", 10, true},
		{"0.5", 0.5, true},
		{".5", 0.5, true},
		{"0", 0, false},
		{"0.0", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"MAX", 0, false},
		{"fast", 0, false},
		{"1e3", 0, false},
		{"Inf", 0, false},
		{"NaN", 0, false},
		{"0x10", 0, false},
		{"1.2.3", 0, false},
		{"2x", 0, false},
		{" 1", 0, false},
	} {
		got, err := ParseSpeed(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseSpeed(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("ParseSpeed(%q) = %v, want an error", tc.in, got)
		}
	}
	_, err := ParseSpeed("fast")
	if want := `replay: speed "fast": want a positive number (1 = recorded pace, 2 = twice as fast) or max`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// bigCapture is n frames of 10 messages, each on lines A and B.
func bigCapture(t testing.TB, n int) []byte {
	var recs []Record
	for i := range n {
		f := frame(t, uint64(1+10*i), 10, 0)
		recs = append(recs,
			Record{Line: 0, RecvTime: base + int64(i)*ms, Frame: f},
			Record{Line: 1, RecvTime: base + int64(i)*ms + 1000, Frame: f})
	}
	return writeCapture(t, recs)
}

type discard struct{}

func (discard) Publish(*bus.Message) error { return nil }
func (discard) Flush() error               { return nil }

// TestRunAllocsPerFrame checks that the per-frame path allocates nothing:
// a capture four times as long costs no more allocations.
func TestRunAllocsPerFrame(t *testing.T) {
	dec := decoder(t)
	allocs := func(data []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := Run(context.Background(), reader(t, data), dec, discard{}, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	short, long := allocs(bigCapture(t, 100)), allocs(bigCapture(t, 400))
	if long > short {
		t.Fatalf("%v allocations for 400 frames, %v for 100", long, short)
	}
}

func BenchmarkRunMax(b *testing.B) {
	const frames = 1000
	data := bigCapture(b, frames)
	dec := decoder(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		st, err := Run(context.Background(), reader(b, data), dec, discard{}, Options{})
		if err != nil || st.Messages != 10*frames {
			b.Fatalf("%+v, %v", st, err)
		}
	}
	b.ReportMetric(float64(10*frames*b.N)/b.Elapsed().Seconds(), "msg/s")
}
