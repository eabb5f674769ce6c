package fanout

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/feedbus/feedbus/affinity"
)

func TestPinWorkers(t *testing.T) {
	allowed, err := affinity.ThreadAffinity(0)
	if err != nil {
		t.Fatal(err)
	}
	if !allowed.Contains(0) || !allowed.Contains(1) {
		t.Skipf("this process may not run on CPUs 0 and 1 (allowed: %s)", allowed)
	}
	f := newTest(t, Config{Workers: 2, PinCPUs: []int{0, 1}}, nil)
	tids := f.WorkerTIDs()
	if len(tids) != 2 || tids[0] == 0 || tids[1] == 0 || tids[0] == tids[1] {
		t.Fatalf("WorkerTIDs() = %v", tids)
	}
	for i, tid := range tids {
		got, err := affinity.CPUsAllowed(0, tid)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := affinity.NewCPUSet(i); got != want {
			t.Errorf("worker %d (tid %d): Cpus_allowed_list %s, want %s", i, tid, got, want)
		}
	}
	for i, s := range f.Stats() {
		if s.CPU != i {
			t.Errorf("worker %d: stats CPU %d", i, s.CPU)
		}
	}
	// The pinned workers work.
	for w := range 2 {
		for i, sym := range symbolsOn(w, 2, 3) {
			m := quote(sym, 1, 2, 1, 1)
			f.Dispatch(&m, uint64(10*w+i+1), 0, 0)
		}
	}
	f.Close()
	for _, s := range f.Stats() {
		if s.Processed != 3 {
			t.Errorf("worker %d processed %d, want 3", s.Worker, s.Processed)
		}
	}
	// Close gave the threads back with their mask restored (unless the
	// runtime has ended them since).
	for _, tid := range tids {
		got, err := affinity.CPUsAllowed(0, tid)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != allowed {
			t.Errorf("tid %d after Close: Cpus_allowed_list %s, want the original %s", tid, got, allowed)
		}
	}
	// And this goroutine's thread is not pinned.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if got, _ := affinity.ThreadAffinity(0); got != allowed {
		t.Errorf("test thread's affinity changed from %s to %s", allowed, got)
	}
}

// A CPU that cannot be pinned makes New fail and leaves nothing running.
func TestPinBadCPU(t *testing.T) {
	before := runtime.NumGoroutine()
	_, err := New(Config{Workers: 2, PinCPUs: []int{0, affinity.MaxCPUs - 1}})
	if !errors.Is(err, affinity.ErrCPUNotOnline) {
		t.Fatalf("New with CPU %d: %v", affinity.MaxCPUs-1, err)
	}
	eventually(t, "workers to exit", func() bool { return runtime.NumGoroutine() <= before })
}
