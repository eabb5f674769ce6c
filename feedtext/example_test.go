package feedtext_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/feedtext"
)

func ExampleReader() {
	in := `# a quote, two trades, an application message
q,AAPL,189.50,189.52,300,400
t,AAPL,189.51,100,b
t,AAPL,12.3.4,100,b
k,200,AAPL,"halted, news pending"
`
	r := feedtext.NewReader(strings.NewReader(in))
	var m bus.Message
	for {
		err := r.Next(&m)
		if err == io.EOF {
			break
		}
		var le *feedtext.LineError
		if errors.As(err, &le) {
			fmt.Println("skipped:", err)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("line %d: %v %s %q", r.Line(), m.Kind, m.Symbol, feedtext.AppendLine(nil, &m))
		fmt.Println()
	}
	// Output:
	// line 2: quote AAPL "q,AAPL,189.50,189.52,300,400\n"
	// line 3: trade AAPL "t,AAPL,189.51,100,b\n"
	// skipped: line 4: trade price "12.3.4": not a decimal
	// line 5: kind(200) AAPL "k,200,AAPL,\"halted, news pending\"\n"
}

func ExampleParsePrice() {
	p, err := feedtext.ParsePrice("101.25")
	fmt.Println(p, err)
	_, err = feedtext.ParsePrice("0.123456789")
	fmt.Println(err, errors.Is(err, feedtext.ErrPrice))
	// Output:
	// 10125000000 <nil>
	// price "0.123456789": more than 8 decimal places true
}
