package fanout

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestWorkOnSlowsOneWorker gives one worker a real per-message cost and a
// short queue: it drops, the other worker keeps every message.
func TestWorkOnSlowsOneWorker(t *testing.T) {
	f, err := New(Config{Workers: 2, QueueLen: 4, Work: 5 * time.Millisecond, WorkOn: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	slow, fast := symbolsOn(0, 2, 1)[0], symbolsOn(1, 2, 1)[0]
	const n = 200
	for i := 0; i < n; i++ {
		for _, sym := range []string{slow, fast} {
			m := quote(sym, int64(i), int64(i+1), 1, 1)
			f.Dispatch(&m, uint64(i+1), 0, 0)
		}
		// Let the fast worker keep up, so only the slow one can fall behind.
		deadline := time.Now().Add(5 * time.Second)
		for f.Stats()[1].Processed < uint64(i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("fast worker stuck at %d of %d", f.Stats()[1].Processed, i+1)
			}
			runtime.Gosched()
		}
	}
	f.Close()
	st := f.Stats()
	if st[1].Processed != n || st[1].Dropped != 0 {
		t.Errorf("fast worker processed %d dropped %d, want %d and 0", st[1].Processed, st[1].Dropped, n)
	}
	if st[0].Dropped == 0 || st[0].Processed+st[0].Dropped != n {
		t.Errorf("slow worker processed %d dropped %d of %d; want drops, and every message accounted for", st[0].Processed, st[0].Dropped, n)
	}
	if _, err := New(Config{Workers: 2, WorkOn: []int{2}}); !errors.Is(err, ErrWork) {
		t.Errorf("WorkOn naming a worker that does not exist: %v, want ErrWork", err)
	}
}
