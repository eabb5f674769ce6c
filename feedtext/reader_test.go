package feedtext

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/feedbus/feedbus/bus"
)

// result is one return of Next: a message (copied, since Next's aliases
// its buffers) or a line error.
type result struct {
	line int
	msg  bus.Message
	err  error
}

// readAll calls Next until io.EOF and returns what it returned. Any other
// error than a *LineError fails the test.
func readAll(t testing.TB, in string) []result {
	t.Helper()
	r := NewReader(strings.NewReader(in))
	var out []result
	for {
		var m bus.Message
		err := r.Next(&m)
		if err == io.EOF {
			return out
		}
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("Next: %v, want a *LineError or io.EOF", err)
		}
		if le != nil && le.Line != r.Line() {
			t.Errorf("LineError.Line %d, Line() %d", le.Line, r.Line())
		}
		out = append(out, result{line: r.Line(), msg: clone(m), err: err})
		if len(out) > strings.Count(in, "\n")+1 {
			t.Fatalf("more results than lines: %v", out)
		}
	}
}

func clone(m bus.Message) bus.Message {
	m.Symbol = bytes.Clone(m.Symbol)
	m.Body = bytes.Clone(m.Body)
	return m
}

func sameMessage(a, b *bus.Message) bool {
	return a.Kind == b.Kind && bytes.Equal(a.Symbol, b.Symbol) &&
		a.BidPrice == b.BidPrice && a.AskPrice == b.AskPrice &&
		a.BidSize == b.BidSize && a.AskSize == b.AskSize &&
		a.Price == b.Price && a.Size == b.Size && a.Side == b.Side &&
		bytes.Equal(a.Body, b.Body) && (a.Body == nil) == (b.Body == nil) && a.Len == b.Len
}

func quote(sym string, bid, ask int64, bidSize, askSize uint32) bus.Message {
	return bus.Message{Kind: bus.KindQuote, Symbol: []byte(sym), BidPrice: bid, AskPrice: ask, BidSize: bidSize, AskSize: askSize}
}

func trade(sym string, p int64, size uint32, side bus.Side) bus.Message {
	return bus.Message{Kind: bus.KindTrade, Symbol: []byte(sym), Price: p, Size: size, Side: side}
}

func app(kind bus.Kind, sym, body string) bus.Message {
	return bus.Message{Kind: kind, Symbol: []byte(sym), Body: []byte(body)}
}

const unit = bus.PriceScale

func TestReaderGood(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       bus.Message
	}{
		{"quote", "q,AAPL,189.50,189.52,300,400", quote("AAPL", 18950000000, 18952000000, 300, 400)},
		{"quote upper case", "Q,AAPL,1,2,3,4", quote("AAPL", 1*unit, 2*unit, 3, 4)},
		{"quote spaces", "q, AAPL ,\t189.5 , 189.52, 300 ,400 ", quote("AAPL", 18950000000, 18952000000, 300, 400)},
		{"quote crlf", "q,AAPL,1,2,3,4\r", quote("AAPL", 1*unit, 2*unit, 3, 4)},
		{"quote quoted fields", `q,"AAPL","1.5","2",3,"4"`, quote("AAPL", 15e7, 2*unit, 3, 4)},
		{"quote negative", "q,CL-SPREAD,-0.5,-.25,0,4294967295", quote("CL-SPREAD", -5e7, -25e6, 0, math.MaxUint32)},
		{"quote extremes", "q,X,-92233720368.54775808,92233720368.54775807,0,0", quote("X", math.MinInt64, math.MaxInt64, 0, 0)},
		{"quote 32 byte symbol", "q," + strings.Repeat("S", 32) + ",1,1,1,1", quote(strings.Repeat("S", 32), unit, unit, 1, 1)},
		{"quote utf-8 symbol", "q,日経225,1,1,1,1", quote("日経225", unit, unit, 1, 1)},
		{"quote symbol with comma", `q,"A,B",1,1,1,1`, quote("A,B", unit, unit, 1, 1)},
		{"trade buy", "t,AAPL,189.51,100,b", trade("AAPL", 18951000000, 100, bus.SideBuy)},
		{"trade sell", "t,AAPL,189.51,100,s", trade("AAPL", 18951000000, 100, bus.SideSell)},
		{"trade buy word", "t,AAPL,189.51,100,buy", trade("AAPL", 18951000000, 100, bus.SideBuy)},
		{"trade sell word upper", "t,AAPL,189.51,100,SELL", trade("AAPL", 18951000000, 100, bus.SideSell)},
		{"trade empty side", "t,AAPL,189.51,100,", trade("AAPL", 18951000000, 100, bus.SideUnknown)},
		{"trade blank side", "t,AAPL,189.51,100, ", trade("AAPL", 18951000000, 100, bus.SideUnknown)},
		{"trade no side", "t,BTC-USD,64000.125,2", trade("BTC-USD", 6400012500000, 2, bus.SideUnknown)},
		{"trade 8 decimals", "t,X,0.00000001,1", trade("X", 1, 1, bus.SideUnknown)},
		{"trade trailing point", "t,X,7.,1", trade("X", 7*unit, 1, bus.SideUnknown)},
		{"trade leading zeros", "t,X,007.50,0010", trade("X", 75e7, 10, bus.SideUnknown)},
		{"app text", "k,200,AAPL,halted", app(200, "AAPL", "halted")},
		{"app first kind", "k,128,AAPL,x", app(128, "AAPL", "x")},
		{"app last kind", "k,255,AAPL,x", app(255, "AAPL", "x")},
		{"app quoted body", `k,200,AAPL,"halted, ""news"" pending"`, app(200, "AAPL", `halted, "news" pending`)},
		{"app body leading space quoted", `k,200,AAPL," a"`, app(200, "AAPL", " a")},
		{"app body leading space trimmed", `k,200,AAPL, a`, app(200, "AAPL", "a")},
		{"app body trailing space kept", "k,200,AAPL,a  ", app(200, "AAPL", "a  ")},
		{"app empty body", "k,200,AAPL,", app(200, "AAPL", "")},
		{"app body with hash", "k,200,AAPL,#1", app(200, "AAPL", "#1")},
		{"hex", "x,201,AAPL,00ff10", app(201, "AAPL", "\x00\xff\x10")},
		{"hex upper case", "X,201,AAPL,00FF10 ", app(201, "AAPL", "\x00\xff\x10")},
		{"hex empty", "x,201,AAPL,", app(201, "AAPL", "")},
		{"app max body", "k,200,A," + strings.Repeat("b", MaxBodyLen), app(200, "A", strings.Repeat("b", MaxBodyLen))},
		{"hex max body", "x,200,A," + strings.Repeat("ab", MaxBodyLen), app(200, "A", strings.Repeat("\xab", MaxBodyLen))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Blank and comment lines first, so the line number is not 1
			// by luck.
			got := readAll(t, "# comment\n\n  \t\n  # indented comment with a \" quote\n"+tc.line+"\n")
			if len(got) != 1 {
				t.Fatalf("%d results, want 1: %v", len(got), got)
			}
			if got[0].err != nil {
				t.Fatalf("%v", got[0].err)
			}
			if got[0].line != 5 {
				t.Errorf("line %d, want 5", got[0].line)
			}
			if !sameMessage(&got[0].msg, &tc.want) {
				t.Errorf("got  %+v\nwant %+v", got[0].msg, tc.want)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	long := strings.Repeat("9", MaxLineLen)
	for _, tc := range []struct {
		name, line string
		want       error
		msg        string // LineError.Error()
	}{
		{"unknown type", "z,AAPL,1,2", ErrKind, `line 3: record type "z": want q, t, k or x`},
		{"long type", "quote,AAPL,1,2,3,4", ErrKind, `line 3: record type "quote": want q, t, k or x`},
		{"empty type", ",AAPL,1,2,3,4", ErrKind, `line 3: record type "": want q, t, k or x`},
		{"quote 5 fields", "q,AAPL,1,2,3", ErrFields, `line 3: quote: 5 fields, want 6: q,SYMBOL,BID,ASK,BID_SIZE,ASK_SIZE`},
		{"quote 7 fields", "q,AAPL,1,2,3,4,5", ErrFields, `line 3: quote: 7 fields, want 6: q,SYMBOL,BID,ASK,BID_SIZE,ASK_SIZE`},
		{"quote many fields", "q" + strings.Repeat(",", 1000), ErrFields, `line 3: quote: 1001 fields, want 6: q,SYMBOL,BID,ASK,BID_SIZE,ASK_SIZE`},
		{"trade 3 fields", "t,AAPL,1", ErrFields, `line 3: trade: 3 fields, want 4 or 5: t,SYMBOL,PRICE,SIZE[,SIDE]`},
		{"trade 6 fields", "t,AAPL,1,2,b,x", ErrFields, `line 3: trade: 6 fields, want 4 or 5: t,SYMBOL,PRICE,SIZE[,SIDE]`},
		{"app 5 fields", "k,200,AAPL,a,b", ErrFields, `line 3: k record: 5 fields, want 4: k,KIND,SYMBOL,BODY (quote a BODY that holds a comma)`},
		{"hex 3 fields", "x,200,AAPL", ErrFields, `line 3: x record: 3 fields, want 4: x,KIND,SYMBOL,BODY (quote a BODY that holds a comma)`},
		{"bad price", "t,AAPL,12.3.4,100,b", ErrPrice, `line 3: trade price "12.3.4": not a decimal`},
		{"empty price", "t,AAPL,,100,b", ErrPrice, `line 3: trade price "": empty`},
		{"plus sign", "q,AAPL,+1,2,3,4", ErrPrice, `line 3: quote bid "+1": not a decimal`},
		{"sign after digits", "q,AAPL,1,2-,3,4", ErrPrice, `line 3: quote ask "2-": not a decimal`},
		{"exponent", "t,AAPL,1e3,1", ErrPrice, `line 3: trade price "1e3": not a decimal`},
		{"9 decimals", "t,AAPL,0.000000001,1", ErrPrice, `line 3: trade price "0.000000001": more than 8 decimal places`},
		{"price overflow", "t,AAPL,92233720368.54775808,1", ErrPrice, `line 3: trade price "92233720368.54775808": out of range`},
		{"price negative overflow", "t,AAPL,-92233720368.54775809,1", ErrPrice, `line 3: trade price "-92233720368.54775809": out of range`},
		{"lone point", "t,AAPL,.,1", ErrPrice, `line 3: trade price ".": not a decimal`},
		{"inner space", "t,AAPL,1 000,1", ErrPrice, `line 3: trade price "1 000": not a decimal`},
		{"long value cut", "t,AAPL," + strings.Repeat("1", 50) + "x,1", ErrPrice, `line 3: trade price "` + strings.Repeat("1", 40) + `"...: not a decimal`},
		{"negative size", "q,AAPL,1,2,-3,4", ErrSize, `line 3: quote bid size "-3": not an unsigned integer`},
		{"size overflow", "q,AAPL,1,2,3,4294967296", ErrSize, `line 3: quote ask size "4294967296": out of range`},
		{"decimal size", "t,AAPL,1,2.5", ErrSize, `line 3: trade size "2.5": not an unsigned integer`},
		{"empty size", "t,AAPL,1,,b", ErrSize, `line 3: trade size "": empty`},
		{"empty symbol", "t,,1,2", ErrSymbol, `line 3: symbol "": empty`},
		{"long symbol", "t," + strings.Repeat("S", 33) + ",1,2", ErrSymbol, `line 3: symbol "` + strings.Repeat("S", 33) + `": 33 bytes, limit 32`},
		{"symbol space", "t,A B,1,2", ErrSymbol, `line 3: symbol "A B": holds a space or a control character`},
		{"symbol quoted space", `t,"A B",1,2`, ErrSymbol, `line 3: symbol "A B": holds a space or a control character`},
		{"symbol control", "t,A\x01,1,2", ErrSymbol, `line 3: symbol "A\x01": holds a space or a control character`},
		{"symbol nbsp", "t,A\u00a0B,1,2", ErrSymbol, `line 3: symbol "A\u00a0B": holds a space or a control character`},
		{"symbol not utf-8", "t,A\xff,1,2", ErrSymbol, `line 3: symbol "A\xff": not UTF-8`},
		{"bad side", "t,AAPL,1,2,x", ErrSide, `line 3: trade side "x": want b, s, buy, sell or empty`},
		{"kind too low", "k,127,AAPL,a", ErrKind, `line 3: app kind "127": not an application kind: want 128-255`},
		{"kind quote", "k,1,AAPL,a", ErrKind, `line 3: app kind "1": not an application kind: want 128-255`},
		{"kind too high", "k,256,AAPL,a", ErrKind, `line 3: app kind "256": out of range: want 128-255`},
		{"kind not a number", "x,abc,AAPL,00", ErrKind, `line 3: app kind "abc": not an unsigned integer: want 128-255`},
		{"odd hex", "x,200,AAPL,abc", ErrBody, `line 3: app body "abc": not hex: encoding/hex: odd length hex string`},
		{"bad hex", "x,200,AAPL,zz", ErrBody, `line 3: app body "zz": not hex: encoding/hex: invalid byte: U+007A 'z'`},
		{"body too long", "k,200,A," + strings.Repeat("b", MaxBodyLen+1), ErrBody, `line 3: app body: 65500 bytes, limit 65499`},
		{"hex body too long", "x,200,A," + strings.Repeat("ab", MaxBodyLen+1), ErrBody, `line 3: app body: 65500 bytes, limit 65499`},
		{"bare quote", `k,200,AAPL,say "hi"`, csv.ErrBareQuote, `line 3: column 16: bare " in non-quoted-field`},
		{"text after quote", `k,200,AAPL,"hi" there`, csv.ErrQuote, `line 3: column 15: extraneous or missing " in quoted-field`},
		{"unclosed quote", `k,200,AAPL,"hi`, csv.ErrQuote, `line 3: column 16: extraneous or missing " in quoted-field`},
		{"line too long", long, ErrLineTooLong, `line 3: longer than 262144 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, "# comment\n\n"+tc.line+"\nt,NEXT,1,1\n")
			if len(got) != 2 {
				t.Fatalf("%d results, want 2: %v", len(got), got)
			}
			err := got[0].err
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err %v, want a *LineError", err)
			}
			if le.Line != 3 {
				t.Errorf("line %d, want 3", le.Line)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want one matching %v", err, tc.want)
			}
			if err.Error() != tc.msg {
				t.Errorf("err\n%s\nwant\n%s", err, tc.msg)
			}
			// The line after the bad one is read as usual.
			want := trade("NEXT", unit, 1, bus.SideUnknown)
			if got[1].err != nil || got[1].line != 4 || !sameMessage(&got[1].msg, &want) {
				t.Errorf("after the bad line: %+v, want the trade on line 4", got[1])
			}
		})
	}
}

// TestErrorsMatchOneSentinel checks that each bad line matches its own
// sentinel only, so counting by cause counts each line once.
func TestErrorsMatchOneSentinel(t *testing.T) {
	all := []error{ErrKind, ErrFields, ErrPrice, ErrSize, ErrSymbol, ErrSide, ErrBody, ErrQuote, ErrLineTooLong, ErrTruncated}
	in := "z\nq,A\nt,A,x,1\nt,A,1,x\nt,,1,1\nt,A,1,1,x\nx,200,A,z\nt,\"A\nt,A,1,1"
	got := readAll(t, in)
	want := []error{ErrKind, ErrFields, ErrPrice, ErrSize, ErrSymbol, ErrSide, ErrBody, ErrQuote, ErrTruncated}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(got), len(want), got)
	}
	for i, g := range got {
		for _, s := range all {
			if is := errors.Is(g.err, s); is != (s == want[i]) {
				t.Errorf("line %d: errors.Is(%v, %v) = %v", i+1, g.err, s, is)
			}
		}
	}
}

// TestMixed reads good lines mixed with bad ones, blank lines and comments,
// including the bad lines that a CSV reader on the whole stream would get
// wrong: an unclosed quote (which would swallow the lines after it) and a
// line too long to buffer.
func TestMixed(t *testing.T) {
	lines := []string{
		"\uFEFF# feed of the day", // 1, byte order mark skipped
		"q,AAPL,189.50,189.52,300,400",
		"",
		"t,AAPL,189.51,100,b\r",
		"t,AAPL,12.3.4,100,b",  // 5: bad price
		`k,200,AAPL,"unclosed`, // 6: open quote
		"t,AAPL,1,1,s",
		`k,200,AAPL,"closed, ""ok"""`,
		`q,AAPL,1,2,3,4"`, // 9: bare quote
		"   ",
		"q,AAPL," + strings.Repeat("1", 2*MaxLineLen) + ",1,2,3", // 11: too long
		"  # comment",
		"x,200,AAPL,0102",
		"t,AAPL,1,1,up", // 14: bad side
		"t,AAPL,2,2",
	}
	got := readAll(t, strings.Join(lines, "\n")+"\n")
	want := []struct {
		line int
		msg  bus.Message
		err  error
	}{
		{2, quote("AAPL", 18950000000, 18952000000, 300, 400), nil},
		{4, trade("AAPL", 18951000000, 100, bus.SideBuy), nil},
		{5, bus.Message{}, ErrPrice},
		{6, bus.Message{}, ErrQuote},
		{7, trade("AAPL", unit, 1, bus.SideSell), nil},
		{8, app(200, "AAPL", `closed, "ok"`), nil},
		{9, bus.Message{}, ErrQuote},
		{11, bus.Message{}, ErrLineTooLong},
		{13, app(200, "AAPL", "\x01\x02"), nil},
		{14, bus.Message{}, ErrSide},
		{15, trade("AAPL", 2*unit, 2, bus.SideUnknown), nil},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d:\n%v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.line != w.line {
			t.Errorf("result %d: line %d, want %d", i, g.line, w.line)
		}
		if w.err != nil {
			if !errors.Is(g.err, w.err) {
				t.Errorf("line %d: err %v, want %v", w.line, g.err, w.err)
			}
			continue
		}
		if g.err != nil {
			t.Errorf("line %d: %v", w.line, g.err)
		} else if !sameMessage(&g.msg, &w.msg) {
			t.Errorf("line %d: got %+v, want %+v", w.line, g.msg, w.msg)
		}
	}
}

func TestUnterminatedLastLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		errLine  int // 0: no error
		msgs     int
	}{
		{"trade", "t,A,1,1\nt,A,1,10", 2, 1},
		{"crlf only", "t,A,1,1\nt,A,1,10\r", 2, 1},
		{"comment", "t,A,1,1\n# done", 0, 1},
		{"blank", "t,A,1,1\n  ", 0, 1},
		{"too long", "t,A,1,1\n" + strings.Repeat("x", MaxLineLen+1), 2, 1},
		{"empty input", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, tc.in)
			msgs, errLine := 0, 0
			for _, g := range got {
				if g.err != nil {
					errLine = g.line
					if !errors.Is(g.err, ErrTruncated) && !errors.Is(g.err, ErrLineTooLong) {
						t.Errorf("err %v", g.err)
					}
				} else {
					msgs++
				}
			}
			if msgs != tc.msgs || errLine != tc.errLine {
				t.Errorf("%d messages and an error on line %d, want %d and line %d", msgs, errLine, tc.msgs, tc.errLine)
			}
		})
	}
}

// TestLineLimit checks the bound exactly: a line of MaxLineLen bytes,
// newline included, is read; one byte more is not.
func TestLineLimit(t *testing.T) {
	prefix := "k,200,A,"
	fill := func(n int) string { return prefix + strings.Repeat("b", n-len(prefix)-1) + "\n" }
	r := NewReader(strings.NewReader(fill(MaxLineLen) + fill(MaxLineLen+1) + "t,A,1,1\n"))
	var m bus.Message
	// The body is over MaxBodyLen, but the error says the line was read.
	if err := r.Next(&m); !errors.Is(err, ErrBody) {
		t.Errorf("line of MaxLineLen bytes: %v, want ErrBody", err)
	}
	if err := r.Next(&m); !errors.Is(err, ErrLineTooLong) || r.Line() != 2 {
		t.Errorf("line of MaxLineLen+1 bytes: %v on line %d, want ErrLineTooLong on line 2", err, r.Line())
	}
	if err := r.Next(&m); err != nil || m.Kind != bus.KindTrade || r.Line() != 3 {
		t.Errorf("next line: %v, %+v on line %d", err, m, r.Line())
	}
}

// TestOneByteReads feeds the input a byte at a time, so every line, long or
// not, is assembled from many reads.
func TestOneByteReads(t *testing.T) {
	// Lines longer than the buffer: hex, and quoted with doubled quotes.
	const n = bufSize/2 + 10
	in := "q,AAPL,1,2,3,4\n" +
		"x,200,A," + strings.Repeat("22", n) + "\n" +
		`k,201,A,"` + strings.Repeat(`""`, n) + "\"\n" +
		"t,B,1,1\n"
	r := NewReader(iotest.OneByteReader(strings.NewReader(in)))
	var m bus.Message
	for i, want := range []bus.Kind{bus.KindQuote, 200, 201, bus.KindTrade} {
		if err := r.Next(&m); err != nil || m.Kind != want {
			t.Fatalf("message %d: %v, kind %v, want %v", i, err, m.Kind, want)
		}
		if m.Kind.IsApp() && string(m.Body) != strings.Repeat(`"`, n) {
			t.Errorf("message %d: body of %d bytes, want %d quotes", i, len(m.Body), n)
		}
	}
	if len(m.Symbol) != 1 || m.Symbol[0] != 'B' {
		t.Errorf("symbol %q", m.Symbol)
	}
	if err := r.Next(&m); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
}

// TestReadError checks that a failed read is returned, sticks, and that
// the line it cut short is not parsed.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("t,A,1,1\nt,A,1.2"), iotest.ErrReader(boom)))
	var m bus.Message
	if err := r.Next(&m); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := r.Next(&m)
		var le *LineError
		if !errors.Is(err, boom) || errors.As(err, &le) {
			t.Errorf("Next: %v, want boom and no LineError", err)
		}
	}
}

func TestEOFSticks(t *testing.T) {
	r := NewReader(strings.NewReader("t,A,1,1\n"))
	var m bus.Message
	if err := r.Next(&m); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := r.Next(&m); err != io.EOF {
			t.Fatalf("Next: %v, want io.EOF", err)
		}
	}
	if r.Line() != 1 {
		t.Errorf("Line %d after EOF, want 1", r.Line())
	}
}

// TestStreaming checks that Next returns a line as soon as it has arrived,
// without waiting for more input: a bug here hangs the test, as the writer
// sends the second line only after the first has been read.
func TestStreaming(t *testing.T) {
	pr, pw := io.Pipe()
	read := make(chan struct{})
	go func() {
		pw.Write([]byte("t,A,1,1\n"))
		<-read
		pw.Write([]byte("t,B,1,1\n"))
		pw.Close()
	}()
	r := NewReader(pr)
	var m bus.Message
	if err := r.Next(&m); err != nil || string(m.Symbol) != "A" {
		t.Fatalf("first: %v %q", err, m.Symbol)
	}
	close(read)
	if err := r.Next(&m); err != nil || string(m.Symbol) != "B" {
		t.Fatalf("second: %v %q", err, m.Symbol)
	}
	if err := r.Next(&m); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestAliasing checks what the doc says of m.Symbol and m.Body: they are
// overwritten by the next call, and appending to them does not write into
// the Reader's buffer.
func TestAliasing(t *testing.T) {
	r := NewReader(strings.NewReader("k,200,AAA,body\nk,200,BBB,next\n"))
	var m bus.Message
	if err := r.Next(&m); err != nil {
		t.Fatal(err)
	}
	sym, body := m.Symbol, m.Body
	if cap(sym) != len(sym) || cap(body) != len(body) {
		t.Errorf("cap(Symbol) %d, cap(Body) %d: want them cut to their lengths", cap(sym), cap(body))
	}
	_ = append(sym, "XX"...)
	if err := r.Next(&m); err != nil {
		t.Fatal(err)
	}
	if string(m.Symbol) != "BBB" || string(m.Body) != "next" {
		t.Errorf("second message %q %q", m.Symbol, m.Body)
	}
}

func TestNextResetsMessage(t *testing.T) {
	r := NewReader(strings.NewReader("t,A,1,1,b\n"))
	m := bus.Message{BidPrice: 5, AskSize: 6, Body: []byte("old"), Len: 100}
	if err := r.Next(&m); err != nil {
		t.Fatal(err)
	}
	want := trade("A", unit, 1, bus.SideBuy)
	if !sameMessage(&m, &want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

// FuzzSplit checks the fast path against encoding/csv: for a line without
// a double quote, splitPlain must return exactly the fields csv.Reader does.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"q,A,1,2,3,4", " a , b ,\t", "a,,b", "\u00a0x,\u3000y", "a\rb,c\r", "a\r\r", ",", "x\xff, \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\"\n") {
			return
		}
		cr := csv.NewReader(strings.NewReader(line + "\n"))
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		want, err := cr.Read()
		if err == io.EOF {
			return // a blank line, which Next skips before splitting
		}
		if err != nil {
			t.Fatalf("csv: %v", err)
		}
		var r Reader
		n := r.splitPlain(trimEOL([]byte(line + "\n")))
		if n != len(want) {
			t.Fatalf("%d fields, csv %d", n, len(want))
		}
		for i := range min(n, maxFields) {
			if string(r.fields[i]) != want[i] {
				t.Fatalf("field %d %q, csv %q", i, r.fields[i], want[i])
			}
		}
	})
}
