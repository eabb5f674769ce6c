// Package replay publishes a capture again (package capture,
// docs/capture.md): the messages a subscriber received, each once, at the
// recorded pace or faster.
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
