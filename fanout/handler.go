package fanout

import "github.com/feedbus/feedbus/bus"

// Message is what a worker hands its Handler: one market message with
// where it sits in the feed and when it travelled. It is valid only during
// the Handle call: Symbol and Body alias the worker's queue, which the
// next message reuses. Copy what you keep.
type Message struct {
	bus.Message
	// Session is the publisher session the message belongs to, and Seq
	// its sequence number in that session.
	Session uint64
	Seq     uint64
	// SendTime is the publisher's wall clock when it sent the frame, and
	// RecvTime the subscriber's wall clock when the receive loop took it,
	// both ns since the Unix epoch; RecvTime − SendTime is the one-way
	// latency when the two hosts' clocks agree.
	SendTime, RecvTime int64
	// Worker is the worker calling the handler, in [0, Workers): every
	// message of a symbol comes from the same worker, in sequence order.
	Worker int
	// Snapshot marks a record of a recovery server's snapshot, taken when
	// the subscriber joined a running feed (docs/recovery.md): a symbol's
	// whole book (bus.KindBookState, decoded by ParseBookState) or the last
	// message of an application kind, standing for the state as of Seq.
	// It never came on a line; SendTime is when the snapshot arrived.
	// Snapshot records come before the symbol's live messages.
	Snapshot bool
}

// Handler processes the messages the workers take. Handle is called from
// every worker goroutine at once, each with its own symbols: it must be
// safe for concurrent use across symbols, and it may keep per-symbol state
// without locks only if that state is sharded by Message.Worker. A handler
// that blocks holds up its worker's symbols only: the receive loop never
// waits for it, and the worker's queue overflows (Config.Overflow) instead.
type Handler interface {
	Handle(m *Message)
}

// RunHandler is a Handler that can take its messages in runs: a worker
// calls BeginRun, then HandleInRun for each of up to 32 messages it took
// together, then EndRun, all on the worker's goroutine. A handler that
// locks per message can lock once a run instead; Books does. Handle is
// still called for messages outside a run (with Config.Work, or a test
// hook), so it must stand alone.
type RunHandler interface {
	Handler
	BeginRun(worker int)
	HandleInRun(m *Message)
	EndRun(worker int)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(m *Message)

// Handle calls f(m).
func (f HandlerFunc) Handle(m *Message) { f(m) }

// discard is the Handler of a Fanout configured without one.
type discard struct{}

func (discard) Handle(*Message) {}
