package replay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/capture"
)

// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0A0D0D0A // section header; the same in both byte orders
	blockIDB = 1          // interface description
	blockPB  = 2          // packet, obsolete
	blockSPB = 3          // simple packet
	blockISB = 5          // interface statistics
	blockEPB = 6          // enhanced packet

	byteOrderMagic = 0x1A2B3C4D

	optEnd      = 0
	optTsresol  = 9  // if_tsresol
	optTsoffset = 14 // if_tsoffset
	optDescr    = 3  // if_description
)

const (
	// maxMetaBlock bounds a section header, an interface description or
	// statistics: a few options of a few hundred bytes each.
	maxMetaBlock = 64 << 10
	// maxBlock bounds any other block: an enhanced packet block holding a
	// frame of bus.MaxFrameLen, with room for the comments that Wireshark
	// adds as options.
	maxBlock = bus.MaxFrameLen + 64<<10
	// maxPreload bounds what NewReader reads ahead looking for interfaces.
	maxPreload = 1 << 20
)

// guard sits between the file and pcapgo's reader and lets through only
// whole blocks it has checked. pcapgo v1.1.19 trusts the lengths in a
// file: a block or option length that overruns its block makes it read the
// next block as part of this one, a captured or snap length sizes an
// allocation unchecked (up to 4 GiB), an if_tsresol of 2^-64 or 10^-20
// divides by zero, and a link type is cut to 8 bits. A capture is often a
// file from elsewhere, so the guard checks the framing and the fields that
// pcapgo would trip on, and leaves the decoding to pcapgo.
type guard struct {
	r     *bufio.Reader
	off   int64            // file offset of the next block
	buf   []byte           // checked blocks that pcapgo has not read yet
	pos   int              // pcapgo has read buf[:pos]
	order binary.ByteOrder // of the section; nil before its header
	lines []string         // interface descriptions, by interface id
	err   error            // the first error, or io.EOF; returned once buf is read
}

func newGuard(r io.Reader) *guard { return &guard{r: bufio.NewReader(r)} }

// Read serves the checked blocks, one at a time.
func (g *guard) Read(p []byte) (int, error) {
	if g.pos == len(g.buf) {
		if g.err != nil {
			return 0, g.err
		}
		g.buf, g.pos = g.buf[:0], 0
		if _, err := g.block(); err != nil {
			g.err = err
			return 0, err
		}
	}
	n := copy(p, g.buf[g.pos:])
	g.pos += n
	return n, nil
}

// preload reads up to the first packet block, so that Lines knows every
// interface before the first frame (a Writer writes them all first).
func (g *guard) preload() error {
	for len(g.buf) < maxPreload {
		typ, err := g.block()
		if err == io.EOF {
			g.err = err // a capture with no frames
			return nil
		}
		if err != nil {
			g.err = err
			return err
		}
		if typ == blockEPB {
			return nil
		}
	}
	return nil
}

// block reads one block, checks it and appends it to buf. It returns
// io.EOF at the end of a section that has begun.
func (g *guard) block() (typ uint32, err error) {
	start, off := len(g.buf), g.off
	defer func() {
		if err != nil {
			g.buf = g.buf[:start] // never serve part of a bad block
		}
	}()
	if err := g.read(8); err != nil {
		if err == io.EOF {
			if g.order == nil {
				return 0, formatErr(off, "empty file, want a pcapng section header")
			}
			return 0, io.EOF
		}
		if g.order == nil && err == io.ErrUnexpectedEOF {
			return 0, formatErr(off, "not a pcapng file: shorter than a block header")
		}
		return 0, g.readErr(off, err)
	}
	order := g.order
	if binary.LittleEndian.Uint32(g.buf[start:]) == blockSHB {
		if order != nil {
			return 0, formatErr(off, "second section header: concatenated captures are not supported (mergecap joins them into one section)")
		}
		if err := g.read(4); err != nil {
			return 0, g.readErr(off, err)
		}
		switch magic := g.buf[start+8 : start+12]; {
		case binary.LittleEndian.Uint32(magic) == byteOrderMagic:
			order = binary.LittleEndian
		case binary.BigEndian.Uint32(magic) == byteOrderMagic:
			order = binary.BigEndian
		default:
			return 0, formatErr(off, "section header with byte-order magic % x", magic)
		}
	} else if order == nil {
		return 0, notPcapng(g.buf[start : start+8])
	}
	typ = order.Uint32(g.buf[start:])
	total := order.Uint32(g.buf[start+4:])
	min, max := blockLimits(typ)
	if total < min || total > max || total%4 != 0 {
		return 0, formatErr(off, "%s of %d bytes, want a multiple of 4 in [%d, %d]", blockName(typ), total, min, max)
	}
	if err := g.read(int(total) - (len(g.buf) - start)); err != nil {
		return 0, g.readErr(off, err)
	}
	b := g.buf[start:]
	if trailer := order.Uint32(b[total-4:]); trailer != total {
		return 0, formatErr(off, "%s of %d bytes ends with length %d", blockName(typ), total, trailer)
	}
	body := b[8 : total-4]
	switch typ {
	case blockSHB:
		if major, minor := order.Uint16(body[4:]), order.Uint16(body[6:]); major != 1 || minor != 0 {
			return 0, formatErr(off, "pcapng version %d.%d, want 1.0", major, minor)
		}
		if err := checkOptions(order, body[16:], nil); err != nil {
			return 0, formatErr(off, "section header: %v", err)
		}
		g.order = order
	case blockIDB:
		if err := g.checkInterface(order, body); err != nil {
			return 0, formatErr(off, "interface %d: %v", len(g.lines), err)
		}
	case blockEPB:
		id, caplen := order.Uint32(body), order.Uint32(body[12:])
		switch {
		case id >= uint32(len(g.lines)):
			return 0, formatErr(off, "frame on interface %d of %d", id, len(g.lines))
		case caplen > bus.MaxFrameLen:
			return 0, formatErr(off, "frame of %d bytes, limit %d", caplen, bus.MaxFrameLen)
		case 20+int(caplen+3)&^3 > len(body):
			return 0, formatErr(off, "frame of %d bytes in a block of %d", caplen, total)
		}
		// pcapgo skips the options after the data without reading them.
	case blockISB:
		if id := order.Uint32(body); id >= uint32(len(g.lines)) {
			return 0, formatErr(off, "statistics for interface %d of %d", id, len(g.lines))
		}
		if err := checkOptions(order, body[12:], nil); err != nil {
			return 0, formatErr(off, "interface statistics: %v", err)
		}
	case blockPB, blockSPB:
		// Neither says when (a simple packet block) or is still written by
		// anyone (a packet block); a feedbus capture has neither.
		return 0, formatErr(off, "%s: a feedbus capture has only enhanced packet blocks", blockName(typ))
	}
	g.off += int64(total)
	return typ, nil
}

// checkInterface checks an interface description block's body and notes
// the interface.
func (g *guard) checkInterface(order binary.ByteOrder, body []byte) error {
	if len(g.lines) == capture.MaxLines {
		return fmt.Errorf("more than %d interfaces", capture.MaxLines)
	}
	if lt := order.Uint16(body); lt != capture.LinkType {
		return fmt.Errorf("link type %d, want %d (LINKTYPE_USER0): not a feedbus capture", lt, capture.LinkType)
	}
	if snap := order.Uint32(body[4:]); snap > bus.MaxFrameLen {
		return fmt.Errorf("snap length %d over the frame limit %d", snap, bus.MaxFrameLen)
	}
	var descr string
	err := checkOptions(order, body[8:], func(code uint16, v []byte) error {
		switch code {
		case optDescr:
			descr = string(v)
		case optTsresol:
			// pcapgo takes 0 for "absent" (microseconds) and divides by
			// 10^e or 2^e computed in 64 bits, which is 0 past 10^19 and
			// 2^63. From 2^-10 on it scales by rounded integer factors, so
			// its times are wrong (by up to 0.46 s, and out of order): such
			// a file is refused rather than misread.
			if len(v) != 1 {
				return fmt.Errorf("if_tsresol of %d bytes", len(v))
			}
			if r := v[0]; r == 0 || (r&0x80 == 0 && r > 19) || (r&0x80 != 0 && r&0x7f >= 10) {
				return fmt.Errorf("timestamp resolution %#02x not supported", r)
			}
		case optTsoffset:
			if len(v) != 8 {
				return fmt.Errorf("if_tsoffset of %d bytes", len(v))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	g.lines = append(g.lines, descr)
	return nil
}

// checkOptions checks that the options in b stay inside it, as pcapgo
// reads them, and calls fn, if not nil, for each.
func checkOptions(order binary.ByteOrder, b []byte, fn func(code uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("option header cut short")
		}
		code, n := order.Uint16(b), int(order.Uint16(b[2:]))
		if code == optEnd {
			if n != 0 {
				return fmt.Errorf("end of options with length %d", n)
			}
			return nil // pcapgo skips whatever follows
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			return fmt.Errorf("option %d of %d bytes overruns its block", code, n)
		}
		if fn != nil {
			if err := fn(code, b[4:4+n]); err != nil {
				return err
			}
		}
		b = b[4+padded:]
	}
	return nil
}

// read appends the next n bytes of the file to buf.
func (g *guard) read(n int) error {
	l := len(g.buf)
	g.buf = slices.Grow(g.buf, n)[:l+n]
	_, err := io.ReadFull(g.r, g.buf[l:])
	return err
}

// readErr describes a failure to read the block at off.
func (g *guard) readErr(off int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &formatError{off: off, msg: "block cut short", err: io.ErrUnexpectedEOF}
	}
	return fmt.Errorf("capture: reading offset %d: %w", off, err)
}

// blockLimits returns the smallest and the largest total length a block
// of type typ may have.
func blockLimits(typ uint32) (min, max uint32) {
	switch typ {
	case blockSHB:
		return 28, maxMetaBlock
	case blockIDB:
		return 20, maxMetaBlock
	case blockISB:
		return 24, maxMetaBlock
	case blockEPB:
		return 32, maxBlock
	}
	return 12, maxBlock
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header"
	case blockIDB:
		return "interface description"
	case blockPB:
		return "packet block"
	case blockSPB:
		return "simple packet block"
	case blockISB:
		return "interface statistics"
	case blockEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block type %#x", typ)
}

// notPcapng explains a file that does not start with a section header.
func notPcapng(head []byte) error {
	switch binary.LittleEndian.Uint32(head) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return formatErr(0, "a classic pcap file, want pcapng")
	}
	return formatErr(0, "not a pcapng file: starts with % x", head)
}

// ErrFormat matches, with errors.Is, every error for a file that is not a
// well-formed feedbus capture (rather than one that could not be read).
//
// The Reader's errors begin with "capture: ", as they did when it was in
// package capture: they are about the file, and Run's errors read
// "replay: after N frames: capture: offset X: ...".
var ErrFormat = errors.New("capture: not a well-formed feedbus capture")

// formatError is an ErrFormat with the file offset where it was found.
type formatError struct {
	off int64 // -1 when unknown
	msg string
	err error // the cause, if any (io.ErrUnexpectedEOF for a cut file)
}

func formatErr(off int64, format string, args ...any) error {
	return &formatError{off: off, msg: fmt.Sprintf(format, args...)}
}

func (e *formatError) Error() string {
	s := "capture: "
	if e.off >= 0 {
		s += fmt.Sprintf("offset %d: ", e.off)
	}
	s += e.msg
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *formatError) Is(target error) bool { return target == ErrFormat }
func (e *formatError) Unwrap() error        { return e.err }
