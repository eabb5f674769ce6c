package pump_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/pump"
)

// script is a Source of n messages, some of them bad.
type script struct {
	n, i int
	bad  map[int]bool
}

var errBad = errors.New("bad record")

func (s *script) Next(m *bus.Message) error {
	if s.i == s.n {
		return io.EOF
	}
	s.i++
	if s.bad[s.i] {
		return fmt.Errorf("record %d: %w", s.i, errBad)
	}
	*m = bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: int64(s.i), Size: 1}
	return nil
}

func publisher(t *testing.T) *feedbus.Publisher {
	t.Helper()
	p, err := feedbus.NewPublisher([]string{"ipc://" + filepath.Join(t.TempDir(), "line")}, feedbus.WithLinger(0), feedbus.WithManualFlush())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestRunToEOF(t *testing.T) {
	pub := publisher(t)
	var seen []error
	st, err := pump.Run(context.Background(), pub, &script{n: 5000, bad: map[int]bool{7: true, 4000: true}},
		pump.Options{OnError: func(err error) error { seen = append(seen, err); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Published != 4998 || st.Rejected != 2 || len(seen) != 2 || !errors.Is(seen[1], errBad) {
		t.Fatalf("published %d rejected %d errors %v", st.Published, st.Rejected, seen)
	}
	if ps := pub.Stats(); ps.Messages != 4998 || pub.Pending() != 0 {
		t.Fatalf("publisher sent %d, %d pending", ps.Messages, pub.Pending())
	}
}

func TestRunStops(t *testing.T) {
	// At Count.
	st, err := pump.Run(context.Background(), publisher(t), &script{n: 1000}, pump.Options{Count: 300})
	if err != nil || st.Published != 300 {
		t.Fatalf("Count 300: published %d, %v", st.Published, err)
	}
	// At the first bad record when OnError is nil, with that error.
	st, err = pump.Run(context.Background(), publisher(t), &script{n: 1000, bad: map[int]bool{10: true}}, pump.Options{})
	if !errors.Is(err, errBad) || st.Published != 9 {
		t.Fatalf("no OnError: published %d, %v; want 9 and the record's error", st.Published, err)
	}
	// When OnError says so.
	stop := errors.New("stop")
	_, err = pump.Run(context.Background(), publisher(t), &script{n: 1000, bad: map[int]bool{3: true}},
		pump.Options{OnError: func(error) error { return stop }})
	if !errors.Is(err, stop) {
		t.Fatalf("OnError stop: %v", err)
	}
	// When ctx is done.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st, err = pump.Run(ctx, publisher(t), &script{n: 1000}, pump.Options{Rate: 10}); err != nil || st.Published != 0 {
		t.Fatalf("cancelled: published %d, %v", st.Published, err)
	}
}
