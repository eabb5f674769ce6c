package replay

import (
	"io"
	"math"
	"slices"

	"github.com/google/gopacket/pcapgo"

	"github.com/feedbus/feedbus/bus"
)

// Record is one recorded frame.
type Record struct {
	Line     int    // line index: 0 is line A
	RecvTime int64  // when the subscriber received it, ns since the Unix epoch
	Frame    []byte // the frame as received; see Reader.Next for how long it is valid
}

// maxUnixSec is the last second whose nanoseconds fit an int64 (2262).
const maxUnixSec = math.MaxInt64/1_000_000_000 - 1

// Reader reads a capture. It reads pcapng files that capture.Writer writes
// and, within the limits in docs/capture.md, files that other pcapng tools
// made from them (editcap, tshark -w, mergecap): one section,
// LINKTYPE_USER0 interfaces, enhanced packet blocks. It decodes blocks
// with gopacket's pcapgo, after a guard has checked each of them.
//
// Whatever the file holds, a Reader keeps at most a few MiB: blocks and
// frames are bounded (a frame by bus.MaxFrameLen), and so are the
// interfaces (capture.MaxLines). A Reader does not close the io.Reader it
// reads.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	g   *guard
	ng  *pcapgo.NgReader
	err error
}

// NewReader reads the section header and the interface descriptions.
// Every error for a malformed or foreign file matches ErrFormat.
func NewReader(r io.Reader) (*Reader, error) {
	g := newGuard(r)
	if err := g.preload(); err != nil {
		return nil, err
	}
	if len(g.lines) == 0 {
		return nil, formatErr(-1, "no interface descriptions: a capture has one per line")
	}
	rd := &Reader{g: g}
	ng, err := pcapgo.NewNgReader(g, pcapgo.NgReaderOptions{ErrorOnMismatchingLinkType: true})
	if err != nil {
		return nil, rd.wrap(err)
	}
	rd.ng = ng
	return rd, nil
}

// Lines returns the lines' endpoints, by line index, as the interface
// descriptions give them. A capture.Writer describes every line before
// the first frame; in a file that describes one later, Lines grows when
// Next has passed it.
func (r *Reader) Lines() []string { return slices.Clone(r.g.lines) }

// Next reads the next frame into rec. rec.Frame refers to the Reader's
// buffer, which the next call overwrites: copy it to keep it. Next returns
// io.EOF at the end of the capture; after any error it returns the same
// error again.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	// The guard has checked the block, so the buffer pcapgo fills here
	// is at most bus.MaxFrameLen.
	data, ci, err := r.ng.ZeroCopyReadPacketData()
	if err != nil {
		r.err = r.wrap(err)
		return r.err
	}
	switch {
	case ci.CaptureLength < ci.Length:
		// A frame cut short (editcap -s, a snap length) cannot be
		// decoded, and replaying around it would hide what was lost.
		r.err = formatErr(-1, "frame on line %s cut to %d of its %d bytes", bus.LineName(ci.InterfaceIndex), ci.CaptureLength, ci.Length)
		return r.err
	case ci.CaptureLength > ci.Length:
		r.err = formatErr(-1, "frame on line %s: captured length %d over its original length %d", bus.LineName(ci.InterfaceIndex), ci.CaptureLength, ci.Length)
		return r.err
	}
	if s := ci.Timestamp.Unix(); s < 0 || s > maxUnixSec {
		r.err = formatErr(-1, "receive time %v out of range", ci.Timestamp)
		return r.err
	}
	rec.Line = ci.InterfaceIndex
	rec.RecvTime = ci.Timestamp.UnixNano()
	rec.Frame = data
	return nil
}

// wrap turns an error from pcapgo into the Reader's own.
func (r *Reader) wrap(err error) error {
	if err == io.EOF || err == r.g.err {
		return err // the end, or the guard's error with its offset
	}
	return &formatError{off: -1, msg: "pcapng", err: err}
}
