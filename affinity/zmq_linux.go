package affinity

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(pid)
}

// IOThreads returns the libzmq I/O threads (tasks named ZMQbg/IO/<n>) of
// process pid, 0 meaning this process, sorted by index. libzmq starts
// them when a context creates its first socket, so the list is empty
// before that. With several contexts, indexes repeat.
func IOThreads(pid int) ([]Thread, error) {
	dir := procDir(pid) + "/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("affinity: list threads of pid %d: %w", pid, err)
	}
	var threads []Thread
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name() + "/comm")
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // the thread exited after ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("affinity: read thread name: %w", err)
		}
		name := strings.TrimSuffix(string(b), "\n")
		if idx, ok := ioThreadIndex(name); ok {
			threads = append(threads, Thread{TID: tid, Index: idx, Name: name})
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
	path := procDir(pid) + "/task/" + strconv.Itoa(tid) + "/status"
	f, err := os.Open(path)
	if err != nil {
		return CPUSet{}, fmt.Errorf("affinity: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			set, err := parseCPUList(v)
			if err != nil {
				return CPUSet{}, fmt.Errorf("%w in %s: %v", ErrInvalidCPUList, path, err)
			}
			return set, nil
		}
	}
	if err := sc.Err(); err != nil {
		return CPUSet{}, fmt.Errorf("affinity: read %s: %w", path, err)
	}
	return CPUSet{}, fmt.Errorf("affinity: no Cpus_allowed_list in %s", path)
}
