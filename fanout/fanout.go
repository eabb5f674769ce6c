package fanout

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/snail"
)

// symKey is a symbol as a comparable value: its length and its bytes,
// zero-padded, so it can key a map without allocating a string.
type symKey struct {
	n uint8
	b [bus.MaxSymbolLen]byte
}

func (k *symKey) String() string { return string(k.b[:k.n]) }

// item is one message as it sits in a worker queue. It has a fixed size
// and no pointers, so a queue is a single allocation the GC never scans,
// and the symbol is a copy: the decoded message's Symbol aliases the frame
// buffer the receive loop reuses. An application kind's body is copied into
// the worker's body ring, and the item holds where. doc.go states its size;
// a test checks it.
type item struct {
	session  uint64
	seq      uint64
	sendTime int64 // publisher's clock, from the frame header
	recvTime int64 // the receive loop's now at Dispatch
	bidPrice int64
	askPrice int64
	price    int64
	bidSize  uint32
	askSize  uint32
	size     uint32
	bodyLen  uint32 // body bytes in the ring, ending at bodyEnd
	bodyEnd  uint64 // ring position (bytes ever reserved) just past the body
	kind     bus.Kind
	side     bus.Side
	snapshot bool // a recovery snapshot's record (Message.Snapshot)
	key      symKey
}

func (it *item) set(m *bus.Message, seq uint64, sendTime, now int64) {
	it.seq = seq
	it.sendTime = sendTime
	it.recvTime = now
	it.bidPrice, it.askPrice = m.BidPrice, m.AskPrice
	it.bidSize, it.askSize = m.BidSize, m.AskSize
	it.price, it.size, it.side = m.Price, m.Size, m.Side
	it.kind = m.Kind
	it.snapshot = false
	it.key.n = uint8(len(m.Symbol))
	it.key.b = [bus.MaxSymbolLen]byte{}
	copy(it.key.b[:], m.Symbol)
}

// Fanout hands the receive loop's messages to worker goroutines, sharded
// by symbol. See the package documentation for the rules of use.
type Fanout struct {
	cfg     Config
	handler Handler
	runs    RunHandler // handler, if it takes runs; else nil
	now     func() int64
	hook    func(worker int) // tests: called when a worker has taken a message
	workers []*worker
	dirty   []*worker // workers Queue touched since the last Flush
	session uint64    // the receive loop's: stamped on every item (SetSession)

	epoch   atomic.Uint64 // bumped by ResetBaselines
	closed  atomic.Bool   // no more Dispatch; workers drain and exit
	abandon atomic.Bool   // workers exit without draining
	once    sync.Once
	wg      sync.WaitGroup
}

// cacheLine separates fields written by different goroutines: two 64-byte
// lines, since Intel's spatial prefetcher fetches lines in pairs.
type cacheLine [128]byte

type worker struct {
	// Immutable once the worker runs.
	id   int
	f    *Fanout
	work time.Duration // simulated cost per message for this worker

	buf []item
	// body is the ring of application kinds' bodies, in queue order,
	// allocated by Queue when the worker's first body comes: a feed of
	// quotes and trades never pays for it. The worker reads it only for
	// items published after that, so the tail's publication orders it.
	body  []byte
	wake  chan struct{} // one token: "look again"
	conf  *conflator    // nil under Drop
	probe *snail.Probe  // the worker's, for its lag; nil without a Detector
	// queue is the receive loop's probe for this worker's drops: a drop is
	// reported as it happens, so a worker that hangs still trips the snail
	// (its own probe would hear of the drops only at its next message).
	queue *snail.Probe
	cpu   int // -1 when not pinned
	tid   int // OS thread id when pinned, else 0

	_ cacheLine
	// Written only by Dispatch (the receive loop).
	tail       atomic.Uint64 // messages ever enqueued; publishes buf slots
	tailN      uint64        // tail, unpublished copy
	tailIdx    int           // tailN % len(buf)
	staged     int           // messages queued since tail was last published
	dirty      bool          // on Fanout.dirty: Flush must publish and signal
	headCache  uint64        // a head value read earlier; never ahead of head
	bodyTail   uint64        // body bytes ever reserved
	bodyHeadC  uint64        // a bodyHead value read earlier; never ahead of it
	qmax       uint64        // queueMax, unpublished copy
	dispatched atomic.Uint64
	dropped    atomic.Uint64
	conflated  atomic.Uint64
	queueMax   atomic.Uint64

	_ cacheLine
	// Set by the worker before it sleeps, cleared by whoever wakes it.
	sleeping atomic.Bool

	_ cacheLine
	// Written only by the worker goroutine.
	head      atomic.Uint64 // messages ever taken; frees buf slots
	bodyHead  atomic.Uint64 // body bytes released after their handler returned
	headN     uint64
	headIdx   int
	tailCache uint64 // a tail value read earlier; never ahead of tail
	processed atomic.Uint64
	abandoned atomic.Uint64
	maxLag    atomic.Int64
	maxWait   atomic.Int64
	lagMax    int64 // maxLag, unpublished copy
	waitMax   int64
	seen      bool    // lagMax and waitMax are set
	msg       Message // what the handler is given, reused
	epoch     uint64  // the Fanout's epoch this worker's probe baseline is of
	inRun     bool    // between the handler's BeginRun and EndRun
}

// New validates cfg, allocates every queue in full, starts the workers and,
// if cfg.PinCPUs is set, waits until each has pinned its thread. On error
// no goroutine is left running.
func New(cfg Config) (*Fanout, error) { return newFanout(cfg, nil) }

func newFanout(cfg Config, hook func(worker int)) (*Fanout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.PinCPUs = slices.Clone(cfg.PinCPUs)
	f := &Fanout{cfg: cfg, now: cfg.Now, hook: hook, handler: cfg.Handler}
	if f.handler == nil {
		f.handler = discard{}
		if defaultHandler != nil {
			f.handler = defaultHandler()
			f.cfg.Handler = f.handler
		}
	}
	f.runs, _ = f.handler.(RunHandler)
	if f.now == nil {
		f.now = func() int64 { return time.Now().UnixNano() }
	}
	f.workers = make([]*worker, cfg.Workers)
	f.dirty = make([]*worker, 0, cfg.Workers)
	for i := range f.workers {
		w := &worker{
			id:   i,
			f:    f,
			work: cfg.Work,
			buf:  make([]item, cfg.queueLen()),
			wake: make(chan struct{}, 1),
			cpu:  -1,
		}
		w.msg.Worker = i
		if cfg.Overflow == Conflate {
			w.conf = newConflator()
		}
		if len(cfg.PinCPUs) > 0 {
			w.cpu = cfg.PinCPUs[i]
		}
		if len(cfg.WorkOn) > 0 && !slices.Contains(cfg.WorkOn, i) {
			w.work = 0
		}
		f.workers[i] = w
	}
	ready := make(chan error, len(f.workers))
	start := make(chan struct{})
	for _, w := range f.workers {
		f.wg.Add(1)
		go w.run(ready, start)
	}
	var err error
	for range f.workers {
		if e := <-ready; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		f.closed.Store(true)
		close(start)
		f.wg.Wait()
		return nil, err
	}
	// Probes are registered only once every worker is up, so a failed New
	// leaves none behind; close(start) publishes them to the workers.
	if cfg.Detector != nil {
		for _, w := range f.workers {
			w.probe = cfg.Detector.Probe("worker " + strconv.Itoa(w.id))
			w.queue = cfg.Detector.Probe("worker " + strconv.Itoa(w.id) + " queue")
		}
	}
	close(start)
	return f, nil
}

// Shard returns the worker, in [0, workers), that Dispatch gives symbol
// to: FNV-1a (32 bit) of its bytes modulo workers.
func Shard(symbol []byte, workers int) int {
	if workers <= 1 {
		return 0
	}
	return int(fnv1a(symbol) % uint32(workers))
}

func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// Dispatch is Queue followed by Flush: the worker may take m at once.
func (f *Fanout) Dispatch(m *bus.Message, seq uint64, sendTime, now int64) {
	f.Queue(m, seq, sendTime, now)
	f.Flush()
}

// Queue copies m (with its sequence number, the frame's send time and the
// receive loop's now, all ns since the epoch) into the queue of the worker
// that owns m's symbol, and stages it there: the worker sees it at the next
// Flush, or sooner once stageLimit messages are staged for it. Publishing
// a frame's messages together costs one synchronised store and at most one
// wake-up per worker and frame instead of per message. Queue never blocks
// and allocates nothing once every symbol has been seen. When the queue is
// full the message is dropped or conflated according to Config.Overflow. A
// message after Close, or with an empty symbol or one longer than
// bus.MaxSymbolLen (which bus.Decode never yields), is dropped.
//
// Only one goroutine, the receive loop, may call Queue, Flush and
// Dispatch.
func (f *Fanout) Queue(m *bus.Message, seq uint64, sendTime, now int64) {
	w := f.workers[0]
	if len(f.workers) > 1 {
		w = f.workers[fnv1a(m.Symbol)%uint32(len(f.workers))]
	}
	// Single writer: a plain load and store, no locked instruction.
	w.dispatched.Store(w.dispatched.Load() + 1)
	if len(m.Symbol) == 0 || len(m.Symbol) > bus.MaxSymbolLen || f.closed.Load() || m.Kind == 0 {
		w.dropped.Store(w.dropped.Load() + 1)
		return
	}
	if w.conf != nil && w.conf.pending.Load() > 0 {
		// Older updates are waiting in the conflation slots, and the worker
		// applies those after its queue: queueing this one would let it
		// overtake them. Everything goes to the slots until they are empty,
		// and an application kind, which has no slot, is dropped.
		if m.Kind.IsApp() {
			w.drop(now)
			return
		}
		w.conflate(m, seq, sendTime, now)
		return
	}
	it := w.reserve()
	var end uint64
	if it != nil && len(m.Body) > 0 {
		if end = w.reserveBody(len(m.Body)); end == 0 {
			it = nil // no room for the body: the queue is full in bytes
		}
	}
	if it == nil {
		if w.conf != nil && !m.Kind.IsApp() {
			w.conflate(m, seq, sendTime, now)
			return
		}
		// An application kind cannot be conflated (its body has no
		// slot), so it is dropped under either policy.
		w.drop(now)
		return
	}
	it.set(m, seq, sendTime, now)
	it.session = f.session
	if end != 0 {
		it.bodyEnd, it.bodyLen = end, uint32(len(m.Body))
		copy(w.body[int((end-uint64(len(m.Body)))%uint64(len(w.body))):], m.Body)
	}
	w.stage()
}

// SetSession sets the publisher session that the messages queued from now
// on belong to (Message.Session). Only the receive loop may call it.
func (f *Fanout) SetSession(id uint64) { f.session = id }

// QueueSnapshot stages a recovery snapshot's record (Message.Snapshot)
// like Queue, but never drops or conflates it: it returns false, having
// done nothing, when the worker's queue has no room for it now (or holds
// conflated updates that must go first), and the receive loop offers it
// again later. now is the loop's clock, both the send and the receive
// time of the record.
func (f *Fanout) QueueSnapshot(m *bus.Message, seq uint64, now int64) bool {
	w := f.workers[0]
	if len(f.workers) > 1 {
		w = f.workers[fnv1a(m.Symbol)%uint32(len(f.workers))]
	}
	if len(m.Symbol) == 0 || len(m.Symbol) > bus.MaxSymbolLen || f.closed.Load() || m.Kind == 0 {
		w.dispatched.Store(w.dispatched.Load() + 1)
		w.dropped.Store(w.dropped.Load() + 1)
		return true // never queueable: counted, not offered again
	}
	if w.conf != nil && w.conf.pending.Load() > 0 {
		return false
	}
	it := w.reserve()
	if it == nil {
		return false
	}
	var end uint64
	if len(m.Body) > 0 {
		if end = w.reserveBody(len(m.Body)); end == 0 {
			return false // the item is only taken by stage
		}
	}
	w.dispatched.Store(w.dispatched.Load() + 1)
	it.set(m, seq, now, now)
	it.session, it.snapshot = f.session, true
	if end != 0 {
		it.bodyEnd, it.bodyLen = end, uint32(len(m.Body))
		copy(w.body[int((end-uint64(len(m.Body)))%uint64(len(w.body))):], m.Body)
	}
	w.stage()
	return true
}

// drop counts a message the worker's full queue refused and tells the
// worker's queue probe at once.
func (w *worker) drop(now int64) {
	w.dropped.Store(w.dropped.Load() + 1)
	if w.queue != nil {
		w.queue.Drop(now, 1)
	}
}

// reserveBody claims n contiguous bytes of the body ring and returns the
// ring position just past them, or 0 when the ring has no room. A body
// never wraps: if it does not fit before the ring's end, the bytes up to
// the end are skipped.
func (w *worker) reserveBody(n int) uint64 {
	if w.body == nil {
		w.body = make([]byte, w.f.cfg.bodyBytes()) // once per worker
	}
	size := uint64(len(w.body))
	if uint64(n) > size {
		return 0
	}
	start := w.bodyTail
	if idx := start % size; idx+uint64(n) > size {
		start += size - idx
	}
	end := start + uint64(n)
	if end-w.bodyHeadC > size {
		w.bodyHeadC = w.bodyHead.Load()
		if end-w.bodyHeadC > size {
			return 0
		}
	}
	w.bodyTail = end
	return end
}

// Flush publishes every message Queue staged since the last Flush and
// wakes the workers that sleep.
func (f *Fanout) Flush() {
	for _, w := range f.dirty {
		w.publish()
	}
	f.dirty = f.dirty[:0]
}

// reserve returns the free slot at the tail of the queue, or nil if the
// queue is full, and keeps the high-water mark. It reads head, a cache
// line the worker writes, only when the stale headCache says the queue is
// full or would set a new high-water mark.
func (w *worker) reserve() *item {
	size := uint64(len(w.buf))
	depth := w.tailN - w.headCache // an upper bound on the true depth
	if depth >= size {
		w.headCache = w.head.Load()
		depth = w.tailN - w.headCache
		if depth >= size {
			return nil
		}
	}
	if depth+1 > w.qmax {
		w.headCache = w.head.Load()
		if depth = w.tailN - w.headCache; depth+1 > w.qmax {
			w.qmax = depth + 1
			w.queueMax.Store(w.qmax)
		}
	}
	return &w.buf[w.tailIdx]
}

// stageLimit bounds what a worker's queue holds unpublished, so a long
// frame cannot fill a queue its worker has not yet been told about.
const stageLimit = 256

// stage moves the tail past the slot reserve returned, without telling the
// worker yet.
func (w *worker) stage() {
	w.tailN++
	if w.tailIdx++; w.tailIdx == len(w.buf) {
		w.tailIdx = 0
	}
	if w.staged++; w.staged >= stageLimit {
		w.publish()
		return
	}
	w.markDirty()
}

func (w *worker) markDirty() {
	if !w.dirty {
		w.dirty = true
		w.f.dirty = append(w.f.dirty, w)
	}
}

// publish makes the staged messages visible and wakes the worker if it
// sleeps. A worker still on the dirty list is published again by Flush,
// which is harmless.
func (w *worker) publish() {
	w.staged = 0
	w.dirty = false
	w.tail.Store(w.tailN)
	w.signal()
}

// signal wakes the worker if it announced it would sleep. The worker
// stores sleeping and then loads tail (and pending); publish stores tail
// (conflate, pending) and then loads sleeping. Go's atomics are
// sequentially consistent, so at least one side sees the other: no lost
// wake-up.
func (w *worker) signal() {
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default: // a token is already waiting
		}
	}
}

// conflate puts m in its symbol's slot. Staged messages are older, and
// the worker applies the slots after its queue, so they are published
// first.
func (w *worker) conflate(m *bus.Message, seq uint64, sendTime, now int64) {
	if w.staged > 0 {
		w.publish()
	}
	var it item
	it.set(m, seq, sendTime, now)
	it.session = w.f.session
	if w.conf.put(&it) {
		w.conflated.Store(w.conflated.Load() + 1)
	}
	w.markDirty()
}

// ResetBaselines makes every worker's snail probe forget its lag baseline
// before its next observation: a new publisher session may come from a host
// whose clock is off by another amount. Safe from any goroutine; it costs
// each worker one atomic load per run of messages.
func (f *Fanout) ResetBaselines() { f.epoch.Add(1) }

// rebase resets the worker's probe baseline if ResetBaselines was called
// since it last looked.
func (w *worker) rebase() {
	if e := w.f.epoch.Load(); e != w.epoch {
		w.epoch = e
		w.probe.ResetBaseline()
	}
}

// Close stops accepting messages, lets every worker finish what is queued
// (queues and conflation slots), and waits for the worker goroutines to
// exit. It must not run concurrently with Dispatch: call it once the
// receive loop has stopped. It is idempotent and safe from any goroutine;
// a second call waits for the first to finish.
func (f *Fanout) Close() {
	f.once.Do(func() {
		f.Flush()
		f.closed.Store(true)
		for _, w := range f.workers {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		f.wg.Wait()
	})
}

// Stop is Close without the drain: each worker finishes the message in
// hand and exits, and what it leaves queued is counted in
// WorkerStats.Abandoned. After a Close has finished, Stop does nothing.
func (f *Fanout) Stop() {
	f.abandon.Store(true)
	f.Close()
}

// WorkerTIDs returns the OS thread id of each worker, in worker order, for
// workers pinned with Config.PinCPUs; an unpinned worker has no fixed
// thread and shows 0. The ids stay valid until Close or Stop, which
// restore each thread's affinity mask and hand it back to the runtime.
func (f *Fanout) WorkerTIDs() []int {
	tids := make([]int, len(f.workers))
	for i, w := range f.workers {
		tids[i] = w.tid
	}
	return tids
}

// Workers returns the number of workers.
func (f *Fanout) Workers() int { return len(f.workers) }

// Config returns the configuration in effect (QueueLen resolved).
func (f *Fanout) Config() Config {
	c := f.cfg
	c.QueueLen = c.queueLen()
	return c
}

// runLen is how many queued messages a worker takes per clock read and
// probe observation. Reading the clock costs about 100 ns on some VMs, as
// much as the rest of the message; a run is taken within a few µs, so its
// messages share one reading. The first message of a run is its oldest, so
// the probe sees the run's largest lag.
const runLen = 32

// WorkerStats are one worker's counters.
type WorkerStats struct {
	Worker int `json:"worker"`
	// CPU is the CPU the worker is pinned to, -1 if none.
	CPU int `json:"cpu"`
	// Dispatched counts every message Dispatch gave this worker. Once
	// Close has returned, Dispatched = Processed + Dropped + Conflated +
	// Abandoned.
	Dispatched uint64 `json:"dispatched"`
	Processed  uint64 `json:"processed"`
	// Dropped: discarded on a full queue (Drop policy), or after Close.
	Dropped uint64 `json:"dropped"`
	// Conflated: overwritten in a conflation slot by a newer update of the
	// same symbol and kind before the worker took it (Conflate policy).
	Conflated uint64 `json:"conflated"`
	// Abandoned: left queued by Stop.
	Abandoned uint64 `json:"abandoned,omitempty"`
	// MaxLagUs is the largest now − send time, in µs, where the worker
	// took a message: network, queueing and clock offset together.
	MaxLagUs float64 `json:"max_lag_us"`
	// MaxQueueUs is the largest time, in µs, from Dispatch to the worker
	// taking the message: the queueing part of the lag alone.
	MaxQueueUs float64 `json:"max_queue_us"`
	// QueueMax is the queue's high-water mark in messages, QueueLen its
	// capacity.
	QueueMax int `json:"queue_max"`
	QueueLen int `json:"queue_len"`
}

// Stats returns every worker's counters. It is safe from any goroutine;
// each counter is read atomically, but a worker may move on between two.
func (f *Fanout) Stats() []WorkerStats {
	out := make([]WorkerStats, len(f.workers))
	for i, w := range f.workers {
		s := WorkerStats{
			Worker:     w.id,
			CPU:        w.cpu,
			Dispatched: w.dispatched.Load(),
			Processed:  w.processed.Load(),
			Dropped:    w.dropped.Load(),
			Conflated:  w.conflated.Load(),
			Abandoned:  w.abandoned.Load(),
			QueueMax:   int(w.queueMax.Load()),
			QueueLen:   len(w.buf),
		}
		if s.Processed > 0 {
			s.MaxLagUs = float64(w.maxLag.Load()) / 1e3
			s.MaxQueueUs = float64(w.maxWait.Load()) / 1e3
		}
		out[i] = s
	}
	return out
}
