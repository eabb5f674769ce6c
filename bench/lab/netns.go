package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/var/run/netns"

// InNetns runs f on an OS thread that has entered h's network namespace,
// and returns f's error. What f does on that thread sees h's network: the
// sockets it opens, /proc/sys/net (procfs's FS.SysctlInts), and the net
// files of the thread (ThreadProc: NetDev, Snmp). Unlike ip netns exec it
// starts no process, but /sys stays the root namespace's, as its mount is.
func (l *Lab) InNetns(h Host, f func() error) error {
	m, err := l.member(h)
	if err != nil {
		return err
	}
	return inNetns(m.Netns, f)
}

// inNetns runs f on a thread of its own in namespace ns. The thread is
// never unlocked: the runtime retires a thread whose goroutine exits
// locked, so no other goroutine ever runs in ns.
func inNetns(ns string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- enterNetns(ns, f)
	}()
	return <-done
}

func enterNetns(ns string, f func() error) error {
	fd, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lab: open namespace %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("lab: enter namespace %s: %w", ns, err)
	}
	return f()
}

// ThreadProc returns procfs's view of the calling thread, whose net files
// (/proc/PID/task/TID/net) are those of the thread's namespace, where
// /proc/self/net would be the process's.
func ThreadProc() (procfs.Proc, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return procfs.Proc{}, fmt.Errorf("lab: %w", err)
	}
	p, err := fs.Thread(os.Getpid(), unix.Gettid())
	if err != nil {
		return procfs.Proc{}, fmt.Errorf("lab: this thread in /proc: %w", err)
	}
	return p, nil
}

// sysctlInt reads one integer sysctl, such as net.core.rmem_max, in the
// namespace of the calling thread.
func sysctlInt(name string) (int, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, fmt.Errorf("lab: %w", err)
	}
	v, err := fs.SysctlInts(name)
	if err != nil {
		return 0, fmt.Errorf("lab: reading %s: %w", name, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("lab: %s holds %d values, want 1", name, len(v))
	}
	return v[0], nil
}

// DialContext dials addr from inside h's namespace, for a client of a
// server listening there (such as 127.0.0.1 of that host). The socket is
// made on a thread in the namespace and stays there; the connection is
// then used from any goroutine.
func (l *Lab) DialContext(h Host) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := l.InNetns(h, func() error {
			var err error
			c, err = new(net.Dialer).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}
