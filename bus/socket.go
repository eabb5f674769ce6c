package bus

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/procfs"
)

// capNetRaw is CAP_NET_RAW's bit in /proc/self/status CapEff.
const capNetRaw = 13

// checkPrivilege fails early, and clearly, for a pgm:// endpoint that
// libzmq would reject later with a bare "operation not permitted".
func checkPrivilege(e Endpoint) error {
	if e.Transport != PGM {
		return nil
	}
	if hasCapability(capNetRaw) {
		return nil
	}
	return fmt.Errorf("%w: %s needs CAP_NET_RAW (run as root, or use epgm://, which any user can)", ErrPrivilege, e)
}

// hasCapability says whether this process has capability bit in effect;
// without a readable /proc it assumes root has it and no one else.
func hasCapability(bit uint) bool {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return os.Geteuid() == 0
	}
	ok, err := capable(fs, bit)
	if err != nil {
		return os.Geteuid() == 0
	}
	return ok
}

// capable reads CapEff of fs's own process.
func capable(fs procfs.FS, bit uint) (bool, error) {
	p, err := fs.Self()
	if err != nil {
		return false, fmt.Errorf("bus: capabilities: %w", err)
	}
	s, err := p.NewStatus()
	if err != nil {
		return false, fmt.Errorf("bus: capabilities: %w", err)
	}
	return s.CapEff&(1<<bit) != 0, nil
}

// prepare is the start both sides share: options, endpoints resolved and
// checked, privileges, and a context with one I/O thread per line.
func prepare(endpoints []string, opts []Option) (*zmq.Context, []Endpoint, Options, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, nil, Options{}, err
	}
	lines, err := ParseLines(endpoints)
	if err != nil {
		return nil, nil, Options{}, err
	}
	for _, e := range lines {
		if err := checkPrivilege(e); err != nil {
			return nil, nil, Options{}, err
		}
	}
	threads := len(lines)
	if lines[0].IsUDP() {
		threads = 1 // for sockets attached to a subscriber's loop; the lines have their own threads
	}
	ctx, err := newContext(threads)
	if err != nil {
		return nil, nil, Options{}, err
	}
	return ctx, lines, o, nil
}

// newContext makes a ZeroMQ context with one I/O thread per line, so each
// line's socket can be bound to its own thread (and that thread pinned to
// its own core).
func newContext(lines int) (*zmq.Context, error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("bus: new zmq context: %w", err)
	}
	if err := ctx.SetIoThreads(lines); err != nil {
		ctx.Term()
		return nil, fmt.Errorf("bus: zmq context with %d I/O threads: %w", lines, err)
	}
	// libzmq retries interrupted calls itself; Go's signals would
	// otherwise surface as EINTR from every blocking call.
	ctx.SetRetryAfterEINTR(true)
	return ctx, nil
}

// openSocket creates a socket of type t for line i, applies o and binds or
// connects it to e.
func openSocket(ctx *zmq.Context, t zmq.Type, e Endpoint, i int, o *Options) (*zmq.Socket, error) {
	s, err := ctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("line %s: new socket: %w", LineName(i), err)
	}
	if err := ConfigureSocket(s, t, e, i, o); err != nil {
		s.Close()
		return nil, fmt.Errorf("line %s (%s): %w", LineName(i), e, err)
	}
	// Publishers bind tcp and ipc endpoints and subscribers connect; for
	// pgm and epgm both sides connect, which joins the group.
	if (t == zmq.PUB || t == zmq.XPUB) && !e.Multicast() {
		err = s.Bind(e.String())
	} else {
		err = s.Connect(e.String())
	}
	if err != nil {
		s.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, zmq.Errno(syscall.EPERM)) {
			return nil, fmt.Errorf("line %s (%s): %w: %w", LineName(i), e, ErrPrivilege, err)
		}
		return nil, fmt.Errorf("line %s (%s): %w", LineName(i), e, err)
	}
	return s, nil
}

// ConfigureSocket applies o to a socket of type t for line i, exactly as
// feedbus's own sockets get it, so a baseline built on bare pebbe/zmq4
// (bench/cmd/barepair) measures the same settings.
func ConfigureSocket(s *zmq.Socket, t zmq.Type, e Endpoint, i int, o *Options) error {
	type setting struct {
		name string
		set  func() error
	}
	settings := []setting{
		// Bind the socket to I/O thread i (a bitmask of the context's
		// threads, not of CPUs).
		{"ZMQ_AFFINITY", func() error { return s.SetAffinity(1 << uint(i)) }},
		{"ZMQ_SNDBUF", func() error { return s.SetSndbuf(o.SendBuffer) }},
		{"ZMQ_RCVBUF", func() error { return s.SetRcvbuf(o.RecvBuffer) }},
		{"ZMQ_SNDHWM", func() error { return s.SetSndhwm(o.SendHWM) }},
		{"ZMQ_RCVHWM", func() error { return s.SetRcvhwm(o.RecvHWM) }},
		{"ZMQ_LINGER", func() error { return s.SetLinger(0) }},
	}
	if e.Multicast() {
		settings = append(settings,
			setting{"ZMQ_RATE", func() error { return s.SetRate(o.Rate) }},
			setting{"ZMQ_RECOVERY_IVL", func() error { return s.SetRecoveryIvl(o.RecoveryInterval) }},
			setting{"ZMQ_MULTICAST_HOPS", func() error { return s.SetMulticastHops(o.MulticastHops) }},
		)
	}
	switch t {
	case zmq.SUB:
		settings = append(settings, setting{"ZMQ_SUBSCRIBE", func() error { return s.SetSubscribe("") }})
	case zmq.XPUB:
		settings = append(settings, setting{"ZMQ_XPUB_NODROP", func() error { return s.SetXpubNodrop(true) }})
	}
	for _, st := range settings {
		if err := st.set(); err != nil {
			return fmt.Errorf("setting %s: %w", st.name, err)
		}
	}
	return nil
}

// isAgain reports whether err is ZeroMQ's "no message now".
func isAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}
