package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bus"
)

const (
	// LinkType is the pcapng link type of every interface in a capture:
	// LINKTYPE_USER0, which tcpdump.org reserves for private use, so no
	// tool mistakes a frame for a network packet.
	LinkType = 147

	// MaxLines bounds the lines (pcapng interfaces) of a capture, so a
	// hostile file cannot make a reader keep an unbounded table.
	MaxLines = 64

	// maxEndpointLen bounds an endpoint string, which becomes an option:
	// pcapng options are at most 65535 bytes.
	maxEndpointLen = 4096

	// application and comment go into the section header, where Wireshark's
	// "Capture File Properties" and capinfos show them.
	application = "feedbus"
	comment     = "feedbus capture: one interface per line (A, B, ...; description = endpoint); " +
		"each packet is one frame exactly as received (LINKTYPE_USER0), see docs/wire.md and docs/capture.md"
)

// The pcapng blocks and options a Writer writes (draft-ietf-opsawg-pcapng),
// always little-endian.
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 1          // interface description
	blockISB = 5          // interface statistics
	blockEPB = 6          // enhanced packet

	byteOrderMagic = 0x1A2B3C4D

	optComment  = 1 // opt_comment
	optUserappl = 4 // shb_userappl
	optName     = 2 // if_name
	optDescr    = 3 // if_description
	optTsresol  = 9 // if_tsresol
	optIfrecv   = 4 // isb_ifrecv
	optIfdrop   = 5 // isb_ifdrop

	// epbHead is the length of an enhanced packet block before its data:
	// type, length, interface, timestamp (2 words), captured and original
	// lengths.
	epbHead = 28
)

var le = binary.LittleEndian

// Writer writes a capture: a pcapng section with one interface per line
// and one enhanced packet block per frame. Its output is buffered: call
// Flush before closing the underlying file. A Writer never closes w.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w     *bufio.Writer
	lines int
	head  [epbHead]byte // an enhanced packet block's fields, reused
	tail  [8]byte       // up to 3 bytes of padding, then the block length
}

// NewWriter writes the section header and one interface per line to w.
// lines are the lines' endpoints, in line order; each becomes the
// description of interface i, named bus.LineName(i).
func NewWriter(w io.Writer, lines []string) (*Writer, error) {
	if len(lines) == 0 {
		return nil, errors.New("capture: no lines to record")
	}
	if len(lines) > MaxLines {
		return nil, fmt.Errorf("capture: %d lines, limit %d", len(lines), MaxLines)
	}
	for i, e := range lines {
		if len(e) > maxEndpointLen {
			return nil, fmt.Errorf("capture: line %s: endpoint of %d bytes, limit %d", bus.LineName(i), len(e), maxEndpointLen)
		}
	}
	// A 4 KiB buffer, or w itself if it is a larger bufio.Writer.
	cw := &Writer{w: bufio.NewWriter(w), lines: len(lines)}

	// No OS or hardware in the section header: the same frames give the
	// same bytes on every machine, which keeps the golden test honest.
	b := le.AppendUint32(nil, byteOrderMagic)
	b = le.AppendUint16(b, 1) // version 1.0
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, 0xFFFFFFFFFFFFFFFF) // section length: unspecified
	b = appendOption(b, optUserappl, application)
	b = appendOption(b, optComment, comment)
	b = appendEnd(b)
	if err := cw.writeBlock(blockSHB, b); err != nil {
		return nil, fmt.Errorf("capture: writing header: %w", err)
	}
	for i, e := range lines {
		b = le.AppendUint16(b[:0], LinkType)
		b = le.AppendUint16(b, 0) // reserved
		b = le.AppendUint32(b, 0) // snap length: none, frames are recorded whole
		b = appendOption(b, optName, bus.LineName(i))
		if e != "" {
			b = appendOption(b, optDescr, e)
		}
		b = appendOption(b, optTsresol, "\x09") // nanoseconds
		b = appendEnd(b)
		if err := cw.writeBlock(blockIDB, b); err != nil {
			return nil, fmt.Errorf("capture: writing line %s: %w", bus.LineName(i), err)
		}
	}
	le.PutUint32(cw.head[0:], blockEPB)
	return cw, nil
}

// Write appends one frame received on line at recvTime (ns since the Unix
// epoch). The frame is written as is, compressed or not; Write does not
// keep it, and allocates nothing.
func (w *Writer) Write(line int, recvTime int64, frame []byte) error {
	switch {
	case line < 0 || line >= w.lines:
		return fmt.Errorf("capture: line %d of %d: out of range", line, w.lines)
	case recvTime < 0:
		// pcapng timestamps are unsigned.
		return fmt.Errorf("capture: receive time %d is before 1970", recvTime)
	case len(frame) > bus.MaxFrameLen:
		// A reader would refuse the file; refuse the frame instead.
		return fmt.Errorf("capture: frame of %d bytes on line %s, limit %d", len(frame), bus.LineName(line), bus.MaxFrameLen)
	}
	n := uint32(len(frame))
	pad := -n & 3
	total := epbHead + n + pad + 4
	h := w.head[:]
	le.PutUint32(h[4:], total)
	le.PutUint32(h[8:], uint32(line))
	le.PutUint32(h[12:], uint32(uint64(recvTime)>>32))
	le.PutUint32(h[16:], uint32(recvTime))
	le.PutUint32(h[20:], n) // captured length
	le.PutUint32(h[24:], n) // original length: a frame is never cut
	le.PutUint32(w.tail[4:], total)
	w.w.Write(h)
	w.w.Write(frame)
	if _, err := w.w.Write(w.tail[4-pad:]); err != nil {
		// A bufio.Writer keeps its first error and fails every Write after it.
		return fmt.Errorf("capture: writing frame: %w", err)
	}
	return nil
}

// writeStats writes an interface statistics block for line: received
// frames were handed to the recorder, dropped of them are not in the file.
func (w *Writer) writeStats(line int, received, dropped uint64, at time.Time) error {
	ts := uint64(at.UnixNano())
	b := le.AppendUint32(nil, uint32(line))
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = appendOption(b, optIfdrop, string(le.AppendUint64(nil, dropped)))
	b = appendOption(b, optIfrecv, string(le.AppendUint64(nil, received)))
	b = appendEnd(b)
	if err := w.writeBlock(blockISB, b); err != nil {
		return fmt.Errorf("capture: writing line %s statistics: %w", bus.LineName(line), err)
	}
	return nil
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("capture: flush: %w", err)
	}
	return nil
}

// writeBlock writes a block of type typ around body, whose length is a
// multiple of 4.
func (w *Writer) writeBlock(typ uint32, body []byte) error {
	var h [8]byte
	total := uint32(8 + len(body) + 4)
	le.PutUint32(h[0:], typ)
	le.PutUint32(h[4:], total)
	w.w.Write(h[:])
	w.w.Write(body)
	_, err := w.w.Write(h[4:])
	return err
}

// appendOption appends an option with value v, zero-padded to 4 bytes.
func appendOption(b []byte, code uint16, v string) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, -len(v)&3)...)
}

// appendEnd appends the end of options.
func appendEnd(b []byte) []byte { return le.AppendUint32(b, 0) }
