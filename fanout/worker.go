package fanout

import (
	"time"

	"github.com/feedbus/feedbus/affinity"
)

// run is the worker goroutine.
func (w *worker) run(ready chan<- error, start <-chan struct{}) {
	defer w.f.wg.Done()
	if w.cpu >= 0 {
		set, err := affinity.NewCPUSet(w.cpu)
		var restore func() error
		if err == nil {
			restore, err = affinity.PinCurrentThread(set)
		}
		if err != nil {
			ready <- err
			return
		}
		// Put the thread's mask back and unlock it on the way out, so the
		// runtime can reuse it like any other. Letting the thread die with
		// the goroutine instead does not work when the goroutine happens
		// to be on the main thread: Go never ends that thread, it parks it,
		// still pinned. If restoring fails, restore leaves the goroutine
		// locked and the runtime discards (or parks) the thread.
		defer restore()
		w.tid = gettid()
	}
	ready <- nil
	<-start
	w.loop()
}

func (w *worker) loop() {
	f := w.f
	var it item
	var slot cslot
	for {
		if f.abandon.Load() {
			w.abandonQueued()
			break
		}
		if w.pop(&it) {
			w.takeRun(&it)
			continue
		}
		if w.conf != nil && w.conf.take(&slot) {
			w.handleSlot(&slot)
			continue
		}
		if f.closed.Load() {
			// Every Dispatch happened before Close, so once closed is seen
			// one more look finds anything still unseen.
			if w.hasWork() {
				continue
			}
			break
		}
		w.sleeping.Store(true)
		if w.hasWork() || f.closed.Load() || f.abandon.Load() {
			w.sleeping.Store(false)
			continue
		}
		<-w.wake
		w.sleeping.Store(false)
	}
}

// takeRun handles first, just popped, and up to runLen-1 more queued
// messages. With a simulated Work (or a test hook) each message is its own
// run: the work makes the clock reading stale.
func (w *worker) takeRun(first *item) {
	now := w.f.now()
	if w.probe != nil {
		w.rebase()
		w.probe.Observe(now, first.sendTime)
	}
	if w.work > 0 || w.f.hook != nil {
		w.handle(first, now)
		return
	}
	if r := w.f.runs; r != nil {
		r.BeginRun(w.id)
		w.inRun = true
		w.apply(first, now)
		for i := 1; i < runLen && w.pop(first); i++ {
			w.apply(first, now)
		}
		w.inRun = false
		r.EndRun(w.id)
		return
	}
	w.apply(first, now)
	for i := 1; i < runLen && w.pop(first); i++ {
		w.apply(first, now)
	}
}

func (w *worker) hasWork() bool {
	return w.tail.Load() != w.headN || (w.conf != nil && w.conf.pending.Load() > 0)
}

// pop copies the message at the head of the queue into dst and frees its
// slot.
func (w *worker) pop(dst *item) bool {
	if w.headN == w.tailCache {
		w.tailCache = w.tail.Load()
		if w.headN == w.tailCache {
			return false
		}
	}
	*dst = w.buf[w.headIdx]
	if w.headIdx++; w.headIdx == len(w.buf) {
		w.headIdx = 0
	}
	w.headN++
	w.head.Store(w.headN)
	return true
}

// handleSlot applies a symbol's conflated quote and trade in sequence
// order, so the symbol's messages stay in order.
func (w *worker) handleSlot(s *cslot) {
	a, b := &s.q, &s.t
	hasA, hasB := s.hasQ, s.hasT
	if hasA && hasB && b.seq < a.seq {
		a, b = b, a
	}
	now := w.f.now()
	if w.probe != nil {
		first := a
		if !hasA {
			first = b
		}
		w.rebase()
		w.probe.Observe(now, first.sendTime)
	}
	if hasA {
		w.handle(a, now)
	}
	if hasB {
		w.handle(b, now)
	}
}

// handle processes one message the worker has taken at now, running the
// test hook and the simulated Work before the handler.
func (w *worker) handle(it *item, now int64) {
	if w.f.hook != nil {
		w.f.hook(w.id)
	}
	if w.work > 0 {
		simulateWork(w.work)
	}
	w.apply(it, now)
}

// apply updates the lag statistics and calls the handler, then releases
// the message's body, if any, to the receive loop.
func (w *worker) apply(it *item, now int64) {
	lag, wait := now-it.sendTime, now-it.recvTime
	if !w.seen || lag > w.lagMax {
		w.lagMax = lag
		w.maxLag.Store(lag)
	}
	if !w.seen || wait > w.waitMax {
		w.waitMax = wait
		w.maxWait.Store(wait)
	}
	w.seen = true
	m := &w.msg
	m.Kind, m.Symbol = it.kind, it.key.b[:it.key.n:it.key.n]
	m.BidPrice, m.AskPrice, m.BidSize, m.AskSize = it.bidPrice, it.askPrice, it.bidSize, it.askSize
	m.Price, m.Size, m.Side = it.price, it.size, it.side
	m.Body = nil
	if it.bodyLen > 0 {
		start := int((it.bodyEnd - uint64(it.bodyLen)) % uint64(len(w.body)))
		m.Body = w.body[start : start+int(it.bodyLen) : start+int(it.bodyLen)]
	}
	m.Seq, m.SendTime, m.RecvTime = it.seq, it.sendTime, it.recvTime
	m.Snapshot, m.Session = it.snapshot, it.session
	if w.inRun {
		w.f.runs.HandleInRun(m)
	} else {
		w.f.handler.Handle(m)
	}
	if it.bodyLen > 0 {
		w.bodyHead.Store(it.bodyEnd)
	}
	w.processed.Store(w.processed.Load() + 1)
}

// abandonQueued counts what Stop leaves in the queue and the slots.
func (w *worker) abandonQueued() {
	n := w.tail.Load() - w.headN
	if w.conf != nil {
		n += w.conf.discard()
	}
	w.abandoned.Store(n)
}

// simulateWork spends d: spinning when short, since a sleep's wake-up
// latency would dwarf it, sleeping otherwise.
func simulateWork(d time.Duration) {
	if d >= spinLimit {
		time.Sleep(d)
		return
	}
	for start := time.Now(); time.Since(start) < d; {
	}
}
