package main

import (
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/internal/proctest"
)

func fakeProc(t *testing.T, files map[string]string) procfs.FS { return proctest.FakeProc(t, files) }

// threadStat is a /proc/PID/task/TID/stat line of thread comm with utime
// and stime in ticks.
func threadStat(tid, comm, utime, stime string) string {
	return tid + " (" + comm + ") S 1 1 1 0 -1 4194560 100 0 0 0 " + utime + " " + stime +
		" 0 0 20 0 4 0 1000 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
}

func TestKernelCounters(t *testing.T) {
	fs := fakeProc(t, map[string]string{
		// user nice system idle iowait irq softirq steal guest guest_nice, in ticks
		"stat": "cpu  100 0 50 800 30 5 15 0 0 0\ncpu0 100 0 50 800 30 5 15 0 0 0\n" +
			"intr 0\nctxt 0\nbtime 0\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
		"net/softnet_stat": "0001a2b3 00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n" +
			"00000001 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001\n",
		"700/task/700/stat": threadStat("700", "feedsub", "120", "30"),
		"700/task/701/stat": threadStat("701", "ZMQbg/Reaper", "1", "1"),
		"700/task/702/stat": threadStat("702", "ZMQbg/IO/0", "40", "60"),
		"700/task/703/stat": threadStat("703", "feedsub/recv", "5", "5"),
	})
	busy, total, err := machineCPU(fs)
	if err != nil || busy != 1.7 || total != 10 {
		t.Errorf("machineCPU = %v, %v, %v; want 1.7 s busy of 10 s", busy, total, err)
	}
	if n, err := backlogDrops(fs); err != nil || n != 26 {
		t.Errorf("backlogDrops = %d, %v; want 26", n, err)
	}
	if _, err := backlogDrops(fakeProc(t, map[string]string{"net/softnet_stat": "1 zz\n"})); err == nil {
		t.Error("backlogDrops: no error for a bad line")
	}
	c, err := threadsCPU(fs, 700)
	if want := (cpuTime{app: 1600 * time.Millisecond, io: time.Second}); err != nil || c != want {
		t.Errorf("threadsCPU = %+v, %v; want %+v", c, err, want)
	}
	if _, err := threadsCPU(fs, 999); err == nil {
		t.Error("threadsCPU of a pid that does not exist: no error")
	}
}

func TestHostCounters(t *testing.T) {
	fs := fakeProc(t, map[string]string{
		"800/net/snmp": "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
			"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
			"Udp: 46113 0 3 51000 3 0 0 0 0\n",
		"800/net/dev": `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth1:    2646      49    0    0    0     0          0         0 23270938   46113    0    0    0     0       0          0
`,
		"801/net/snmp": "Ip: Forwarding DefaultTTL\nIp: 1 64\n",
	})
	p, err := fs.Proc(800)
	if err != nil {
		t.Fatal(err)
	}
	u, err := udpCounters(p)
	if want := (udpStats{in: 46113, out: 51000, rcvbufErrors: 3}); err != nil || u != want {
		t.Errorf("udpCounters = %+v, %v; want %+v", u, err, want)
	}
	if n, err := nicTxBytes(p, "eth1"); err != nil || n != 23270938 {
		t.Errorf("nicTxBytes = %d, %v; want 23270938", n, err)
	}
	if _, err := nicTxBytes(p, "eth2"); err == nil {
		t.Error("nicTxBytes: no error for a missing NIC")
	}
	q, err := fs.Proc(801)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := udpCounters(q); err == nil {
		t.Error("udpCounters: no error without Udp counters")
	}
}
