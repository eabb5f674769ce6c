package affinity

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PinCurrentThread locks the calling goroutine to its OS thread and
// restricts that thread to set. The returned restore puts back the
// previous mask and unlocks the thread; call it from the same goroutine,
// typically deferred. Calling restore again does nothing.
//
// Go starts new threads from a template thread while the caller is
// locked, so the pinned mask does not leak into threads the runtime
// creates meanwhile.
func PinCurrentThread(set CPUSet) (restore func() error, err error) {
	if err := checkOnline(set); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("affinity: get affinity of current thread: %w", err)
	}
	want := set.Unix()
	if err := unix.SchedSetaffinity(0, &want); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("affinity: pin current thread to %s: %w", set, err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			if err = unix.SchedSetaffinity(0, &old); err != nil {
				// Stay locked: when the goroutine exits the runtime
				// discards this thread instead of reusing it pinned.
				err = fmt.Errorf("affinity: restore affinity %s of current thread: %w",
					CPUSetFromUnix(&old), err)
				return
			}
			runtime.UnlockOSThread()
		})
		return err
	}, nil
}

// ThreadAffinity returns the CPUs thread tid may run on; tid 0 is the
// calling thread. Any process's thread id may be given.
func ThreadAffinity(tid int) (CPUSet, error) {
	var u unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &u); err != nil {
		return CPUSet{}, fmt.Errorf("affinity: get affinity of thread %d: %w", tid, err)
	}
	return CPUSetFromUnix(&u), nil
}

// SetThreadAffinity restricts thread tid (0 for the calling thread) to
// set. Every CPU in set must be online.
func SetThreadAffinity(tid int, set CPUSet) error {
	if err := checkOnline(set); err != nil {
		return err
	}
	u := set.Unix()
	if err := unix.SchedSetaffinity(tid, &u); err != nil {
		return fmt.Errorf("affinity: set affinity of thread %d to %s: %w", tid, set, err)
	}
	return nil
}

// checkOnline rejects empty sets and offline CPUs up front, because the
// kernel silently drops offline CPUs from a mask that also holds online
// ones and reports only EINVAL otherwise.
func checkOnline(set CPUSet) error {
	if set.Len() == 0 {
		return ErrEmptySet
	}
	online, err := onlineCPUs()
	if err != nil {
		return err
	}
	if off := set.minus(online); off.Len() > 0 {
		return fmt.Errorf("%w: %s (online: %s)", ErrCPUNotOnline, off, online)
	}
	return nil
}

// onlineCPUs reads the online list afresh, since CPUs can be hot-plugged.
// procfs's sysfs package has no reader for this list (only per-CPU
// cpuN/online, which cpu0 usually lacks), so readCPUList parses it.
func onlineCPUs() (CPUSet, error) {
	return readCPUList("/sys/devices/system/cpu/online", false)
}

// NameCurrentThread sets the calling OS thread's name (its comm, at most
// 15 bytes), so that top -H, perf and /proc show which feedbus thread is
// which. Call it with the goroutine locked to its thread. It refuses the
// main thread (ErrMainThread): renaming that would rename the process.
func NameCurrentThread(name string) error {
	if unix.Gettid() == unix.Getpid() {
		return fmt.Errorf("naming thread %q: %w", name, ErrMainThread)
	}
	b := make([]byte, 16)
	copy(b[:15], name)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); err != nil {
		return fmt.Errorf("affinity: naming thread %q: %w", name, err)
	}
	return nil
}

// ThreadID returns the calling OS thread's id.
func ThreadID() int { return unix.Gettid() }
