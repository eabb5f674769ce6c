package fanout

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// Application kinds reach the handler with their bodies intact and in
// order, across the body ring's wrap-around.
func TestAppBodies(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	h := HandlerFunc(func(m *Message) {
		mu.Lock()
		got[string(m.Symbol)] = append(got[string(m.Symbol)], fmt.Sprintf("%d:%v:%s", m.Seq, m.Kind, m.Body))
		mu.Unlock()
	})
	f, err := New(Config{Workers: 2, Handler: h, BodyBytes: 64, QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for i := 1; i <= 200; i++ {
		sym := fmt.Sprintf("S%d", i%3)
		body := bytes.Repeat([]byte{'a' + byte(i%26)}, 1+i%20)
		m := bus.Message{Kind: 130, Symbol: []byte(sym), Body: body}
		// One message at a time, waiting until it is handled, so nothing
		// is dropped and the ring wraps many times.
		f.Dispatch(&m, uint64(i), 1, 2)
		want[sym] = append(want[sym], fmt.Sprintf("%d:kind(130):%s", i, body))
		eventually(t, "the handler", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got[sym]) == len(want[sym])
		})
	}
	f.Close()
	checkAccounting(t, f)
	for sym, w := range want {
		if fmt.Sprint(got[sym]) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", sym, got[sym], w)
		}
	}
}

// A body that does not fit in the ring is dropped and counted, under
// Conflate too (an application kind has no conflation slot).
func TestAppBodyRingFull(t *testing.T) {
	for _, policy := range []Policy{Drop, Conflate} {
		st := newStall(0)
		f, err := newFanout(Config{Workers: 1, BodyBytes: 32, Overflow: policy}, st.hook)
		if err != nil {
			t.Fatal(err)
		}
		m := bus.Message{Kind: 200, Symbol: []byte("X"), Body: make([]byte, 20)}
		f.Dispatch(&m, 1, 1, 1)
		st.wait(t, 0) // the worker holds the first body
		f.Dispatch(&m, 2, 1, 1)
		big := bus.Message{Kind: 200, Symbol: []byte("X"), Body: make([]byte, 33)}
		f.Dispatch(&big, 3, 1, 1)
		st.unblock()
		f.Close()
		s := f.Stats()[0]
		if s.Dropped != 2 || s.Processed != 1 {
			t.Errorf("%v: processed %d dropped %d, want 1 and 2", policy, s.Processed, s.Dropped)
		}
		checkAccounting(t, f)
	}
}
