package feedtext

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/feedbus/feedbus/bus"
)

const (
	// MaxLineLen bounds a line, its line ending included. It leaves room
	// for the longest line AppendLine writes: a MaxBodyLen body hex-encoded,
	// or quoted with every byte a doubled quote.
	MaxLineLen = 1 << 18

	// MaxBodyLen bounds an application body so that the message fits
	// bus.MaxMessageLen whatever its symbol's length: on the wire the body
	// follows a 4-byte header (length, kind, symbol length) and a symbol
	// of up to bus.MaxSymbolLen bytes. One limit for every symbol is
	// simpler to state than the few bytes more a short symbol would allow.
	MaxBodyLen = bus.MaxMessageLen - 4 - bus.MaxSymbolLen
)

// maxFields is the most fields a record has (a quote). The Reader keeps at
// most this many of a line's fields and only counts the rest, so a line of
// commas cannot grow its field slice without bound.
const maxFields = 6

// bufSize is the Reader's buffer. Lines are short, but a bigger buffer
// means fewer read calls on a busy pipe.
const bufSize = 64 << 10

// Reader reads messages from text, one per line, in the format described
// in the package documentation. A Reader is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	cr  *csv.Reader
	src lineFeed // what cr reads: only the line being parsed

	long   []byte   // a line longer than br's buffer, reassembled
	fields [][]byte // the line's first maxFields fields
	fbuf   []byte   // the fields cr decoded, copied out of its strings
	body   []byte   // a decoded x body

	line    int   // physical lines consumed
	recLine int   // line of the last message or LineError returned
	err     error // once set, what every later Next returns
}

// NewReader returns a Reader that reads from r. It buffers its reads, so
// it may read more of r than the lines it has returned.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{br: bufio.NewReaderSize(r, bufSize)}
	rd.cr = csv.NewReader(&rd.src)
	rd.cr.ReuseRecord = true
	rd.cr.FieldsPerRecord = -1 // the field count depends on the record type
	rd.cr.TrimLeadingSpace = true
	// No cr.Comment: comments never reach cr (see Next).
	return rd
}

// Line returns the line number, from 1, of the line behind the last
// message or *LineError that Next returned; 0 before the first.
func (r *Reader) Line() int { return r.recLine }

// Next reads the next message into m, overwriting all of its fields.
// m.Symbol and m.Body alias the Reader's buffers and stay valid only until
// the next call to Next: copy them to keep them. m.Body is nil for quotes
// and trades, and m.Len is 0.
//
// A bad line returns a *LineError and leaves m unspecified; the next call
// goes on with the following line. At the end of the input Next returns
// io.EOF, and after an error from the underlying reader it returns that
// error wrapped; either is returned again by every later call.
func (r *Reader) Next(m *bus.Message) error {
	for r.err == nil {
		raw, tooLong, err := r.readLine()
		if len(raw) == 0 && !tooLong {
			r.setErr(err)
			break
		}
		r.line++
		if err != nil && err != io.EOF {
			// A line cut short by a failed read is dropped rather than
			// parsed: "101.25" cut to "101.2" still parses.
			r.setErr(err)
			break
		}
		if r.line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF")) // written by some Windows editors
		}
		if tooLong {
			if err == io.EOF {
				r.err = io.EOF
			}
			return r.lineError(errorf(ErrLineTooLong, "longer than %d bytes", MaxLineLen))
		}
		text := trimEOL(raw)
		if first := bytes.TrimLeftFunc(text, unicode.IsSpace); len(first) == 0 || first[0] == '#' {
			// Blank lines and comments are skipped here, before csv sees
			// them, so that an indented comment is a comment too and a
			// comment may hold an unbalanced quote.
			continue
		}
		if err == io.EOF {
			r.err = io.EOF
			return r.lineError(errorf(ErrTruncated, "no newline at end of input: the line may be cut short"))
		}
		if err := r.parse(m, raw, text); err != nil {
			return r.lineError(err)
		}
		r.recLine = r.line
		return nil
	}
	return r.err
}

func (r *Reader) lineError(err error) error {
	r.recLine = r.line
	return &LineError{Line: r.line, Err: err}
}

func (r *Reader) setErr(err error) {
	if err == io.EOF {
		r.err = io.EOF
		return
	}
	r.err = fmt.Errorf("feedtext: reading after line %d: %w", r.line, err)
}

// readLine returns the next physical line with its line ending, valid until
// the next call. A line longer than MaxLineLen is read to its end but not
// returned; tooLong reports it. err is io.EOF for a last line without a
// newline (or none at all), and whatever the underlying reader returned
// if it failed.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	line, err = r.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, false, err
	}
	r.long = append(r.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = r.br.ReadSlice('\n')
		if tooLong = tooLong || len(r.long)+len(line) > MaxLineLen; !tooLong {
			r.long = append(r.long, line...)
		}
	}
	if tooLong {
		return nil, true, err
	}
	return r.long, false, err
}

// trimEOL strips the line ending, "\n" or "\r\n", as encoding/csv does.
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// split sets r.fields to the first maxFields fields of the line and returns
// how many fields it has. raw is the line with its line ending, text the
// line without.
//
// A line without a double quote has no CSV quoting to undo: its fields are
// exactly the text between commas, less leading white space, which is what
// encoding/csv returns for it (FuzzSplit checks this). Splitting such lines
// here is what keeps Next from allocating: csv.Reader allocates a string per
// record even with ReuseRecord. Any line with a quote goes to csv.Reader.
func (r *Reader) split(raw, text []byte) (int, error) {
	r.fields = r.fields[:0]
	if bytes.IndexByte(text, '"') < 0 {
		return r.splitPlain(text), nil
	}
	return r.splitCSV(raw)
}

func (r *Reader) splitPlain(text []byte) int {
	for n := 1; ; n++ {
		i := bytes.IndexByte(text, ',')
		f := text
		if i >= 0 {
			f = text[:i]
		}
		if len(r.fields) < maxFields {
			r.fields = append(r.fields, bytes.TrimLeftFunc(f, unicode.IsSpace))
		}
		if i < 0 {
			return n
		}
		text = text[i+1:]
	}
}

func (r *Reader) splitCSV(raw []byte) (int, error) {
	// cr reads raw and then io.EOF, never the next line: a quoted field
	// left open is an error on its own line, where on the whole stream it
	// would swallow every line up to the next stray quote.
	r.src.b = raw
	rec, err := r.cr.Read()
	r.src.b = nil
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// pe's line number counts cr's reads, not the input's lines;
			// the caller adds the right one.
			return 0, &valueError{
				msg: fmt.Sprintf("column %d: %v", pe.Column, pe.Err),
				err: fmt.Errorf("%w: %w", ErrQuote, pe.Err),
			}
		}
		// cr skips only empty lines and returns only parse errors and
		// lineFeed's io.EOF, and the caller passed a non-blank line.
		return 0, fmt.Errorf("%w: %w", ErrQuote, err)
	}
	kept := rec[:min(len(rec), maxFields)]
	n := 0
	for _, f := range kept {
		n += len(f)
	}
	r.fbuf = slices.Grow(r.fbuf[:0], n) // grown once, so the slices below stay valid
	for _, f := range kept {
		start := len(r.fbuf)
		r.fbuf = append(r.fbuf, f...)
		r.fields = append(r.fields, r.fbuf[start:len(r.fbuf):len(r.fbuf)])
	}
	return len(rec), nil
}

// lineFeed is an io.Reader of one line at a time.
type lineFeed struct{ b []byte }

func (f *lineFeed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// parse fills m from the line.
func (r *Reader) parse(m *bus.Message, raw, text []byte) error {
	n, err := r.split(raw, text)
	if err != nil {
		return err
	}
	f := r.fields
	typ := trimRight(f[0])
	if len(typ) != 1 {
		return badValue(ErrKind, "record type", typ, "want q, t, k or x")
	}
	switch typ[0] | 0x20 { // ASCII lower case: only 'Q' and 'q' give 'q', and so on
	case 'q':
		return r.quote(m, n)
	case 't':
		return r.trade(m, n)
	case 'k', 'x':
		return r.app(m, n, typ[0]|0x20 == 'x')
	}
	return badValue(ErrKind, "record type", typ, "want q, t, k or x")
}

func (r *Reader) quote(m *bus.Message, n int) error {
	if n != 6 {
		return errorf(ErrFields, "quote: %d fields, want 6: q,SYMBOL,BID,ASK,BID_SIZE,ASK_SIZE", n)
	}
	f := r.fields
	sym, err := symbol(f[1])
	if err != nil {
		return err
	}
	bid, err := price(f[2], "quote bid")
	if err != nil {
		return err
	}
	ask, err := price(f[3], "quote ask")
	if err != nil {
		return err
	}
	bidSize, err := size(f[4], "quote bid size")
	if err != nil {
		return err
	}
	askSize, err := size(f[5], "quote ask size")
	if err != nil {
		return err
	}
	*m = bus.Message{
		Kind:     bus.KindQuote,
		Symbol:   sym,
		BidPrice: bid,
		AskPrice: ask,
		BidSize:  bidSize,
		AskSize:  askSize,
	}
	return nil
}

func (r *Reader) trade(m *bus.Message, n int) error {
	if n != 4 && n != 5 {
		return errorf(ErrFields, "trade: %d fields, want 4 or 5: t,SYMBOL,PRICE,SIZE[,SIDE]", n)
	}
	f := r.fields
	sym, err := symbol(f[1])
	if err != nil {
		return err
	}
	p, err := price(f[2], "trade price")
	if err != nil {
		return err
	}
	sz, err := size(f[3], "trade size")
	if err != nil {
		return err
	}
	s := bus.SideUnknown
	if n == 5 {
		if s, err = side(f[4]); err != nil {
			return err
		}
	}
	*m = bus.Message{Kind: bus.KindTrade, Symbol: sym, Price: p, Size: sz, Side: s}
	return nil
}

func (r *Reader) app(m *bus.Message, n int, isHex bool) error {
	if n != 4 {
		what := "k"
		if isHex {
			what = "x"
		}
		// A k body with an unquoted comma is the likely mistake.
		return errorf(ErrFields, "%s record: %d fields, want 4: %s,KIND,SYMBOL,BODY (quote a BODY that holds a comma)", what, n, what)
	}
	f := r.fields
	kf := trimRight(f[1])
	k, reason := parseUint(kf, math.MaxUint8)
	if reason == "" && !bus.Kind(k).IsApp() {
		reason = "not an application kind"
	}
	if reason != "" {
		return badValue(ErrKind, "app kind", kf, reason+": want 128-255")
	}
	sym, err := symbol(f[2])
	if err != nil {
		return err
	}
	// The body is taken as it stands: trailing white space is part of it.
	body := f[3]
	if isHex {
		h := trimRight(body)
		if len(h)/2 > MaxBodyLen {
			return errorf(ErrBody, "app body: %d bytes, limit %d", len(h)/2, MaxBodyLen)
		}
		r.body = slices.Grow(r.body[:0], len(h)/2)[:len(h)/2]
		if _, err := hex.Decode(r.body, h); err != nil {
			return badValue(ErrBody, "app body", h, "not hex: "+err.Error())
		}
		body = r.body
	} else if len(body) > MaxBodyLen {
		return errorf(ErrBody, "app body: %d bytes, limit %d", len(body), MaxBodyLen)
	}
	if body == nil {
		body = []byte{} // Body is nil only for quotes and trades
	}
	*m = bus.Message{Kind: bus.Kind(k), Symbol: sym, Body: body[:len(body):len(body)]}
	return nil
}

// trimRight strips trailing white space, which TrimLeadingSpace leaves.
// Fields other than a k body are trimmed at both ends, so "q, A, 1 ,2" is
// as good as "q,A,1,2".
func trimRight(b []byte) []byte { return bytes.TrimRightFunc(b, unicode.IsSpace) }

func price(b []byte, what string) (int64, error) {
	b = trimRight(b)
	p, reason := parsePrice(b)
	if reason != "" {
		return 0, badValue(ErrPrice, what, b, reason)
	}
	return p, nil
}

func size(b []byte, what string) (uint32, error) {
	b = trimRight(b)
	v, reason := parseUint(b, math.MaxUint32)
	if reason != "" {
		return 0, badValue(ErrSize, what, b, reason)
	}
	return uint32(v), nil
}

func side(b []byte) (bus.Side, error) {
	b = trimRight(b)
	switch {
	case len(b) == 0:
		return bus.SideUnknown, nil
	case bytes.EqualFold(b, []byte("b")), bytes.EqualFold(b, []byte("buy")):
		return bus.SideBuy, nil
	case bytes.EqualFold(b, []byte("s")), bytes.EqualFold(b, []byte("sell")):
		return bus.SideSell, nil
	}
	return 0, badValue(ErrSide, "trade side", b, "want b, s, buy, sell or empty")
}

// symbol checks a symbol and returns it with its capacity cut to its
// length, so that a caller's append cannot write over the next line.
func symbol(b []byte) ([]byte, error) {
	b = trimRight(b)
	if reason := symbolProblem(b); reason != "" {
		return nil, badValue(ErrSymbol, "symbol", b, reason)
	}
	return b[:len(b):len(b)], nil
}

func symbolProblem(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty"
	case len(b) > bus.MaxSymbolLen:
		return fmt.Sprintf("%d bytes, limit %d", len(b), bus.MaxSymbolLen)
	}
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				return "holds a space or a control character"
			}
			i++
			continue
		}
		c, n := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && n == 1 {
			return "not UTF-8"
		}
		// IsGraphic leaves out controls and format characters but counts
		// spaces such as U+00A0 in.
		if !unicode.IsGraphic(c) || unicode.IsSpace(c) {
			return "holds a space or a control character"
		}
		i += n
	}
	return ""
}
