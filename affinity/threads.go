package affinity

import (
	"strconv"
	"strings"
)

// Thread is a libzmq I/O thread of a process.
type Thread struct {
	TID   int    // kernel thread id, as used by sched_setaffinity
	Index int    // n in the thread name ZMQbg/IO/<n>
	Name  string // the thread's comm, e.g. "ZMQbg/IO/0"
}

// ioThreadPrefix is how libzmq names its I/O threads (comm of each task).
const ioThreadPrefix = "ZMQbg/IO/"

// ioThreadIndex returns n for a comm of the form ZMQbg/IO/<n>.
func ioThreadIndex(comm string) (int, bool) {
	digits, ok := strings.CutPrefix(comm, ioThreadPrefix)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}
