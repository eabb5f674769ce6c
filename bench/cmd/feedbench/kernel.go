package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/bench/lab"
)

// The kernel's counters feedbench reads, through procfs: the machine's CPU
// time (/proc/stat), the softnet backlog drops (/proc/net/softnet_stat),
// each program's CPU time by thread (/proc/PID/task/TID/stat), and a lab
// host's UDP counters (net/snmp) and NIC bytes (net/dev) from a thread in
// its namespace.

// machineCPU returns the machine's busy and total CPU time, in seconds,
// from the "cpu" line of /proc/stat: busy is all but idle and iowait.
func machineCPU(fs procfs.FS) (busy, total float64, err error) {
	st, err := fs.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("machine CPU time: %w", err)
	}
	c := st.CPUTotal
	busy = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return busy, busy + c.Idle + c.Iowait, nil
}

// backlogDrops sums the packets dropped for a full per-CPU input queue
// (/proc/net/softnet_stat) over all CPUs. The counters are the machine's,
// the same in every namespace.
func backlogDrops(fs procfs.FS) (uint64, error) {
	stats, err := fs.NetSoftnetStat()
	if err != nil {
		return 0, fmt.Errorf("softnet backlog drops: %w", err)
	}
	var total uint64
	for _, s := range stats {
		total += uint64(s.Dropped)
	}
	return total, nil
}

// threadsCPU returns the CPU time process pid's threads have used so far,
// by kind of thread. libzmq names its I/O threads "ZMQbg/IO/<n>".
func threadsCPU(fs procfs.FS, pid int) (cpuTime, error) {
	threads, err := fs.AllThreads(pid)
	if err != nil {
		return cpuTime{}, fmt.Errorf("threads of pid %d: %w", pid, err)
	}
	var c cpuTime
	for _, t := range threads {
		st, err := t.Stat()
		if err != nil {
			continue // the thread has exited
		}
		d := time.Duration(math.Round(st.CPUTime() * float64(time.Second)))
		switch {
		case strings.HasPrefix(st.Comm, "ZMQbg/IO"):
			c.io += d
		case strings.HasPrefix(st.Comm, "ZMQbg/"): // the reaper: idle
		default:
			c.app += d
		}
	}
	return c, nil
}

// udpStats are the Udp counters of a host's /proc/net/snmp that the
// report uses.
type udpStats struct {
	in, out, rcvbufErrors uint64
}

// minus returns u - o, counter by counter.
func (u udpStats) minus(o udpStats) udpStats {
	return udpStats{in: u.in - o.in, out: u.out - o.out, rcvbufErrors: u.rcvbufErrors - o.rcvbufErrors}
}

// udpCounters reads the Udp counters of p's net/snmp.
func udpCounters(p procfs.Proc) (udpStats, error) {
	snmp, err := p.Snmp()
	if err != nil {
		return udpStats{}, fmt.Errorf("UDP counters: %w", err)
	}
	u := snmp.Udp
	if u.InDatagrams == nil || u.OutDatagrams == nil {
		return udpStats{}, fmt.Errorf("no Udp counters in net/snmp of pid %d", p.PID)
	}
	return udpStats{in: counter(u.InDatagrams), out: counter(u.OutDatagrams), rcvbufErrors: counter(u.RcvbufErrors)}, nil
}

// counter turns one of procfs's optional counters into a count, 0 if the
// kernel has none.
func counter(v *float64) uint64 {
	if v == nil {
		return 0
	}
	return uint64(*v)
}

// nicTxBytes reads the bytes nic has sent, from p's net/dev.
func nicTxBytes(p procfs.Proc, nic string) (uint64, error) {
	dev, err := p.NetDev()
	if err != nil {
		return 0, fmt.Errorf("NIC counters: %w", err)
	}
	line, ok := dev[nic]
	if !ok {
		return 0, fmt.Errorf("no %s in net/dev of pid %d", nic, p.PID)
	}
	return line.TxBytes, nil
}

// hostCounters are a lab host's network counters at one moment.
type hostCounters struct {
	udp     udpStats
	txBytes uint64 // of the host's line A NIC
}

// readHost reads h's counters from a thread in its namespace, whose net
// files are h's.
func readHost(ctx context.Context, l *lab.Lab, h lab.Host) (hostCounters, error) {
	if err := ctx.Err(); err != nil {
		return hostCounters{}, err
	}
	var c hostCounters
	err := l.InNetns(h, func() error {
		p, err := lab.ThreadProc()
		if err != nil {
			return err
		}
		if c.udp, err = udpCounters(p); err != nil {
			return err
		}
		c.txBytes, err = nicTxBytes(p, h.NICs[0].Name)
		return err
	})
	if err != nil {
		return hostCounters{}, fmt.Errorf("%s: %w", h.Name, err)
	}
	return c, nil
}
