package affinity

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// openProc opens /proc as procfs reads it.
func openProc() (procfs.FS, error) {
	p, err := procfs.NewDefaultFS()
	if err != nil {
		return procfs.FS{}, fmt.Errorf("affinity: %w", err)
	}
	return p, nil
}

// resolvePID turns pid 0 into the pid of the process p's self link names.
func resolvePID(p procfs.FS, pid int) (int, error) {
	if pid != 0 {
		return pid, nil
	}
	self, err := p.Self()
	if err != nil {
		return 0, fmt.Errorf("affinity: %w", err)
	}
	return self.PID, nil
}

// IOThreads returns the libzmq I/O threads (tasks named ZMQbg/IO/<n>) of
// process pid, 0 meaning this process, sorted by index. libzmq starts
// them when a context creates its first socket, so the list is empty
// before that. With several contexts, indexes repeat.
func IOThreads(pid int) ([]Thread, error) {
	p, err := openProc()
	if err != nil {
		return nil, err
	}
	return ioThreads(p, pid)
}

// ioThreads is IOThreads on the /proc tree p.
func ioThreads(p procfs.FS, pid int) ([]Thread, error) {
	pid, err := resolvePID(p, pid)
	if err != nil {
		return nil, err
	}
	tasks, err := p.AllThreads(pid)
	if err != nil {
		return nil, fmt.Errorf("affinity: list threads of pid %d: %w", pid, err)
	}
	var threads []Thread
	for _, task := range tasks {
		name, err := task.Comm()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // the thread exited after it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("affinity: read thread name: %w", err)
		}
		if idx, ok := ioThreadIndex(name); ok {
			threads = append(threads, Thread{TID: task.PID, Index: idx, Name: name})
		}
	}
	slices.SortFunc(threads, func(a, b Thread) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.TID, b.TID))
	})
	return threads, nil
}

// WaitIOThreads waits, at most timeout, until this process has n libzmq
// I/O threads, and returns them. libzmq starts its threads with a
// context's first socket and each names itself once running, so the names
// can lag the socket by a moment.
func WaitIOThreads(n int, timeout time.Duration) ([]Thread, error) {
	deadline := time.Now().Add(timeout)
	for {
		threads, err := IOThreads(0)
		if err != nil || len(threads) >= n || time.Now().After(deadline) {
			return threads, err
		}
		time.Sleep(time.Millisecond)
	}
}

// ioThreadsWait bounds how long PinIOThreads waits for threads to appear.
const ioThreadsWait = 2 * time.Second

// PinIOThreads pins libzmq I/O thread ZMQbg/IO/i of this process to
// cpus[i]. Threads with a higher index are left alone; if several
// contexts each have a ZMQbg/IO/i, all of them go to cpus[i]. It checks
// that every CPU is online and every thread exists before pinning any.
func PinIOThreads(cpus []int) error {
	online, err := onlineCPUs()
	if err != nil {
		return err
	}
	for i, c := range cpus {
		if c < 0 || c >= MaxCPUs {
			return fmt.Errorf("%w: %d for %s%d (want 0-%d)", ErrCPUOutOfRange, c, ioThreadPrefix, i, MaxCPUs-1)
		}
		if !online.Contains(c) {
			return fmt.Errorf("%w: %d for %s%d (online: %s)", ErrCPUNotOnline, c, ioThreadPrefix, i, online)
		}
	}
	threads, err := WaitIOThreads(len(cpus), ioThreadsWait)
	if err != nil {
		return err
	}
	for i := range cpus {
		if !slices.ContainsFunc(threads, func(t Thread) bool { return t.Index == i }) {
			return fmt.Errorf("%w: %s%d not found; %d I/O threads for %d CPUs "+
				"(libzmq starts them when the context creates its first socket)",
				ErrIOThreadsNotRunning, ioThreadPrefix, i, len(threads), len(cpus))
		}
	}
	for _, t := range threads {
		if t.Index >= len(cpus) {
			continue
		}
		var set CPUSet
		set.set(cpus[t.Index])
		u := set.Unix()
		if err := unix.SchedSetaffinity(t.TID, &u); err != nil {
			return fmt.Errorf("affinity: pin %s (tid %d) to cpu %d: %w", t.Name, t.TID, cpus[t.Index], err)
		}
	}
	return nil
}

// CPUsAllowed returns the Cpus_allowed_list of thread tid of process
// pid as /proc reports it; pid 0 means this process and tid 0 the
// calling thread. Unlike ThreadAffinity it reads what tools such as
// taskset and ps see, which makes it a check from the outside.
func CPUsAllowed(pid, tid int) (CPUSet, error) {
	if tid == 0 {
		tid = unix.Gettid()
	}
	p, err := openProc()
	if err != nil {
		return CPUSet{}, err
	}
	return cpusAllowed(p, pid, tid)
}

// cpusAllowed is CPUsAllowed on the /proc tree p, for a given tid.
func cpusAllowed(p procfs.FS, pid, tid int) (CPUSet, error) {
	pid, err := resolvePID(p, pid)
	if err != nil {
		return CPUSet{}, err
	}
	task, err := p.Thread(pid, tid)
	if err != nil {
		return CPUSet{}, fmt.Errorf("affinity: thread %d of pid %d: %w", tid, pid, err)
	}
	st, err := task.NewStatus()
	if err != nil {
		return CPUSet{}, fmt.Errorf("affinity: status of thread %d of pid %d: %w", tid, pid, err)
	}
	// A thread may always run somewhere: an empty list is a missing line,
	// which procfs does not report.
	if len(st.CpusAllowedList) == 0 {
		return CPUSet{}, fmt.Errorf("affinity: no Cpus_allowed_list for thread %d of pid %d", tid, pid)
	}
	var set CPUSet
	for _, c := range st.CpusAllowedList {
		if err := set.Add(int(min(c, MaxCPUs))); err != nil {
			return CPUSet{}, fmt.Errorf("%w for thread %d of pid %d: %w", ErrInvalidCPUList, tid, pid, err)
		}
	}
	return set, nil
}
