package feedbus_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
)

// An application publishes quotes, trades and a kind of its own, and
// consumes them with a handler. ipc:// needs neither root nor a network.
func Example() {
	dir, _ := os.MkdirTemp("", "feedbus-example-")
	defer os.RemoveAll(dir)
	line := "ipc://" + filepath.Join(dir, "feed")

	// Heartbeats announce the session while nothing is published; a short
	// interval lets the subscriber below join quickly.
	pub, err := feedbus.NewPublisher([]string{line}, feedbus.WithLinger(0), feedbus.WithHeartbeat(10*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	const kindBookUpdate = feedbus.KindAppFirst + 2 // 130: this application's order-book update

	var mu sync.Mutex
	var got []string
	all := make(chan struct{})
	joined := make(chan uint64, 1)
	sub, err := feedbus.Subscribe([]string{line}, feedbus.HandlerFunc(func(m *feedbus.Message) {
		mu.Lock()
		defer mu.Unlock()
		switch m.Kind {
		case feedbus.KindQuote:
			got = append(got, fmt.Sprintf("%d %s quote %d/%d", m.Seq, m.Symbol, m.BidPrice, m.AskPrice))
		case feedbus.KindTrade:
			got = append(got, fmt.Sprintf("%d %s trade %d@%d", m.Seq, m.Symbol, m.Size, m.Price))
		case kindBookUpdate:
			got = append(got, fmt.Sprintf("%d %s book update %q", m.Seq, m.Symbol, m.Body))
		}
		if len(got) == 3 {
			close(all)
		}
	}), feedbus.WithWorkers(1), feedbus.WithEvents(func(e feedbus.Event) {
		if e.Kind == feedbus.SessionStart {
			joined <- e.Session
		}
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	// ZeroMQ connects in the background: wait until the subscriber has
	// heard the publisher's session (a heartbeat) before publishing.
	if id := <-joined; id != pub.Session() {
		fmt.Println("joined another session")
	}

	pub.Publish(&bus.Message{Kind: feedbus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 189_12000000, AskPrice: 189_13000000, BidSize: 3, AskSize: 2})
	pub.Publish(&bus.Message{Kind: feedbus.KindTrade, Symbol: []byte("AAPL"), Price: 189_13000000, Size: 100, Side: bus.SideBuy})
	pub.Publish(&bus.Message{Kind: kindBookUpdate, Symbol: []byte("AAPL"), Body: []byte("L2 bid 189.11 x 500")})
	pub.Flush()
	<-all
	sub.Close()
	pub.Close()

	sort.Strings(got)
	for _, g := range got {
		fmt.Println(g)
	}
	// Output:
	// 1 AAPL quote 18912000000/18913000000
	// 2 AAPL trade 100@18913000000
	// 3 AAPL book update "L2 bid 189.11 x 500"
}
