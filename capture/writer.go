package capture

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/feedbus/feedbus/bus"
)

const (
	// LinkType is the pcapng link type of every interface in a capture:
	// LINKTYPE_USER0, which tcpdump.org reserves for private use, so no
	// tool mistakes a frame for a network packet.
	LinkType = 147

	// MaxLines bounds the lines (pcapng interfaces) of a capture, so a
	// hostile file cannot make a Reader keep an unbounded table.
	MaxLines = 64

	// maxEndpointLen bounds an endpoint string: pcapng options are at most
	// 65535 bytes, and pcapgo silently truncates the length of a longer one.
	maxEndpointLen = 4096

	// application and comment go into the section header, where Wireshark's
	// "Capture File Properties" and capinfos show them.
	application = "feedbus"
	comment     = "feedbus capture: one interface per line (A, B, ...; description = endpoint); " +
		"each packet is one frame exactly as received (LINKTYPE_USER0), see docs/wire.md and docs/capture.md"
)

// Writer writes a capture: a pcapng section with one interface per line
// and one enhanced packet block per frame. Its output is buffered: call
// Flush before closing the underlying file. A Writer never closes w.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	ng    *pcapgo.NgWriter
	lines int
	ci    gopacket.CaptureInfo
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
	// No OS or hardware in the section header: the same frames give the
	// same bytes on every machine, which keeps the golden test honest.
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: application, Comment: comment}}
	ng, err := pcapgo.NewNgWriterInterface(w, iface(0, lines[0]), opts)
	if err != nil {
		return nil, fmt.Errorf("capture: writing header: %w", err)
	}
	for i := 1; i < len(lines); i++ {
		if _, err := ng.AddInterface(iface(i, lines[i])); err != nil {
			return nil, fmt.Errorf("capture: writing line %s: %w", bus.LineName(i), err)
		}
	}
	return &Writer{ng: ng, lines: len(lines)}, nil
}

// iface describes line i. pcapgo always writes if_tsresol 9 (nanoseconds),
// which is what a receive time needs.
func iface(i int, endpoint string) pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                bus.LineName(i),
		Description:         endpoint,
		LinkType:            layers.LinkType(LinkType),
		TimestampResolution: 9,
		SnapLength:          0, // no limit: frames are recorded whole
	}
}

// Write appends one frame received on line at recvTime (ns since the Unix
// epoch). The frame is written as is, compressed or not; Write does not
// keep it.
func (w *Writer) Write(line int, recvTime int64, frame []byte) error {
	switch {
	case line < 0 || line >= w.lines:
		return fmt.Errorf("capture: line %d of %d: out of range", line, w.lines)
	case recvTime < 0:
		// pcapng timestamps are unsigned.
		return fmt.Errorf("capture: receive time %d is before 1970", recvTime)
	case len(frame) > bus.MaxFrameLen:
		// A Reader would refuse the file; refuse the frame instead.
		return fmt.Errorf("capture: frame of %d bytes on line %s, limit %d", len(frame), bus.LineName(line), bus.MaxFrameLen)
	}
	w.ci.Timestamp = time.Unix(0, recvTime)
	w.ci.CaptureLength = len(frame)
	w.ci.Length = len(frame)
	w.ci.InterfaceIndex = line
	if err := w.ng.WritePacket(w.ci, frame); err != nil {
		return fmt.Errorf("capture: writing frame: %w", err)
	}
	return nil
}

// writeStats writes an interface statistics block for line: received
// frames were handed to the recorder, dropped of them are not in the file.
func (w *Writer) writeStats(line int, received, dropped uint64, at time.Time) error {
	st := pcapgo.NgInterfaceStatistics{LastUpdate: at, PacketsReceived: received, PacketsDropped: dropped}
	if err := w.ng.WriteInterfaceStats(line, st); err != nil {
		return fmt.Errorf("capture: writing line %s statistics: %w", bus.LineName(line), err)
	}
	return nil
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.ng.Flush(); err != nil {
		return fmt.Errorf("capture: flush: %w", err)
	}
	return nil
}
