// Package capture records the frames a subscriber receives, on every line,
// with their receive times, and reads such recordings back for replay.
//
// A capture is a pcapng file (docs/capture.md), so tshark, Wireshark,
// capinfos, editcap and mergecap open it: one interface per line, named
// A, B, ... and described by the line's endpoint, with nanosecond
// timestamps and link type LINKTYPE_USER0 (147); one enhanced packet block
// per frame, whose data is the frame exactly as it came off the socket
// (docs/wire.md), compressed or not; at the end, one statistics block per
// line with the frames received and dropped by the recorder.
//
// # Types
//
// [Writer] writes a capture; it is synchronous and buffered. [Recorder]
// puts a bounded queue and a goroutine in front of a Writer, so that a
// receive loop hands a frame over without waiting and a slow disk costs
// dropped, counted frames instead of a stalled receiver (which would let
// the PGM receive window overflow). [Reader] reads a capture frame by
// frame into a reused buffer; it checks every block before decoding it,
// so a damaged or hostile file gives an error matching [ErrFormat], never
// a panic or an unbounded allocation.
//
// # Concurrency and lifetime
//
// Writer and Reader are not safe for concurrent use, and neither closes
// the file it was given: the caller closes it, after Writer.Flush or
// Recorder.Close. A Recorder owns its Writer from NewRecorder until Close
// returns. Record may be called from any goroutine but not concurrently
// with Close; Stats from any goroutine at any time; Close is idempotent
// and waits for the queue to drain to disk. A frame passed to Record
// belongs to the Recorder from then on and must not be changed. A frame
// returned by Reader.Next is valid until the next call.
package capture
