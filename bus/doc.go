// Package bus is feedbus's transport: the wire format, the publisher and
// subscriber sockets, endpoint parsing, socket tuning, frame compression and
// sequence tracking with A/B line arbitration.
//
// # Wire format
//
// A frame is one ZeroMQ message holding a batch of market messages; see
// docs/wire.md. [FrameWriter] builds frames into a buffer it reuses, and
// [Decode] validates a whole frame before [Frame.Next] walks it, so neither
// allocates. [Compressor] and [Decoder] add S2 or zstd compression of the
// frame body, also without allocating after warm-up. Every decoding error
// matches [ErrMalformed].
//
// # Lines
//
// [Publisher] and [Subscriber] open one socket per line (A, B, ...), each
// bound with ZMQ_AFFINITY to its own I/O thread of a context that has one
// I/O thread per line, so each NIC's traffic is handled by a thread that
// can be pinned to its own core (see package affinity). Endpoints are
// ZeroMQ's; interface names in pgm and epgm endpoints are resolved to
// addresses because libpgm rejects names. Lines must differ in group and in
// port.
//
// [Tracker] follows sequence numbers per publisher session: the first copy
// of a message wins, later ones are duplicates, and a hole becomes a gap
// only after it has waited for the other lines.
//
// # Concurrency and lifetime
//
// A Publisher or Subscriber is owned by one goroutine: ZeroMQ sockets are
// not thread safe, so every method must be called from the goroutine that
// uses it (or with a happens-before edge between goroutines). Close
// terminates the context and is idempotent. A Publisher's Close first gives
// frames still queued in libzmq up to Options.Linger to go out; PGM repairs
// only while the socket is open, so a publisher should heartbeat for a
// moment before closing to let subscribers repair the tail. A Subscriber's
// Close drops what libzmq still queues. FrameWriter, Frame, Compressor,
// Decoder and Tracker are not safe for concurrent use either; give each
// goroutine its own.
//
// # Allocation
//
// The per-message path (encode, decode, arbitration) allocates nothing.
// Per frame, Subscriber.Recv returns a new slice: pebbe/zmq4 copies each
// ZeroMQ message into fresh Go memory, one allocation shared by every
// message the frame batches.
//
// # Receiving
//
// Subscriber.Recv sleeps in libzmq until a frame comes: each frame then
// costs a thread wake-up, tens of µs on a virtual machine when the waker
// runs on another CPU. Options.Spin (feedsub --spin) makes Recv poll
// without sleeping for that long after each frame, which removes the
// wake-up while the feed is busy at the cost of a CPU kept at 100%; after
// Spin without a frame Recv sleeps again.
package bus
