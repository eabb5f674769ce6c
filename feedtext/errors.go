package feedtext

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors. A bad line is reported as a *LineError whose Err matches exactly
// one of these with errors.Is, so a caller can count or filter bad lines by
// cause. The error's message names the field and quotes the offending value
// (cut to 40 bytes), for example
//
//	line 17: trade price "12.3.4": not a decimal
var (
	// ErrKind: the record type is not q, t, k or x, or an application
	// KIND is not a number from 128 to 255.
	ErrKind = errors.New("feedtext: bad record type or kind")
	// ErrFields: the record has the wrong number of fields for its type.
	ErrFields = errors.New("feedtext: wrong number of fields")
	// ErrPrice: a price is empty, not a decimal, has more than 8 decimal
	// places or is out of the int64 fixed-point range.
	ErrPrice = errors.New("feedtext: bad price")
	// ErrSize: a size is empty, not an unsigned integer or over 4294967295.
	ErrSize = errors.New("feedtext: bad size")
	// ErrSymbol: a symbol is empty, longer than bus.MaxSymbolLen bytes, not
	// UTF-8, or holds a space or a control character.
	ErrSymbol = errors.New("feedtext: bad symbol")
	// ErrSide: a trade side is not b, s, buy, sell or empty.
	ErrSide = errors.New("feedtext: bad side")
	// ErrBody: an application body is longer than MaxBodyLen bytes, or an x
	// record's body is not hex.
	ErrBody = errors.New("feedtext: bad body")
	// ErrQuote: the line is not valid CSV (a bare quote, or a quoted field
	// that does not close on its line). The error also wraps
	// csv.ErrBareQuote or csv.ErrQuote.
	ErrQuote = errors.New("feedtext: bad CSV quoting")
	// ErrLineTooLong: the line is longer than MaxLineLen bytes.
	ErrLineTooLong = errors.New("feedtext: line too long")
	// ErrTruncated: the input ends without a newline after its last line,
	// which is then not trusted: a producer that died mid-write would
	// otherwise publish, say, a trade whose size lost its last digits.
	ErrTruncated = errors.New("feedtext: no newline at end of input")
)

// LineError is a bad line. Reading can go on after it: the next call to
// Reader.Next reads the line that follows.
type LineError struct {
	Line int   // physical line number in the input, from 1
	Err  error // matches one of the package's Err* values
}

func (e *LineError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }

func (e *LineError) Unwrap() error { return e.Err }

// valueError is a bad value. Its message already says what its sentinel
// would, so Error leaves the sentinel's text out, as os.PathError does.
type valueError struct {
	msg string
	err error
}

func (e *valueError) Error() string { return e.msg }

func (e *valueError) Unwrap() error { return e.err }

// errorf returns an error with the formatted message that matches sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...), err: sentinel}
}

// maxQuoted is how much of a bad value an error message quotes: enough to
// recognise it, not a 200 KiB line in a log.
const maxQuoted = 40

// badValue returns the error for value v of field what, as in
// `trade price "12.3.4": not a decimal`.
func badValue[T string | []byte](sentinel error, what string, v T, reason string) error {
	s := string(v[:min(len(v), maxQuoted)])
	more := ""
	if len(v) > maxQuoted {
		more = "..."
	}
	return errorf(sentinel, "%s %q%s: %s", what, s, more, reason)
}
