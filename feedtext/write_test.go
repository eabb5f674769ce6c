package feedtext

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		m    bus.Message
		want string
	}{
		{quote("AAPL", 18950000000, 18952000000, 300, 400), "q,AAPL,189.50,189.52,300,400\n"},
		{quote("X", math.MinInt64, math.MaxInt64, 0, math.MaxUint32), "q,X,-92233720368.54775808,92233720368.54775807,0,4294967295\n"},
		{quote("A,B", 1, -1, 1, 1), "q,\"A,B\",0.00000001,-0.00000001,1,1\n"},
		{trade("AAPL", 18951000000, 100, bus.SideBuy), "t,AAPL,189.51,100,b\n"},
		{trade("AAPL", 18951000000, 100, bus.SideSell), "t,AAPL,189.51,100,s\n"},
		{trade("AAPL", 18951000000, 100, bus.SideUnknown), "t,AAPL,189.51,100\n"},
		{trade("AAPL", 0, 0, 7), "t,AAPL,0.00,0,7\n"},
		{app(200, "AAPL", "halted"), "k,200,AAPL,halted\n"},
		{app(200, "AAPL", ""), "k,200,AAPL,\n"},
		{app(200, "AAPL", `halted, "news"`), "k,200,AAPL,\"halted, \"\"news\"\"\"\n"},
		{app(200, "AAPL", " lead"), "k,200,AAPL,\" lead\"\n"},
		{app(200, "AAPL", "trail "), "k,200,AAPL,trail \n"},
		{app(255, "AAPL", "café €"), "k,255,AAPL,café €\n"},
		{app(201, "AAPL", "\x00\xff\x10"), "x,201,AAPL,00ff10\n"},
		{app(201, "AAPL", "two\nlines"), "x,201,AAPL,74776f0a6c696e6573\n"},
		{app(201, "AAPL", "tab\t"), "x,201,AAPL,74616209\n"},
		{app(201, "AAPL", "nbsp\u00a0"), "x,201,AAPL,6e627370c2a0\n"},
		{app(5, "AAPL", "reserved"), "k,5,AAPL,reserved\n"},
	} {
		if got := string(AppendLine(nil, &tc.m)); got != tc.want {
			t.Errorf("AppendLine(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// TestRoundTrip writes messages with AppendLine and reads them back.
func TestRoundTrip(t *testing.T) {
	msgs := []bus.Message{
		quote("AAPL", 18950000000, 18952000000, 300, 400),
		quote("X", math.MinInt64, math.MaxInt64, 0, math.MaxUint32),
		quote(`A"B,C`, -1, 1, 1, 1),
		quote(strings.Repeat("日", 10), 5, 6, 7, 8), // 30 bytes
		trade("BTC-USD", 6400012500000, 2, bus.SideUnknown),
		trade("AAPL", 1, math.MaxUint32, bus.SideBuy),
		trade("AAPL", -1, 0, bus.SideSell),
		app(128, "A", ""),
		app(200, "AAPL", `halted, "news" pending `),
		app(200, "AAPL", " \" , "),
		app(255, "AAPL", "\x00\x01\r\n\xff"),
		app(255, "AAPL", strings.Repeat("\"", MaxBodyLen)),
		app(255, "AAPL", strings.Repeat("\n", MaxBodyLen)),
	}
	var buf []byte
	for i := range msgs {
		buf = AppendLine(buf, &msgs[i])
	}
	got := readAll(t, string(buf))
	if len(got) != len(msgs) {
		t.Fatalf("%d results, want %d", len(got), len(msgs))
	}
	for i, g := range got {
		if g.err != nil {
			t.Errorf("message %d: %v", i, g.err)
		} else if !sameMessage(&g.msg, &msgs[i]) {
			t.Errorf("message %d: got %+v, want %+v", i, g.msg, msgs[i])
		}
	}
}

// TestAppendLineInvalid checks that a message Next cannot return is written
// so that Next reports it, not so that it reads back as something else.
func TestAppendLineInvalid(t *testing.T) {
	for _, tc := range []struct {
		m    bus.Message
		want error
	}{
		{quote("", 1, 1, 1, 1), ErrSymbol},
		{quote(strings.Repeat("S", 33), 1, 1, 1, 1), ErrSymbol},
		{trade("A B", 1, 1, bus.SideBuy), ErrSymbol},
		{trade("A\nB", 1, 1, bus.SideBuy), ErrQuote},
		{trade("A", 1, 1, 3), ErrSide},
		{app(0, "A", "x"), ErrKind},
		{app(127, "A", "\x00"), ErrKind},
		{app(200, "A", strings.Repeat("b", MaxBodyLen+1)), ErrBody},
		{app(200, "A", strings.Repeat("\x00", MaxBodyLen+1)), ErrBody},
	} {
		line := AppendLine(nil, &tc.m)
		if bytes.Count(line, []byte("\n")) != 1 && !bytes.Contains(tc.m.Symbol, []byte("\n")) {
			t.Errorf("%q: not one line", line)
		}
		r := NewReader(bytes.NewReader(line))
		var m bus.Message
		if err := r.Next(&m); !errors.Is(err, tc.want) {
			t.Errorf("%.60q: %v, want %v", line, err, tc.want)
		}
	}
}

// TestMaxBodyFitsBus checks MaxBodyLen against the wire format: a message
// with the longest symbol and body this package accepts fits in
// bus.MaxMessageLen exactly.
func TestMaxBodyFitsBus(t *testing.T) {
	m := app(255, strings.Repeat("S", bus.MaxSymbolLen), strings.Repeat("b", MaxBodyLen))
	b, err := bus.AppendMessage(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != bus.MaxMessageLen {
		t.Errorf("encoded in %d bytes, want bus.MaxMessageLen (%d)", len(b), bus.MaxMessageLen)
	}
}

// FuzzReader reads arbitrary input. Next must not panic, must make
// progress, must number lines in order within the input, and every message
// it returns must be valid and come back the same through AppendLine.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"q,AAPL,189.50,189.52,300,400\n",
		"t,AAPL,189.51,100,b\nt,BTC-USD,64000.125,2\n",
		"k,200,AAPL,\"halted, \"\"news\"\" pending\"\nx,201,AAPL,00ff10\n",
		"# comment\n\n  \r\nQ, A ,1 ,2,3,4 \r\n",
		"t,AAPL,12.3.4,100,b\nt,AAPL,1,1,x\nq,A,1\n",
		"k,200,AAPL,say \"hi\"\nk,200,AAPL,\"open\nt,A,1,1\n",
		"\uFEFFt,A,1,1\nt,A,1,10",
		"x,200,A,zz\nk,99,A,b\nk,200,A,a,b\n",
		"t,日経225,0.00000001,4294967295,SELL\n",
		"t,A,-92233720368.54775808,0,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte("\n")) + 1
		r := NewReader(bytes.NewReader(in))
		prev := 0
		var m bus.Message
		for calls := 0; ; calls++ {
			if calls > lines {
				t.Fatalf("%d calls to Next for %d lines", calls, lines)
			}
			err := r.Next(&m)
			if err == io.EOF {
				return
			}
			if r.Line() <= prev || r.Line() > lines {
				t.Fatalf("line %d after line %d, input has %d", r.Line(), prev, lines)
			}
			prev = r.Line()
			var le *LineError
			if errors.As(err, &le) {
				if le.Line != r.Line() {
					t.Fatalf("LineError.Line %d, Line() %d", le.Line, r.Line())
				}
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			checkMessage(t, &m)
			line := AppendLine(nil, &m)
			r2 := NewReader(bytes.NewReader(line))
			var back bus.Message
			if err := r2.Next(&back); err != nil {
				t.Fatalf("line %d: %+v written as %q: %v", r.Line(), m, line, err)
			}
			if !sameMessage(&m, &back) {
				t.Fatalf("line %d: %+v written as %q read as %+v", r.Line(), m, line, back)
			}
			if err := r2.Next(&back); err != io.EOF {
				t.Fatalf("%q is more than one message: %v", line, err)
			}
		}
	})
}

// checkMessage checks what Next promises of a message it returns.
func checkMessage(t *testing.T, m *bus.Message) {
	t.Helper()
	if symbolProblem(m.Symbol) != "" || cap(m.Symbol) != len(m.Symbol) {
		t.Fatalf("symbol %q (cap %d)", m.Symbol, cap(m.Symbol))
	}
	switch {
	case m.Kind == bus.KindQuote || m.Kind == bus.KindTrade:
		if m.Body != nil {
			t.Fatalf("%v with a body", m.Kind)
		}
	case m.Kind.IsApp():
		if m.Body == nil || len(m.Body) > MaxBodyLen || cap(m.Body) != len(m.Body) {
			t.Fatalf("body of %d bytes (cap %d, nil %v)", len(m.Body), cap(m.Body), m.Body == nil)
		}
	default:
		t.Fatalf("kind %v", m.Kind)
	}
	if m.Side > bus.SideSell || m.Len != 0 {
		t.Fatalf("side %d, len %d", m.Side, m.Len)
	}
	// The bus can carry it.
	if _, err := bus.AppendMessage(nil, m); err != nil {
		t.Fatalf("bus.AppendMessage(%.80v): %v", m, err)
	}
}
