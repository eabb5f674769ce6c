// Package feedtext reads market messages written as text, one per line, so
// that any program that can print lines can feed the bus: feedpub --input
// FILE or --input - (standard input) uses it.
//
// # Format
//
// Each line is one CSV record (RFC 4180, comma separated) holding one
// message. The first field says what the message is:
//
//	q,SYMBOL,BID,ASK,BID_SIZE,ASK_SIZE    a quote
//	t,SYMBOL,PRICE,SIZE,SIDE              a trade
//	t,SYMBOL,PRICE,SIZE                   a trade whose side is unknown
//	k,KIND,SYMBOL,BODY                    an application message, BODY as text
//	x,KIND,SYMBOL,HEX                     an application message, BODY in hex
//
// For example:
//
//	# symbol, bid, ask, bid size, ask size
//	q,AAPL,189.50,189.52,300,400
//	t,AAPL,189.51,100,b
//	t,BTC-USD,64000.125,2
//	k,200,AAPL,"halted, news pending"
//	x,201,AAPL,00ff10
//
// The fields:
//
//   - The record type (q, t, k or x) may also be written in upper case.
//   - SYMBOL is 1 to 32 bytes of UTF-8 with no space and no control
//     character.
//   - BID, ASK and PRICE are decimals, converted exactly to the bus's fixed
//     point (units of 1e-8): an optional minus sign, then digits with at
//     most one decimal point and at most 8 digits after it. "101.25",
//     "-0.5", "7", "7." and ".5" are prices; "+1", "1e3", "1,000" and
//     "0.123456789" are not. The range is -92233720368.54775808 to
//     92233720368.54775807.
//   - BID_SIZE, ASK_SIZE and SIZE are whole numbers from 0 to 4294967295,
//     digits only.
//   - SIDE is b or buy for a buy, s or sell for a sell, in either case, or
//     empty for unknown; the field may also be left out.
//   - KIND is a number from 128 to 255, an application kind
//     (bus.KindAppFirst and up).
//   - BODY is the payload exactly as written, up to MaxBodyLen (65499)
//     bytes. If it holds a comma or a quote or starts with a space, quote
//     it as CSV does: "a ""b"", c" is the body a "b", c. For a binary payload, use an
//     x record: HEX is the body in hexadecimal, either case.
//
// White space around a field is ignored, except at the end of BODY. Blank
// lines and lines whose first character other than white space is # are
// skipped. Lines end in \n or \r\n, and every line must end so, the last
// one included: a last line without a newline may have been cut short by a
// writer that died, so it is reported as an error, not published. A quoted
// field cannot run onto the next line (write such a body as x), and a line
// is at most MaxLineLen (262144) bytes. A UTF-8 byte order mark at the start
// of the input is skipped.
//
// # Errors
//
// A line that breaks these rules is reported as a *LineError, with its line
// number and an error that matches one of ErrKind, ErrFields, ErrPrice,
// ErrSize, ErrSymbol, ErrSide, ErrBody, ErrQuote, ErrLineTooLong or
// ErrTruncated, and reading goes on with the next line: one bad line never
// stops the input, nor hides the lines after it.
//
// # Writing
//
// AppendLine writes a message in this format, so tools and tests can
// generate input: any message Next returns, AppendLine writes as a line
// that Next reads back as the same message.
//
// # Concurrency and memory
//
// A Reader is not safe for concurrent use; run one per input. The Symbol
// and Body of the message Next returns alias the Reader's buffers until the
// next call, so copy them before handing the message to another goroutine
// that outlives that call. ParsePrice and AppendLine are safe for
// concurrent use.
//
// Next returns a line as soon as its newline has arrived; it does not wait
// for the Reader's buffer to fill, so a producer writing to a pipe sees each
// line published without delay. Next blocks in the underlying reader's Read
// while no whole line is available; to stop it, make that Read return, for
// example by closing the writing end of the pipe.
//
// Once its buffers have grown, a Reader allocates nothing for a line without
// a double quote. A line with one is parsed by encoding/csv, which allocates
// a string per record.
package feedtext
