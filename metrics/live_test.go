package metrics

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/metricstest"
)

// A publisher's metrics are its Stats, per line: line B, whose only
// subscriber reads nothing, drops frames once its queue is full, while
// line A, with no subscriber, drops none.
func TestPublisherDropsPerLine(t *testing.T) {
	dir := t.TempDir()
	lines := []string{"ipc://" + filepath.Join(dir, "a"), "ipc://" + filepath.Join(dir, "b")}
	pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0), feedbus.WithHeartbeat(time.Hour), feedbus.WithManualFlush(),
		feedbus.WithStream(5), feedbus.WithPublisherSockets(bus.WithHWM(1, 1), bus.WithBuffers(4096, 4096), bus.WithOnFull(bus.Drop)))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Term()
	stalled, err := ctx.NewSocket(zmq.SUB)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if err := errors.Join(stalled.SetLinger(0), stalled.SetRcvhwm(1), stalled.SetSubscribe(""), stalled.Connect(lines[1])); err != nil {
		t.Fatal(err)
	}
	c, err := NewPublisherCollector(pub)
	if err != nil {
		t.Fatal(err)
	}
	m := bus.Message{Kind: bus.KindQuote, Symbol: []byte("AAPL"), BidPrice: 1, AskPrice: 2, BidSize: 1, AskSize: 1}
	for deadline := time.Now().Add(20 * time.Second); pub.Stats().Lines[1].Dropped == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("line B never dropped a frame: %+v", pub.Stats().Lines)
		}
		for range 100 {
			if err := pub.Publish(&m); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	st := pub.Stats() // nothing sends now: no flusher, no heartbeat for an hour
	fams := gather(t, c)
	s := []string{"stream", "5"}
	wants := []want{
		{"feedbus_pub_messages_total", s, float64(st.Messages)},
		{"feedbus_pub_frames_total", s, float64(st.Frames)},
		{"feedbus_pub_heartbeats_total", s, float64(st.Heartbeats)},
		{"feedbus_pub_wire_bytes_total", s, float64(st.WireBytes)},
	}
	for i, ln := range st.Lines {
		l := []string{"stream", "5", "line", bus.LineName(i)}
		wants = append(wants,
			want{"feedbus_pub_line_frames_total", l, float64(ln.Sent)},
			want{"feedbus_pub_line_messages_total", l, float64(st.Messages - ln.DroppedMessages)},
			want{"feedbus_pub_line_dropped_frames_total", l, float64(ln.Dropped)},
			want{"feedbus_pub_line_dropped_messages_total", l, float64(ln.DroppedMessages)},
		)
	}
	checkValues(t, fams, wants)
	if st.Lines[0].Dropped != 0 || st.Lines[1].DroppedMessages == 0 || st.Lines[0].Sent <= st.Lines[1].Sent {
		t.Errorf("lines %+v: want drops on B only", st.Lines)
	}
}

// BenchmarkGather is one scrape of a feedsub-like process, without the
// HTTP: the Go and process collectors, and a subscriber with two lines
// and two workers.
func BenchmarkGather(b *testing.B) {
	dir := b.TempDir()
	lines := []string{"ipc://" + filepath.Join(dir, "a"), "ipc://" + filepath.Join(dir, "b")}
	pub, err := feedbus.NewPublisher(lines, feedbus.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	sub, err := feedbus.Subscribe(lines, feedbus.NewBooks(), feedbus.WithWorkers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	for _, bc := range []struct {
		name string
		reg  func() *prometheus.Registry
	}{
		{"subscriber", prometheus.NewRegistry},
		{"subscriber+go+process", NewRegistry},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg := bc.reg()
			c, err := NewSubscriberCollector(sub)
			if err != nil {
				b.Fatal(err)
			}
			reg.MustRegister(c)
			fams, err := metricstest.Gather(reg)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := fams["feedbus_sub_line_won_total"]; !ok {
				b.Fatalf("no line metrics in %d families", len(fams))
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
