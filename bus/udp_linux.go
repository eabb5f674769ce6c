package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/feedbus/feedbus/affinity"
	"golang.org/x/sys/unix"
)

// A udp:// line is plain IPv4 UDP multicast, with no ZeroMQ on the data
// path: one datagram is one frame. The publisher writes each frame to a
// socket connected to the group. The subscriber has one receive thread per
// line that takes datagrams with recvmmsg straight into the slots of a
// ring the receive loop reads, with the kernel's receive timestamp
// (SO_TIMESTAMPNS) and its count of datagrams the socket dropped for want
// of buffer (SO_RXQ_OVFL).

// udpSender is a publisher's udp:// line.
type udpSender struct {
	fd   int
	hdrs []unix.Mmsghdr // sendBatch's, reused
	iovs []unix.Iovec
}

// openUDPSender opens a socket that sends to e's group from e's
// interface, with the options' TTL, buffer and loopback.
func openUDPSender(e Endpoint, o *Options) (*udpSender, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	loop := 0
	if o.Loopback {
		loop = 1
	}
	group := e.Group
	steps := []struct {
		name string
		do   func() error
	}{
		{"SO_SNDBUF", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, o.SendBuffer) }},
		{"IP_MULTICAST_IF", func() error { return unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, e.Addr.As4()) }},
		{"IP_MULTICAST_TTL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, o.MulticastHops) }},
		{"IP_MULTICAST_LOOP", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, loop) }},
		{"bind " + e.Addr.String(), func() error { return unix.Bind(fd, &unix.SockaddrInet4{Addr: e.Addr.As4()}) }},
		{"connect " + group.String(), func() error {
			return unix.Connect(fd, &unix.SockaddrInet4{Addr: group.Addr().As4(), Port: int(group.Port())})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return &udpSender{fd: fd, hdrs: make([]unix.Mmsghdr, MaxBatch), iovs: make([]unix.Iovec, MaxBatch)}, nil
}

// send writes frame as one datagram. It reports full when the kernel had
// no room for it (ENOBUFS, EAGAIN): the datagram did not go out.
func (s *udpSender) send(frame []byte) (full bool, err error) {
	for {
		_, err = unix.Write(s.fd, frame)
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.EAGAIN):
			return true, nil
		}
		return false, err
	}
}

// sendBatch sends frames, a datagram each, with sendmmsg calls. It returns
// how many the kernel took, in order, and reports full when it had no room
// for the next one.
func (s *udpSender) sendBatch(frames [][]byte) (sent int, full bool, err error) {
	n := min(len(frames), len(s.hdrs))
	for i, f := range frames[:n] {
		s.iovs[i].Base = &f[0]
		s.iovs[i].SetLen(len(f))
		s.hdrs[i] = unix.Mmsghdr{}
		s.hdrs[i].Hdr.Iov = &s.iovs[i]
		s.hdrs[i].Hdr.SetIovlen(1)
	}
	for sent < n {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[sent])), uintptr(n-sent), 0, 0, 0)
		switch errno {
		case 0:
			sent += int(r)
		case unix.EINTR:
		case unix.ENOBUFS, unix.EAGAIN:
			return sent, true, nil
		default:
			return sent, false, errno
		}
	}
	return sent, false, nil
}

// waitWritable waits up to d for room in the socket's buffer.
func (s *udpSender) waitWritable(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
	_, err := unix.Poll(fds, int(d.Milliseconds()))
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

func (s *udpSender) close() error { return unix.Close(s.fd) }

// udpSlot is one datagram in a receive ring.
type udpSlot struct {
	n     int   // bytes; -1: truncated (larger than the slot)
	stamp int64 // the kernel's receive time, ns since the epoch; 0 if none
}

// udpBatch bounds one recvmmsg call.
const udpBatch = 64

// controlLen is room for a timestamp and a drop count per datagram.
var controlLen = unix.CmsgSpace(16) + unix.CmsgSpace(4)

// udpReceiver is a subscriber's udp:// line: a socket, the receive thread
// that owns it, and the ring between that thread and the receive loop.
// The thread writes slots and advances tail; the loop reads them and
// advances head. Both are single-writer.
type udpReceiver struct {
	fd       int
	name     string
	slotSize int
	bufs     []byte // slots × slotSize
	slots    []udpSlot
	mask     uint64
	head     atomic.Uint64 // next slot the loop reads
	_        [64]byte
	tail     atomic.Uint64 // next slot the thread writes
	_        [64]byte
	wake     int          // eventfd the thread writes when the loop waits
	waiting  *atomic.Bool // the loop is (about to be) asleep; shared by the lines
	drops    atomic.Uint64
	trunc    atomic.Uint64
	full     atomic.Uint64 // times the thread found the ring full
	errs     atomic.Uint64 // recvmmsg errors
	tid      atomic.Int64
	stop     atomic.Bool
	done     chan struct{}
	startErr chan error
}

// udpRecvTimeout bounds one recvmmsg wait, so the thread sees stop.
const udpRecvTimeout = 50 * time.Millisecond

// openUDPReceiver joins e's group on e's interface and starts the line's
// receive thread, pinned to cpu when cpu >= 0.
func openUDPReceiver(e Endpoint, line int, o *Options, waiting *atomic.Bool, cpu int) (*udpReceiver, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval(udpRecvTimeout.Nanoseconds())
	group := e.Group
	steps := []struct {
		name string
		do   func() error
	}{
		{"SO_REUSEADDR", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) }},
		{"SO_RCVBUF", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer) }},
		{"SO_RCVTIMEO", func() error { return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) }},
		{"SO_TIMESTAMPNS", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) }},
		{"SO_RXQ_OVFL", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) }},
		// Only this group's datagrams, not every group joined on the port.
		{"IP_MULTICAST_ALL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0) }},
		{"bind " + group.String(), func() error {
			return unix.Bind(fd, &unix.SockaddrInet4{Addr: group.Addr().As4(), Port: int(group.Port())})
		}},
		{"IP_ADD_MEMBERSHIP on " + e.Addr.String(), func() error {
			return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
				&unix.IPMreq{Multiaddr: group.Addr().As4(), Interface: e.Addr.As4()})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	n := ringLen(o.RecvHWM)
	r := &udpReceiver{fd: fd, name: "feedbus/udp-" + LineName(line), slotSize: o.MaxDatagram,
		bufs: make([]byte, n*o.MaxDatagram), slots: make([]udpSlot, n), mask: uint64(n - 1),
		wake: wake, waiting: waiting, done: make(chan struct{}), startErr: make(chan error, 1)}
	go r.run(cpu)
	if err := <-r.startErr; err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// ringLen is the ring's slot count: the HWM rounded up to a power of two.
func ringLen(hwm int) int {
	n := 1
	for n < max(hwm, udpBatch) {
		n <<= 1
	}
	return n
}

// run is the line's receive thread.
func (r *udpReceiver) run(cpu int) {
	defer close(r.done)
	runtime.LockOSThread() // never unlocked: the pinned, named thread ends with it
	r.tid.Store(int64(unix.Gettid()))
	if cpu >= 0 {
		set, err := affinity.NewCPUSet(cpu)
		if err == nil {
			_, err = affinity.PinCurrentThread(set)
		}
		if err != nil {
			r.startErr <- fmt.Errorf("pinning %s to CPU %d: %w", r.name, cpu, err)
			return
		}
	}
	_ = affinity.NameCurrentThread(r.name) // a convenience (top -H, perf)
	r.startErr <- nil

	hdrs := make([]unix.Mmsghdr, udpBatch)
	iovs := make([]unix.Iovec, udpBatch)
	control := make([]byte, udpBatch*controlLen)
	size := uint64(len(r.slots))
	for !r.stop.Load() {
		tail := r.tail.Load()
		free := size - (tail - r.head.Load())
		if free == 0 {
			// The loop is behind by a whole ring: the kernel's buffer takes
			// the next datagrams, and drops what it cannot (counted).
			r.full.Add(1)
			time.Sleep(50 * time.Microsecond)
			continue
		}
		// Contiguous slots only, up to a batch.
		k := min(free, udpBatch, size-(tail&r.mask))
		for i := range k {
			idx := (tail + i) & r.mask
			buf := r.bufs[int(idx)*r.slotSize : int(idx+1)*r.slotSize]
			iovs[i].Base = &buf[0]
			iovs[i].SetLen(len(buf))
			h := &hdrs[i].Hdr
			h.Iov = &iovs[i]
			h.SetIovlen(1)
			c := control[int(i)*controlLen : int(i+1)*controlLen]
			h.Control = &c[0]
			h.SetControllen(controlLen)
			h.Flags = 0
		}
		got, err := recvmmsg(r.fd, hdrs[:k])
		if err != nil {
			// A socket error is the line's: counted, and tried again after
			// the wait, as a ZeroMQ line would reconnect.
			r.errs.Add(1)
			time.Sleep(udpRecvTimeout)
			continue
		}
		for i := range got {
			slot := &r.slots[(tail+uint64(i))&r.mask]
			h := &hdrs[i].Hdr
			slot.n = int(hdrs[i].Len)
			if h.Flags&unix.MSG_TRUNC != 0 {
				slot.n = -1
				r.trunc.Add(1)
			}
			slot.stamp = r.parseControl(control[i*controlLen : i*controlLen+int(h.Controllen)])
		}
		if got > 0 {
			r.tail.Store(tail + uint64(got))
			if r.waiting.Load() {
				var one [8]byte
				binary.NativeEndian.PutUint64(one[:], 1)
				unix.Write(r.wake, one[:])
			}
		}
	}
}

// parseControl reads a datagram's control messages: it returns the
// kernel's receive time and notes the socket's drop count.
func (r *udpReceiver) parseControl(b []byte) (stamp int64) {
	for len(b) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(b) {
			return stamp
		}
		data := b[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && len(data) >= 16:
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			stamp = ts.Nano()
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			r.drops.Store(uint64(binary.NativeEndian.Uint32(data)))
		}
		b = b[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(b)):]
	}
	return stamp
}

// next returns the oldest unread datagram, if any, without releasing it.
func (r *udpReceiver) next() (frame []byte, stamp int64, truncated, ok bool) {
	head := r.head.Load()
	if head == r.tail.Load() {
		return nil, 0, false, false
	}
	idx := head & r.mask
	slot := &r.slots[idx]
	if slot.n < 0 {
		return nil, slot.stamp, true, true
	}
	off := int(idx) * r.slotSize
	return r.bufs[off : off+slot.n : off+slot.n], slot.stamp, false, true
}

// release gives the oldest datagram's slot back to the thread.
func (r *udpReceiver) release() { r.head.Store(r.head.Load() + 1) }

// pending reports whether a datagram is waiting.
func (r *udpReceiver) pending() bool { return r.head.Load() != r.tail.Load() }

// wakeFD is the eventfd the loop sleeps on.
func (r *udpReceiver) wakeFD() int { return r.wake }

// drainWake clears the eventfd after a wake-up.
func (r *udpReceiver) drainWake() {
	var b [8]byte
	unix.Read(r.wake, b[:])
}

// close stops the thread, waits for it and closes the socket.
func (r *udpReceiver) close() error {
	r.stop.Store(true)
	<-r.done
	return errors.Join(unix.Close(r.fd), unix.Close(r.wake))
}

// rejoin leaves the group and joins it again: a fresh socket, as a
// ZeroMQ line's rejoin gives.
func (r *udpReceiver) rejoin(e Endpoint) error {
	m := &unix.IPMreq{Multiaddr: e.Group.Addr().As4(), Interface: e.Addr.As4()}
	if err := unix.SetsockoptIPMreq(r.fd, unix.IPPROTO_IP, unix.IP_DROP_MEMBERSHIP, m); err != nil {
		return fmt.Errorf("IP_DROP_MEMBERSHIP: %w", err)
	}
	if err := unix.SetsockoptIPMreq(r.fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, m); err != nil {
		return fmt.Errorf("IP_ADD_MEMBERSHIP: %w", err)
	}
	return nil
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

// pollFor sleeps in poll(2) on fds for at most timeout (rounded up to a
// millisecond, poll's unit).
func pollFor(fds []unix.PollFd, timeout time.Duration) error {
	ms := int((timeout + time.Millisecond - 1) / time.Millisecond)
	_, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}
