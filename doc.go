// Package feedbus is a market-data bus: a Publisher batches an
// application's messages into numbered, timestamped frames and sends each
// frame on every line (A, B, ...: PGM/EPGM multicast on separate NICs, or
// tcp:// and ipc:// for tests and fallbacks); a Subscriber joins every
// line, keeps the first copy of each message, tracks gaps per publisher
// session, and hands the messages to a Handler on worker goroutines,
// sharded by symbol so each symbol's messages arrive in sequence order.
//
// # Publishing
//
//	pub, err := feedbus.NewPublisher([]string{"epgm://eth1;239.192.1.1:5555", "epgm://eth2;239.192.2.1:5556"})
//	defer pub.Close() // sends what is pending, heartbeats for the linger time, closes
//	err = pub.Publish(&bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: ..., ...})
//	err = pub.Publish(&bus.Message{Kind: 130, Symbol: []byte("AAPL"), Body: orderBookUpdate})
//
// Publish copies the message into the frame in progress. A frame goes out
// when it is full (WithFrameBytes), when its first message has waited
// WithMaxDelay (the publisher's flusher goroutine sends it), or on Flush.
// While nothing is published the flusher sends a heartbeat every
// WithHeartbeat, which carries the next sequence number, so subscribers
// tell a quiet feed from a dead one. Kinds 1 (quote) and 2 (trade) are
// feedbus's; an application defines its own kinds from 128 to 255, each a
// symbol and an opaque body.
//
// # Subscribing
//
//	books := feedbus.NewBooks()
//	sub, err := feedbus.Subscribe(lines, feedbus.Handlers(books, feedbus.HandlerFunc(func(m *feedbus.Message) {
//		// on a worker goroutine; m is valid during the call only
//	})), feedbus.WithEvents(func(e feedbus.Event) { log.Print(e) }))
//	defer sub.Close()
//
// The receive loop never waits for a handler: each worker has a bounded
// queue, and what overflows is dropped or conflated (WithQueue) and
// counted. Events (session start and end, gaps, snail verdicts, line
// rejoins) and status intervals go to callbacks on goroutines of their own.
//
// # Concurrency and lifetime
//
// Publisher: Publish, Flush, Heartbeat, Pending and Stats are safe from any
// goroutine; they serialise on one mutex, which also hands the ZeroMQ
// sockets from goroutine to goroutine (libzmq allows a socket to move
// between threads with a full memory barrier in between). NewPublisher
// starts one goroutine, the flusher; Close (or Shutdown) sends what is
// pending, keeps heartbeating for the linger time so subscribers can repair
// the tail of the feed, stops the flusher, closes the sockets and waits.
// Close is idempotent.
//
// Subscriber: Subscribe starts the receive loop (one goroutine locked to
// one OS thread, which owns the sockets from open to close), the workers,
// the status goroutine (each interval's latency work, off the loop), and
// the event goroutine when asked for. The Handler runs on
// every worker at once, each with its own symbols. Close stops the loop,
// lets the workers drain (SetDrain), stops every goroutine and waits for
// them; it is idempotent and safe from any goroutine. Summary is for after
// Close; Done, Lines, Workers, LoopThread and Counters (the running counts,
// for monitoring: package metrics) are safe at any time.
//
// # Allocation
//
// Per message, neither side allocates: Publish encodes into a reused frame
// buffer, and the subscriber decodes in place and copies each message into
// a preallocated worker queue (an application kind's body into the
// worker's body ring). pebbe/zmq4 allocates one slice per received frame.
package feedbus
