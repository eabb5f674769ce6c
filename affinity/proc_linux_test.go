package affinity_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/internal/proctest"
)

// fakeProc builds a /proc tree of process 300, whose threads are feedsub's
// main thread, libzmq's reaper and two I/O threads (listed out of order)
// and a named receive thread, and opens it as procfs does the real one.
func fakeProc(t *testing.T) procfs.FS {
	t.Helper()
	status := func(name, allowed string) string {
		s := "Name:\t" + name + "\nPid:\t300\nCpus_allowed:\tff\n"
		if allowed != "" {
			s += "Cpus_allowed_list:\t" + allowed + "\n"
		}
		return s + "voluntary_ctxt_switches:\t7\n"
	}
	return proctest.FakeProc(t, map[string]string{
		"self":                "->300",
		"300/task/300/comm":   "feedsub\n",
		"300/task/300/status": status("feedsub", "0-3,8"),
		"300/task/301/comm":   "ZMQbg/Reaper\n",
		"300/task/302/comm":   "ZMQbg/IO/1\n",
		"300/task/303/comm":   "ZMQbg/IO/0\n",
		"300/task/304/comm":   "feedsub/recv\n",
		"300/task/304/status": status("feedsub/recv", "2"),
		"300/task/305/status": status("gone", ""),
		"300/task/306/status": status("wide", "0,4096"),
	})
}

func TestIOThreadsFixture(t *testing.T) {
	fs := fakeProc(t)
	want := []affinity.Thread{{TID: 303, Index: 0, Name: "ZMQbg/IO/0"}, {TID: 302, Index: 1, Name: "ZMQbg/IO/1"}}
	for _, pid := range []int{0, 300} {
		// Thread 305 has no comm, as a thread that exits while listed.
		got, err := affinity.IOThreadsIn(fs, pid)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("IOThreads(%d) = %+v, %v; want %+v", pid, got, err, want)
		}
	}
	if _, err := affinity.IOThreadsIn(fs, 999); err == nil {
		t.Error("IOThreads of a pid that does not exist: no error")
	}
}

func TestCPUsAllowedFixture(t *testing.T) {
	fs := fakeProc(t)
	for _, tc := range []struct {
		pid, tid int
		want     string
	}{{0, 300, "0-3,8"}, {300, 304, "2"}} {
		got, err := affinity.CPUsAllowedIn(fs, tc.pid, tc.tid)
		if err != nil || got.String() != tc.want {
			t.Errorf("CPUsAllowed(%d, %d) = %s, %v; want %s", tc.pid, tc.tid, got, err, tc.want)
		}
	}
	if _, err := affinity.CPUsAllowedIn(fs, 300, 305); err == nil {
		t.Error("status without Cpus_allowed_list: no error")
	}
	if _, err := affinity.CPUsAllowedIn(fs, 300, 306); !errors.Is(err, affinity.ErrInvalidCPUList) {
		t.Errorf("CPU 4096 allowed: %v, want ErrInvalidCPUList", err)
	}
	if _, err := affinity.CPUsAllowedIn(fs, 300, 307); err == nil {
		t.Error("thread that does not exist: no error")
	}
}
