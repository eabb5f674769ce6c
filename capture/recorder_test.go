package capture_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/feedbus/feedbus/capture"
)

// gate is an io.Writer that holds every Write until the test opens it, and
// says when the first Write has begun: a disk that stalls on cue.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
	buf     bytes.Buffer
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return g.buf.Write(p)
}

func TestRecorderDropsWhenFull(t *testing.T) {
	g := newGate()
	w, err := capture.NewWriter(g, sampleLines)
	if err != nil {
		t.Fatal(err)
	}
	r := startRecorder(t, w, 2)
	start := time.Now().UnixNano()

	// A frame larger than the Writer's buffer makes the goroutine write
	// through to the gate, where it stays, holding that frame.
	big := bytes.Repeat([]byte{0xaa}, 8192)
	small := []byte("small")
	if !r.Record(0, 1, big) {
		t.Fatal("first frame not queued")
	}
	<-g.entered
	// The queue (2) is empty again: two more fit, the third does not.
	if !r.Record(1, 2, small) || !r.Record(0, 3, small) {
		t.Fatal("frames dropped while the queue had room")
	}
	if r.Record(1, 4, small) {
		t.Fatal("frame queued past the queue's length")
	}
	if st := r.Stats(); st.Dropped != 1 || st.Recorded != 0 {
		t.Fatalf("while stalled: %+v, want 1 dropped, none recorded", st)
	}

	close(g.open)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UnixNano()
	want := capture.Stats{Recorded: 3, Dropped: 1, Bytes: uint64(len(big) + 2*len(small))}
	if st := r.Stats(); st != want {
		t.Fatalf("after Close: %+v, want %+v", st, want)
	}

	// Close drained the queue in order.
	f := parse(t, g.buf.Bytes())
	recs := f.records
	if len(recs) != 3 || recs[0].RecvTime != 1 || recs[1].RecvTime != 2 || recs[2].RecvTime != 3 ||
		!bytes.Equal(recs[0].Frame, big) || recs[1].Line != 1 {
		t.Fatalf("recorded %d frames %+v, want frames 1, 2, 3", len(recs), recs)
	}
	// And the file says what it misses, per line.
	if len(f.stats) != 2 {
		t.Fatalf("%d statistics blocks, want 2", len(f.stats))
	}
	if a, b := f.stats[0], f.stats[1]; a.line != 0 || a.received != 2 || a.dropped != 0 ||
		b.line != 1 || b.received != 2 || b.dropped != 1 {
		t.Fatalf("statistics: %+v, %+v; want line 0 2 received 0 dropped, line 1 2 received 1 dropped", a, b)
	}
	for _, st := range f.stats {
		if st.at < start || st.at > end {
			t.Errorf("line %d statistics at %d, want between %d and %d", st.line, st.at, start, end)
		}
	}

	// After Close: dropped, counted, and Close stays done.
	if r.Record(0, 5, small) {
		t.Fatal("Record after Close queued a frame")
	}
	if st := r.Stats(); st.Dropped != 2 {
		t.Fatalf("Record after Close: %d dropped, want 2", st.Dropped)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// startRecorder starts a Recorder that the test closes at the end, if it
// has not.
func startRecorder(t *testing.T, w *capture.Writer, queueLen int) *capture.Recorder {
	r := capture.NewRecorder(w, queueLen)
	t.Cleanup(func() { r.Close() })
	return r
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestRecorderWriteError(t *testing.T) {
	w, err := capture.NewWriter(failWriter{}, sampleLines)
	if err != nil {
		t.Fatal(err) // the header is still in the Writer's buffer
	}
	r := startRecorder(t, w, 8)
	r.Record(0, 1, make([]byte, 8192)) // forces a write through
	r.Record(1, 2, []byte("x"))
	r.Record(7, 3, []byte("x")) // refused by the Writer, counted the same
	err = r.Close()
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Close: %v, want the disk's error", err)
	}
	if err2 := r.Close(); err2 != err {
		t.Fatalf("second Close: %v, want the same error %v", err2, err)
	}
	if st := r.Stats(); st.Failed != 3 || st.Recorded != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v, want 3 failed", st)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	w, err := capture.NewWriter(io.Discard, sampleLines)
	if err != nil {
		t.Fatal(err)
	}
	r := startRecorder(t, w, 1<<16)
	frame := bytes.Repeat([]byte{1}, 1400)
	if n := testing.AllocsPerRun(1000, func() { r.Record(1, 1, frame) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}
