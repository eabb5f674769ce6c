package feedtext

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/feedbus/feedbus/bus"
)

// AppendLine appends m to dst as one line of the text format, newline
// included, and returns the extended buffer. A quote is written as a q
// record and a trade as a t record, with its side omitted when unknown.
// Any other kind is written as a k record when its body is printable UTF-8
// text and as an x record otherwise, so the line never holds a control
// character or a line break of the body's.
//
// Prices are written as fanout.FormatPrice writes them, with two to eight
// decimals. Fields are quoted only when CSV needs it.
//
// AppendLine does not validate m. A message that Reader.Next would not
// return (a symbol that is empty, too long or holds a space, a kind from 3
// to 127, a body over MaxBodyLen, a side that is not a bus.Side constant)
// is still written, in a form that Next reports as a bad line, rather than
// dropped without a trace.
func AppendLine(dst []byte, m *bus.Message) []byte {
	switch m.Kind {
	case bus.KindQuote:
		dst = append(dst, "q,"...)
		dst = appendField(dst, m.Symbol)
		dst = append(dst, ',')
		dst = appendPrice(dst, m.BidPrice)
		dst = append(dst, ',')
		dst = appendPrice(dst, m.AskPrice)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, uint64(m.BidSize), 10)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, uint64(m.AskSize), 10)
	case bus.KindTrade:
		dst = append(dst, "t,"...)
		dst = appendField(dst, m.Symbol)
		dst = append(dst, ',')
		dst = appendPrice(dst, m.Price)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, uint64(m.Size), 10)
		switch m.Side {
		case bus.SideUnknown:
		case bus.SideBuy:
			dst = append(dst, ",b"...)
		case bus.SideSell:
			dst = append(dst, ",s"...)
		default:
			dst = append(dst, ',')
			dst = strconv.AppendUint(dst, uint64(m.Side), 10)
		}
	default:
		text := printable(m.Body)
		if text {
			dst = append(dst, "k,"...)
		} else {
			dst = append(dst, "x,"...)
		}
		dst = strconv.AppendUint(dst, uint64(m.Kind), 10)
		dst = append(dst, ',')
		dst = appendField(dst, m.Symbol)
		dst = append(dst, ',')
		if text {
			dst = appendField(dst, m.Body)
		} else {
			dst = hex.AppendEncode(dst, m.Body)
		}
	}
	return append(dst, '\n')
}

// appendField appends b as a CSV field, quoted if it must be for a reader
// with TrimLeadingSpace to read it back as b. The rules are csv.Writer's.
func appendField(dst, b []byte) []byte {
	if !needsQuotes(b) {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			break
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, '"')
		b = b[i+1:]
	}
	dst = append(dst, b...)
	return append(dst, '"')
}

func needsQuotes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if bytes.ContainsAny(b, ",\"\r\n") {
		return true
	}
	// Leading white space would be trimmed.
	c, _ := utf8.DecodeRune(b)
	return unicode.IsSpace(c)
}

// printable reports whether b can be a k body: UTF-8 text of printable
// characters and ASCII spaces, so nothing in it can end or bend the line.
func printable(b []byte) bool {
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		c, n := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && n == 1 || !unicode.IsPrint(c) {
			return false
		}
		i += n
	}
	return true
}
