package capture

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the queue length NewRecorder takes for queueLen <= 0.
// At 1400-byte frames it holds about 5.6 MiB, a second or two of a busy
// feed's frames while the disk stalls.
const DefaultQueueLen = 4096

// Recorder writes frames to a Writer from its own goroutine, so that the
// receive loop never waits on the disk: when the queue is full a frame is
// dropped and counted, not waited for. A capture that misses frames says
// so: at Close, each line's interface statistics block gets the frames
// received and dropped (isb_ifrecv, isb_ifdrop), which capinfos and
// Wireshark show.
//
// Record may be called from several goroutines, but not concurrently with
// Close: a receive loop records, and whoever stops it closes the recorder
// afterwards. Stats may be called from any goroutine at any time.
type Recorder struct {
	w     *Writer
	queue chan record
	done  chan struct{} // closed when the writing goroutine has finished
	once  sync.Once

	closed   atomic.Bool
	recorded atomic.Uint64
	dropped  atomic.Uint64
	failed   atomic.Uint64
	bytes    atomic.Uint64
	// lineDropped counts each line's frames dropped by Record, for the
	// statistics blocks.
	lineDropped []atomic.Uint64

	err error // the first write error; the goroutine's until done is closed
}

// record is what Record queues: small, and passed by value, so a Record
// allocates nothing.
type record struct {
	line     int
	recvTime int64
	frame    []byte
}

// Stats counts a Recorder's frames.
type Stats struct {
	Recorded uint64 // frames written to the Writer
	Dropped  uint64 // frames not written: the queue was full, or Record came after Close
	Failed   uint64 // frames the Writer refused or failed to write; Close returns the first error
	Bytes    uint64 // bytes of the frames recorded
}

// NewRecorder starts a goroutine that writes to w whatever Record queues,
// at most queueLen frames at a time (DefaultQueueLen if queueLen <= 0).
// From then on w belongs to the Recorder until Close returns. Queued frames
// hold their memory: the bound is queueLen times the largest frame.
func NewRecorder(w *Writer, queueLen int) *Recorder {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	r := &Recorder{
		w:           w,
		queue:       make(chan record, queueLen),
		done:        make(chan struct{}),
		lineDropped: make([]atomic.Uint64, w.lines),
	}
	go r.run()
	return r
}

// Record queues frame, received on line at recvTime (ns since the Unix
// epoch), to be written, and reports whether it was queued. It never
// blocks: when the queue is full, or the Recorder is closed, the frame is
// dropped and counted.
//
// The frame's ownership passes to the Recorder, which writes it later
// from another goroutine: the caller must not change it afterwards
// (reading it, to decode it, is fine). bus.Subscriber.Recv returns a new
// slice for every frame, so a receive loop passes it on as it is, without
// a copy; one that reuses its buffers must copy.
func (r *Recorder) Record(line int, recvTime int64, frame []byte) bool {
	if !r.closed.Load() {
		select {
		case r.queue <- record{line: line, recvTime: recvTime, frame: frame}:
			return true
		default:
			if line >= 0 && line < len(r.lineDropped) {
				r.lineDropped[line].Add(1)
			}
		}
	}
	r.dropped.Add(1)
	return false
}

// Stats returns the counters so far.
func (r *Recorder) Stats() Stats {
	return Stats{
		Recorded: r.recorded.Load(),
		Dropped:  r.dropped.Load(),
		Failed:   r.failed.Load(),
		Bytes:    r.bytes.Load(),
	}
}

// Close writes the frames still queued, each line's statistics, and
// flushes the Writer; then it stops the goroutine and returns the first
// error any write met. It does not close the file under the Writer. Close
// waits for the disk: it is for shutdown, not for the receive loop's
// hot path. It is idempotent and returns the same error each time.
func (r *Recorder) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.queue)
		<-r.done
	})
	return r.err
}

// run is the writing goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	lines := len(r.lineDropped)
	received := make([]uint64, lines) // per line, frames that reached this goroutine
	failed := make([]uint64, lines)
	for rec := range r.queue {
		err := r.w.Write(rec.line, rec.recvTime, rec.frame)
		inRange := rec.line >= 0 && rec.line < lines
		if inRange {
			received[rec.line]++
		}
		if err != nil {
			// Keep going: a refused frame leaves the file whole, and
			// after a disk error the Writer fails fast.
			r.failed.Add(1)
			if inRange {
				failed[rec.line]++
			}
			r.keep(err)
			continue
		}
		r.recorded.Add(1)
		r.bytes.Add(uint64(len(rec.frame)))
	}
	now := time.Now()
	for i := range lines {
		d := r.lineDropped[i].Load()
		r.keep(r.w.writeStats(i, received[i]+d, failed[i]+d, now))
	}
	r.keep(r.w.Flush())
}

// keep records err if it is the first.
func (r *Recorder) keep(err error) {
	if r.err == nil {
		r.err = err
	}
}
