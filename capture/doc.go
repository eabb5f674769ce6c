// Package capture records the frames a subscriber receives, on every line,
// with their receive times. Package replay reads such recordings back.
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
// the PGM receive window overflow).
//
// # Dependencies
//
// The Writer encodes pcapng itself, with encoding/binary: the few blocks
// it writes take about a hundred lines. Package capture must not depend on
// gopacket, whose layers package (imported by pcapgo) fills about 5 MB of
// pointer-holding global tables at init that the GC scans every cycle: a
// subscriber linking it had twice the heap goal and 38 MB of peak RSS
// instead of 21, capture or not. Reading, which is for tools rather than
// subscribers, uses gopacket's pcapgo in package replay; a test here fails
// if capture or cmd/feedsub comes to depend on gopacket.
//
// # Concurrency and lifetime
//
// A Writer is not safe for concurrent use, and does not close the file it
// was given: the caller closes it, after Writer.Flush or Recorder.Close. A
// Recorder owns its Writer from NewRecorder until Close returns. Record
// may be called from any goroutine but not concurrently with Close; Stats
// from any goroutine at any time; Close is idempotent and waits for the
// queue to drain to disk. A frame passed to Record belongs to the Recorder
// from then on and must not be changed.
package capture
