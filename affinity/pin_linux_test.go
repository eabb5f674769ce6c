package affinity_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/feedbus/feedbus/affinity"
)

// pinTB pins the test's goroutine and OS thread to set until the test
// ends; cleanups run on the test's goroutine, so restore sees the same
// locked thread.
func pinTB(tb testing.TB, set affinity.CPUSet) {
	tb.Helper()
	restore, err := affinity.PinCurrentThread(set)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := restore(); err != nil {
			tb.Error(err)
		}
	})
}

// firstAllowedCPU is CPU 0 unless this process is kept off it.
func firstAllowedCPU(tb testing.TB) int {
	tb.Helper()
	allowed, err := affinity.ThreadAffinity(0)
	if err != nil {
		tb.Fatal(err)
	}
	cpus := allowed.CPUs()
	if len(cpus) == 0 {
		tb.Fatal("thread may run on no CPU")
	}
	return cpus[0]
}

func TestPinCurrentThread(t *testing.T) {
	before, err := affinity.ThreadAffinity(0)
	if err != nil {
		t.Fatal(err)
	}
	if before.Len() < 2 {
		t.Skipf("thread already restricted to %s; pinning to one CPU would change nothing", before)
	}
	cpu := firstAllowedCPU(t)
	one, _ := affinity.NewCPUSet(cpu)

	t.Run("pinned", func(t *testing.T) {
		pinTB(t, one)
		tid := unix.Gettid()
		got, err := affinity.CPUsAllowed(0, tid)
		if err != nil {
			t.Fatal(err)
		}
		if got != one {
			t.Errorf("Cpus_allowed_list of tid %d = %s, want %s", tid, got, one)
		}
		if got, _ := affinity.ThreadAffinity(0); got != one {
			t.Errorf("ThreadAffinity(0) = %s, want %s", got, one)
		}
		if got, _ := affinity.ThreadAffinity(tid); got != one {
			t.Errorf("ThreadAffinity(%d) = %s, want %s", tid, got, one)
		}
	})

	// Restore by hand here to observe the mask afterwards on the same thread.
	restore, err := affinity.PinCurrentThread(one)
	if err != nil {
		t.Fatal(err)
	}
	tid := unix.Gettid()
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if err := restore(); err != nil {
		t.Errorf("second restore: %v", err)
	}
	if got, err := affinity.CPUsAllowed(0, tid); err != nil || got != before {
		t.Errorf("after restore tid %d allows %s (%v), want %s", tid, got, err, before)
	}
}

func TestSetThreadAffinityOffline(t *testing.T) {
	topo, err := affinity.ReadTopology()
	if err != nil {
		t.Fatal(err)
	}
	cpus := topo.Online.CPUs()
	off := cpus[len(cpus)-1] + 1 // beyond the highest online CPU
	set, err := affinity.NewCPUSet(cpus[0], off)
	if err != nil {
		t.Skipf("every possible CPU is online: %v", err)
	}
	err = affinity.SetThreadAffinity(0, set)
	if !errors.Is(err, affinity.ErrCPUNotOnline) {
		t.Fatalf("SetThreadAffinity(%s) error = %v, want ErrCPUNotOnline", set, err)
	}
	if want := fmt.Sprintf("not online: %d ", off); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name cpu %d", err, off)
	}
	if _, err := affinity.PinCurrentThread(set); !errors.Is(err, affinity.ErrCPUNotOnline) {
		t.Errorf("PinCurrentThread(%s) error = %v, want ErrCPUNotOnline", set, err)
	}
	if err := affinity.SetThreadAffinity(0, affinity.CPUSet{}); !errors.Is(err, affinity.ErrEmptySet) {
		t.Errorf("SetThreadAffinity(empty) error = %v, want ErrEmptySet", err)
	}
}

func TestSetThreadAffinityOtherThread(t *testing.T) {
	cpu := firstAllowedCPU(t)
	one, _ := affinity.NewCPUSet(cpu)
	// A locked goroutine gives a thread id that stays valid while we pin
	// it. It never unlocks, so the runtime ends the pinned thread with it
	// rather than reusing it.
	tids, done := make(chan int), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		tids <- unix.Gettid()
		<-done
	}()
	defer close(done)
	tid := <-tids
	if err := affinity.SetThreadAffinity(tid, one); err != nil {
		t.Fatal(err)
	}
	if got, err := affinity.CPUsAllowed(0, tid); err != nil || got != one {
		t.Errorf("tid %d allows %s (%v), want %s", tid, got, err, one)
	}
	if got, err := affinity.ThreadAffinity(tid); err != nil || got != one {
		t.Errorf("ThreadAffinity(%d) = %s (%v), want %s", tid, got, err, one)
	}
	if err := affinity.SetThreadAffinity(1<<30, one); !errors.Is(err, unix.ESRCH) {
		t.Errorf("SetThreadAffinity of missing thread: %v, want ESRCH", err)
	}
}
