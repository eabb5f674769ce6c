package fanout

import (
	"testing"
)

// TestQueueStagesUntilFlush: Queue stages messages where the worker cannot
// see them; Flush publishes them, once per worker touched.
func TestQueueStagesUntilFlush(t *testing.T) {
	f := newTest(t, Config{Workers: 2}, nil)
	syms := [2][]string{symbolsOn(0, 2, 3), symbolsOn(1, 2, 3)}
	for i := range 3 {
		m := quote(syms[0][i], 100, 101, 1, 1)
		f.Queue(&m, uint64(i+1), 0, 0)
	}
	w0, w1 := f.workers[0], f.workers[1]
	if got := w0.tail.Load(); got != 0 {
		t.Fatalf("worker 0 sees %d messages before Flush, want 0", got)
	}
	if len(f.dirty) != 1 || f.dirty[0] != w0 {
		t.Fatalf("dirty list %v, want worker 0 alone", f.dirty)
	}
	f.Flush()
	if got := w0.tail.Load(); got != 3 {
		t.Fatalf("worker 0 sees %d messages after Flush, want 3", got)
	}
	if got := w1.tail.Load(); got != 0 {
		t.Fatalf("worker 1 was given %d messages, want 0", got)
	}
	if len(f.dirty) != 0 {
		t.Fatalf("dirty list not emptied by Flush: %d left", len(f.dirty))
	}
	eventually(t, "worker 0 to take its 3 messages", func() bool { return f.Stats()[0].Processed == 3 })
	f.Close()
	checkAccounting(t, f)
}

// TestQueuePublishesAtStageLimit: a long frame cannot fill a queue its
// worker has not been told about.
func TestQueuePublishesAtStageLimit(t *testing.T) {
	f := newTest(t, Config{Workers: 1, QueueLen: 4 * stageLimit}, nil)
	m := quote("AAPL", 100, 101, 1, 1)
	for i := range stageLimit - 1 {
		f.Queue(&m, uint64(i+1), 0, 0)
	}
	w := f.workers[0]
	if got := w.tail.Load(); got != 0 {
		t.Fatalf("published %d before the stage limit, want 0", got)
	}
	f.Queue(&m, stageLimit, 0, 0)
	if got := w.tail.Load(); got != stageLimit {
		t.Fatalf("published %d at the stage limit, want %d", got, stageLimit)
	}
	f.Flush()
	eventually(t, "the worker to take them", func() bool { return f.Stats()[0].Processed == stageLimit })
}

// TestCloseFlushesStaged: what is staged when the receive loop stops is
// processed, not lost uncounted.
func TestCloseFlushesStaged(t *testing.T) {
	f := newTest(t, Config{Workers: 1}, nil)
	m := quote("MSFT", 100, 101, 1, 1)
	for i := range 10 {
		f.Queue(&m, uint64(i+1), 0, 0)
	}
	f.Close()
	if got := f.Stats()[0].Processed; got != 10 {
		t.Fatalf("processed %d after Close, want 10", got)
	}
	checkAccounting(t, f)
}

// TestConflatePublishesStagedFirst: staged queue items are older than an
// update that goes to the conflation slots, so they become visible first.
func TestConflatePublishesStagedFirst(t *testing.T) {
	st := newStall(0)
	f := newTest(t, Config{Workers: 1, QueueLen: 4, Overflow: Conflate}, st.hook)
	m := quote("TSLA", 100, 101, 1, 1)
	f.Dispatch(&m, 1, 0, 0) // the worker takes it and stalls in the hook
	st.wait(t, 0)
	for i := range 4 { // fills the queue, staged
		f.Queue(&m, uint64(i+2), 0, 0)
	}
	w := f.workers[0]
	if got := w.tail.Load(); got != 1 {
		t.Fatalf("tail %d with the queue staged, want 1", got)
	}
	f.Queue(&m, 6, 0, 0) // full: conflates, publishing the staged four
	if got := w.tail.Load(); got != 5 {
		t.Fatalf("tail %d after a conflated update, want 5 (staged published first)", got)
	}
	st.unblock()
	f.Close()
	if b := bookMap(f)["TSLA"]; b.LastSeq != 6 || b.OutOfOrder != 0 {
		t.Fatalf("book last seq %d, out of order %d; want 6 and 0", b.LastSeq, b.OutOfOrder)
	}
	checkAccounting(t, f)
}
