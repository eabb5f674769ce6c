package main

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openSender returns a UDP socket that can send only to group: bound to
// iface, connected to group, IP_MULTICAST_IF iface, TTL hops, no loopback.
// It returns the send buffer the kernel granted.
func openSender(group netip.AddrPort, iface netip.Addr, hops, sndbuf int) (fd, granted int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"SO_SNDBUF", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf) }},
		{"IP_MULTICAST_IF", func() error { return unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, iface.As4()) }},
		{"IP_MULTICAST_TTL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, hops) }},
		{"IP_MULTICAST_LOOP", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0) }},
		{"bind " + iface.String(), func() error { return unix.Bind(fd, &unix.SockaddrInet4{Addr: iface.As4()}) }},
		{"connect " + group.String(), func() error {
			return unix.Connect(fd, &unix.SockaddrInet4{Addr: group.Addr().As4(), Port: int(group.Port())})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			unix.Close(fd)
			return -1, 0, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	granted, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reading SO_SNDBUF: %w", err)
	}
	return fd, granted, nil
}

// openReceiver returns a UDP socket bound to group that has joined it on
// iface, with receives timing out after timeout. It returns the receive
// buffer the kernel granted.
func openReceiver(group netip.AddrPort, iface netip.Addr, rcvbuf int, timeout time.Duration) (fd, granted int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	steps := []struct {
		name string
		do   func() error
	}{
		{"SO_REUSEADDR", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) }},
		{"SO_RCVBUF", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf) }},
		{"SO_RCVTIMEO", func() error { return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) }},
		{"bind " + group.String(), func() error {
			return unix.Bind(fd, &unix.SockaddrInet4{Addr: group.Addr().As4(), Port: int(group.Port())})
		}},
		{"IP_ADD_MEMBERSHIP", func() error {
			return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
				&unix.IPMreq{Multiaddr: group.Addr().As4(), Interface: iface.As4()})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			unix.Close(fd)
			return -1, 0, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	granted, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reading SO_RCVBUF: %w", err)
	}
	return fd, granted, nil
}

// batch is a set of datagram buffers with the mmsghdr array that
// sendmmsg/recvmmsg take.
type batch struct {
	bufs [][]byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
}

func newBatch(n, size int) *batch {
	b := &batch{bufs: make([][]byte, n), iovs: make([]unix.Iovec, n), hdrs: make([]unix.Mmsghdr, n)}
	for i := range n {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	return b
}

// sendmmsg sends the datagrams of hdrs on fd, a connected socket, in one
// call and returns how many went out; it retries after EINTR.
func sendmmsg(fd int, hdrs []unix.Mmsghdr) (int, error) {
	for {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(r), nil
	}
}

// recvmmsg receives up to len(hdrs) datagrams: it waits for the first (up
// to the socket's receive timeout) and then takes what is queued. It
// returns 0 and no error when the timeout passed or a signal came.
func recvmmsg(fd int, hdrs []unix.Mmsghdr) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_WAITFORONE, 0, 0)
	switch {
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return int(r), nil
}

// isNoBufs reports whether a send failed because the kernel had no room
// for the datagram right now; the datagram is lost, as a PUB socket's
// past its high-water mark would be.
func isNoBufs(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)
}
