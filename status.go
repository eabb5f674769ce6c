package feedbus

import (
	"fmt"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/feedbus/feedbus/internal/latency"
)

// statusWorker does an interval's slow work off the receive loop: the
// latency percentiles, the .hlog record (zlib-compressed), the latency
// buckets of Counters, and the application's status callback. The loop hands it the interval's
// histogram by swapping in a spare (two pointer moves) and gets the
// histogram back, reset, as the spare of a later interval.
type statusWorker struct {
	reports chan tickReport
	spares  chan *hdr.Histogram
	log     *latency.IntervalLog
	onTick  func(Status)
	buckets *latencyBuckets // the cumulative histogram Counters reads
	logErr  error
	wg      sync.WaitGroup
}

// tickReport is one interval, as the receive loop hands it over.
type tickReport struct {
	status Status
	hist   *hdr.Histogram // nil when no spare was free: the interval runs on
	end    time.Time
}

func newStatusWorker(cfg *subscriberConfig, buckets *latencyBuckets, start time.Time) (*statusWorker, error) {
	w := &statusWorker{reports: make(chan tickReport, 4), spares: make(chan *hdr.Histogram, 2), onTick: cfg.onStatus, buckets: buckets}
	if cfg.hlog != nil {
		l, err := latency.NewIntervalLog(cfg.hlog, cfg.hlogComment, start)
		if err != nil {
			return nil, fmt.Errorf("latency log: %w", err)
		}
		w.log = l
	}
	w.spares <- latency.NewHistogram()
	w.wg.Add(1)
	go w.run()
	return w, nil
}

func (w *statusWorker) run() {
	defer w.wg.Done()
	for r := range w.reports {
		if r.hist != nil {
			r.status.Latency = latency.Summarise(r.hist)
			w.buckets.add(r.hist, r.status.Latency)
			if w.log != nil && w.logErr == nil {
				if err := w.log.Write(r.hist, r.end); err != nil {
					w.logErr = fmt.Errorf("latency log: %w", err)
				}
			}
			r.hist.Reset()
			w.spares <- r.hist // never blocks: at most two histograms circulate
		}
		if w.onTick != nil {
			w.onTick(r.status)
		}
	}
}

// hand passes an interval on without waiting. The receive loop is the only
// sender, so room seen in the queue is room when it sends. It reports
// false, keeping the interval running, when the worker is behind.
func (w *statusWorker) hand(lat *latency.Recorder, st Status, end time.Time, last bool) bool {
	if !last && len(w.reports) == cap(w.reports) {
		return false
	}
	r := tickReport{status: st, end: end}
	select {
	case spare := <-w.spares:
		r.hist = lat.SwapInterval(spare)
	default:
		if last {
			// The last interval must reach the log: wait for a spare.
			r.hist = lat.SwapInterval(<-w.spares)
		}
	}
	w.reports <- r
	return true
}

// close finishes what is queued and returns the latency log's first error.
func (w *statusWorker) close() error {
	close(w.reports)
	w.wg.Wait()
	return w.logErr
}
