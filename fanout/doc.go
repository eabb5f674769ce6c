// Package fanout hands the messages a feedbus receive loop decodes to N
// worker goroutines, sharded by symbol, without ever making the receive
// loop wait. A receive loop that blocks lets the PGM receive window
// overflow, which turns one slow worker into unrecoverable loss for every
// symbol; so a worker that cannot keep up loses (Drop) or thins out
// (Conflate) its own symbols' messages, and nobody else's.
//
// # Use
//
//	books := fanout.NewBooks() // or the application's own Handler
//	f, err := fanout.New(fanout.Config{Workers: 4, Overflow: fanout.Conflate, Handler: books, Detector: d})
//	defer f.Close()
//	for { // the receive loop
//		... bus.Decode(frame, &fr); now := time.Now().UnixNano()
//		for seq, ok := fr.Next(&m); ok; seq, ok = fr.Next(&m) {
//			f.Queue(&m, seq, fr.SendTime, now)
//		}
//		f.Flush() // the workers see the frame's messages
//	}
//	books.WriteBooks(os.Stdout, 20); json.Marshal(f.Stats())
//
// # Sharding and order
//
// A message goes to worker Shard(symbol, Workers): FNV-1a (32 bit) of the
// symbol's bytes modulo Workers. A symbol always goes to the same worker,
// and each worker has one FIFO queue, so a symbol's messages are processed
// in the order Queue saw them. Messages of different symbols on
// different workers are not ordered with each other. Each book counts
// any message whose sequence number is not above its predecessor's in
// Book.OutOfOrder, which stays 0 within one publisher session (a restarted
// publisher numbers from 1 again, and that shows there).
//
// Each worker's queue is a bounded single-producer single-consumer ring of
// fixed-size items (the symbol copied into the item, since a decoded
// Message's Symbol aliases the frame buffer). Queue takes no lock and
// allocates nothing on this path: it copies the item, bumps the worker's
// message count (a plain move on amd64) and stages the item. Flush then
// publishes each touched worker's tail with one sequentially consistent
// store, loads its sleeping flag, and wakes it (a non-blocking send on a
// one-slot channel) only if it went to sleep: per frame, not per message,
// so the tail's cache line moves between cores once a frame. At most 256
// messages stay staged per worker before Queue publishes them itself.
// Queue reads the worker's queue head, a cache line the worker writes,
// only when its cached copy says the queue is full or at a new high-water
// mark. Dispatch is Queue and Flush for one message.
//
// # Overflow
//
// Drop: a message whose queue is full is discarded and counted in
// WorkerStats.Dropped. The drop happens on the receive loop, which must
// not use the worker's snail probe (a probe belongs to one goroutine), so
// each worker has a second probe, "worker <i> queue", that the receive
// loop owns: Queue reports each drop to it as it happens (Probe.Drop). A
// worker that hangs in its handler thus trips the snail as soon as its
// queue overflows, naming itself; reporting through the worker's own
// probe, at its next message, never would.
//
// Conflate: a message whose queue is full goes to the worker's conflation
// slots instead, which hold the newest quote and the newest trade of each
// symbol (two slots, so a quote never erases the last trade). An update
// that overwrites one the worker has not taken yet is counted in
// WorkerStats.Conflated. The worker takes slots, oldest symbol first, once
// its queue is empty, applying a symbol's quote and trade in sequence
// order. While any slot is pending, Queue sends that worker's messages
// to the slots even if the queue has room again, so nothing queued later
// can overtake an older update. The slots are guarded by a mutex that
// each side holds for O(1) work (a map lookup and a 120-byte copy, or
// popping one slot); they grow only when a symbol overflows for the first
// time. Conflated updates are an accepted degradation, not loss, and are
// not reported to the snail probe as drops; a worker that conflates
// persistently still shows up in its lag.
//
// # Workers
//
// A worker takes what is queued in runs of up to 32 messages: per run it
// reads Config.Now once and calls its probe's Observe(now, sendTime) for
// the run's first message, the oldest, so the largest lag (time spent
// queued counts as lag); then it calls Config.Handler for each message,
// with a Message it reuses (so Symbol and Body are valid during the call
// only). An application kind's body waits in the worker's body ring
// (Config.BodyBytes), copied there by Queue, and its bytes are released
// when the handler returns. With Config.Work every message is a run of its
// own. A worker allocates nothing per message; the Handler decides what it
// allocates. Books, the last-value book handler (best bid and ask, last
// trade, volume and VWAP from an exact 128-bit sum of price × size,
// message count, last sequence number), allocates a book the first time a
// symbol is seen, then nothing. An idle worker sleeps on its channel.
//
// With Config.PinCPUs, worker i locks itself to an OS thread and pins
// that thread to PinCPUs[i] with affinity.PinCurrentThread before New
// returns. When the worker exits (Close, Stop) it restores the thread's
// previous affinity mask and unlocks it, so the runtime reuses an
// ordinary thread. Restoring is deliberate: simply exiting while locked
// does end the thread, except when the worker landed on the process's main
// thread, which Go never ends but parks, still pinned. WorkerTIDs gives
// the threads' ids, for checking Cpus_allowed_list.
//
// # Concurrency
//
// Queue, Flush and Dispatch: one goroutine only, the receive loop. Close
// and Stop must not run concurrently with them (call them after the
// receive loop has returned); a message queued after Close is dropped and
// counted. Close and Stop first publish what is still staged.
// Stats, WorkerTIDs, Workers and Config: any goroutine, any time,
// including after Close. Stats reads atomics only. The Handler runs on
// every worker goroutine at once.
//
// # Lifetime
//
// New starts Workers goroutines. Close stops accepting, lets every worker
// drain its queue and conflation slots, and waits for the goroutines to
// exit; Stop does the same without the drain (each worker finishes the
// message in hand and counts what is left in WorkerStats.Abandoned). Both
// are idempotent; a later call waits for the first. After either, Stats
// keeps answering with the final state, and for every worker
// Dispatched = Processed + Dropped + Conflated + Abandoned.
//
// # Memory
//
// Each queue is allocated in full by New and holds fixed-size items with
// no pointers (the GC does not scan them):
//
//	sizeof(item)  = 120 bytes  (one queued message)
//	sizeof(book)  = 144 bytes  (one symbol's book in a Books, plus its symbol string)
//	sizeof(cslot) = 248 bytes  (one symbol's conflation slots, Conflate only)
//
//	peak ≈ Workers × QueueLen × 120 B
//	     + Workers × BodyBytes (each worker's body ring, allocated at its first application kind)
//	     + S × (144 B + len(symbol) + ~56-112 B map entry)
//	     + C × (248-496 B slot array + ~45-90 B map entry + 4-8 B ring)
//	     + Workers × ~8 KiB goroutine stack
//
// where S is the number of distinct symbols seen and C the number that
// ever overflowed a queue under Conflate (C ≤ S; 0 under Drop); the ranges
// are Go's map load factor and slice doubling. With the defaults and 4
// workers the queues take 4 × 16384 × 120 = 7,864,320 bytes (7.5 MiB), and
// the body rings 4 MiB once application kinds flow; 10,000 symbols add about 3 MB of books and at most about 5 MB of
// conflation slots. Nothing else grows with traffic.
package fanout
