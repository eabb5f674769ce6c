// Package replay reads a capture (package capture, docs/capture.md) and
// publishes it again: the messages a subscriber received, each once, at
// the recorded pace or faster.
//
// # Reading
//
// [Reader] reads a capture frame by frame into a reused buffer. It
// decodes the file with gopacket's pcapgo, behind a guard that checks
// every block first, so a damaged or hostile file gives an error matching
// [ErrFormat], never a panic or an unbounded allocation. (Package capture,
// which subscribers link to write captures, stays free of gopacket: see
// its documentation.) A frame returned by Reader.Next is valid until the
// next call. A Reader is not safe for concurrent use and does not close
// the io.Reader it reads.
//
// # Replaying
//
// A capture holds every line's copy of every frame as it came off the
// wire. [Run] decodes each frame (undoing compression), skips heartbeats
// and malformed frames, keeps the first copy of each sequence number
// across lines with a bus.Tracker, and hands the messages to a [Sink],
// such as a feedbus.Publisher, flushing after each recorded frame. The
// publisher numbers, stamps and frames them anew: a replay is a new
// session, not a copy of the old one's bytes.
//
// Pacing is on the monotonic clock from the start of Run: frame k is sent
// (recvTime_k - recvTime_0)/Speed after the start, so a replay that falls
// behind catches up instead of drifting. [ParseSpeed] reads the
// command-line form ("1", "2.5", "max").
//
// # Concurrency and lifetime
//
// Run uses its Reader, Decoder and Sink from the calling goroutine only,
// and none of them may be used elsewhere while it runs; it closes none of
// them. It returns when the capture ends, on the first error, or as soon
// as its context is done, even in the middle of a wait. Run allocates a
// fixed amount per call and nothing per frame.
package replay
