package feedbus_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
)

func benchMessages() []bus.Message {
	msgs := make([]bus.Message, 256)
	for i := range msgs {
		sym := []byte(fmt.Sprintf("SYM%03d", i))
		msgs[i] = bus.Message{Kind: bus.KindQuote, Symbol: sym, BidPrice: int64(i), AskPrice: int64(i + 1), BidSize: 1, AskSize: 2}
		if i%4 == 3 {
			msgs[i] = bus.Message{Kind: bus.KindAppFirst, Symbol: sym, Body: []byte("an application's own payload")}
		}
	}
	return msgs
}

// BenchmarkPublish is an application's cost per message: Publish batching
// into 1400-byte frames, each sent on one ipc:// line with no subscriber
// (libzmq discards it, so the socket never fills); signed, each frame also
// gets its HMAC (--auth-key).
func BenchmarkPublish(b *testing.B) {
	keys, err := auth.NewKeys(1, auth.Key{ID: 1, Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []feedbus.PublisherOption
	}{
		{"plain", nil},
		{"signed", []feedbus.PublisherOption{feedbus.WithSigning(keys)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pub, err := feedbus.NewPublisher(ipcLines(b, 1), append(bc.opts, feedbus.WithLinger(0), feedbus.WithManualFlush())...)
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			msgs := benchMessages()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := pub.Publish(&msgs[i&255]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Publishing allocates nothing per message, frames sent included.
func TestPublishNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	pub, err := feedbus.NewPublisher(ipcLines(t, 2), feedbus.WithLinger(0), feedbus.WithManualFlush())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	msgs := benchMessages()
	i := 0
	if n := testing.AllocsPerRun(10000, func() {
		if err := pub.Publish(&msgs[i&255]); err != nil {
			t.Fatal(err)
		}
		i++
	}); n != 0 {
		t.Errorf("Publish allocates %.2f times per message, want 0", n)
	}
}
