//go:build cgo

package affinity_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/feedbus/feedbus/affinity"
)

func TestIOThreadsNotRunning(t *testing.T) {
	if threads, err := affinity.IOThreads(0); err != nil || len(threads) != 0 {
		t.Skipf("process already has I/O threads %v (%v)", threads, err)
	}
	err := affinity.PinIOThreads([]int{firstAllowedCPU(t)})
	if !errors.Is(err, affinity.ErrIOThreadsNotRunning) || !strings.Contains(err.Error(), "first socket") {
		t.Errorf("PinIOThreads without a context: %v, want ErrIOThreadsNotRunning explaining lazy start", err)
	}
}

func TestPinIOThreads(t *testing.T) {
	topo, err := affinity.ReadTopology()
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := affinity.CPUsAllowed(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !allowed.Contains(0) || !allowed.Contains(1) || !topo.Online.Contains(1) {
		t.Skipf("needs CPUs 0 and 1 online and allowed; online %s, allowed %s", topo.Online, allowed)
	}

	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.SetIoThreads(2); err != nil {
		t.Fatal(err)
	}
	sock, err := ctx.NewSocket(zmq.PUB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sock.SetLinger(0)
		sock.Close()
		if err := ctx.Term(); err != nil {
			t.Error(err)
		}
	})
	if err := sock.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}

	// libzmq names each thread from inside it after starting it, so the
	// names can lag the socket's creation.
	threads, err := affinity.WaitIOThreads(2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) != 2 || threads[0].Index != 0 || threads[1].Index != 1 || threads[0].Name != "ZMQbg/IO/0" {
		t.Fatalf("IOThreads = %+v, want ZMQbg/IO/0 and ZMQbg/IO/1", threads)
	}

	// Two orders, so a thread that merely happened to sit on its CPU fails.
	for _, cpus := range [][]int{{0, 1}, {1, 0}} {
		if err := affinity.PinIOThreads(cpus); err != nil {
			t.Fatal(err)
		}
		for i, th := range threads {
			got, err := affinity.CPUsAllowed(0, th.TID)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := affinity.NewCPUSet(cpus[i]); got != want {
				t.Errorf("after PinIOThreads(%v) %s (tid %d) allows %s, want %s", cpus, th.Name, th.TID, got, want)
			}
		}
	}

	err = affinity.PinIOThreads([]int{0, 1, 0})
	if !errors.Is(err, affinity.ErrIOThreadsNotRunning) || !strings.Contains(err.Error(), "ZMQbg/IO/2") {
		t.Errorf("pinning a third I/O thread: %v, want ErrIOThreadsNotRunning naming ZMQbg/IO/2", err)
	}
	if err := affinity.PinIOThreads([]int{0, 4096}); !errors.Is(err, affinity.ErrCPUOutOfRange) {
		t.Errorf("PinIOThreads with cpu 4096: %v, want ErrCPUOutOfRange", err)
	}
}
