//go:build !linux

package affinity

import (
	"fmt"
	"runtime"
	"time"
)

var errNotLinux = fmt.Errorf("%w: needs linux, running on %s", ErrNotSupported, runtime.GOOS)

// ReadTopology reads the topology of this host from /sys.
func ReadTopology() (*Topology, error) { return nil, errNotLinux }

// PinCurrentThread locks the calling goroutine to its OS thread and
// restricts that thread to set. It needs Linux.
func PinCurrentThread(set CPUSet) (restore func() error, err error) { return nil, errNotLinux }

// ThreadAffinity returns the CPUs thread tid may run on. It needs Linux.
func ThreadAffinity(tid int) (CPUSet, error) { return CPUSet{}, errNotLinux }

// SetThreadAffinity restricts thread tid to set. It needs Linux.
func SetThreadAffinity(tid int, set CPUSet) error { return errNotLinux }

// IOThreads returns the libzmq I/O threads of process pid. It needs Linux.
func IOThreads(pid int) ([]Thread, error) { return nil, errNotLinux }

// WaitIOThreads waits for n libzmq I/O threads. It needs Linux.
func WaitIOThreads(n int, timeout time.Duration) ([]Thread, error) { return nil, errNotLinux }

// PinIOThreads pins libzmq I/O thread ZMQbg/IO/i to cpus[i]. It needs Linux.
func PinIOThreads(cpus []int) error { return errNotLinux }

// CPUsAllowed returns the Cpus_allowed_list of a thread. It needs Linux.
func CPUsAllowed(pid, tid int) (CPUSet, error) { return CPUSet{}, errNotLinux }

// NameCurrentThread names the calling OS thread. It needs Linux.
func NameCurrentThread(name string) error { return errNotLinux }

// ThreadID returns the calling OS thread's id, or -1 off Linux.
func ThreadID() int { return -1 }
