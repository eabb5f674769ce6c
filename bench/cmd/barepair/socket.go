package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/feedbus/feedbus/bus"
	zmq "github.com/pebbe/zmq4"
)

// resolve parses s and turns an interface name into its address, as feedbus
// does, since libpgm accepts only addresses.
func resolve(s string) (bus.Endpoint, error) {
	e, err := bus.ParseEndpoint(s)
	if err != nil {
		return bus.Endpoint{}, err
	}
	r, err := e.Resolve()
	if err != nil {
		return bus.Endpoint{}, fmt.Errorf("endpoint %s: %w", s, err)
	}
	return r, nil
}

// socket is a ZeroMQ socket with its own context, set up as feedbus sets up
// the socket of a one-line Publisher or Subscriber.
type socket struct {
	ctx  *zmq.Context
	sock *zmq.Socket
}

// open makes a context with one I/O thread and a socket of type t on it,
// applies o and binds or connects to e. The settings, their order and the
// context options mirror bus.NewPublisher and bus.NewSubscriber for line A,
// so the pair differs from feedbus only in what it sends, and in that its
// publisher is a plain PUB, which drops silently at the high-water mark,
// where feedbus's is an XPUB with ZMQ_XPUB_NODROP, which lets feedpub see
// a full line and count (or wait for) the frames it cannot queue.
func open(t zmq.Type, e bus.Endpoint, o *bus.Options) (*socket, error) {
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("new zmq context: %w", err)
	}
	if err := zctx.SetIoThreads(1); err != nil {
		zctx.Term()
		return nil, fmt.Errorf("zmq context with 1 I/O thread: %w", err)
	}
	zctx.SetRetryAfterEINTR(true)
	s := &socket{ctx: zctx}
	if s.sock, err = zctx.NewSocket(t); err != nil {
		s.close()
		return nil, fmt.Errorf("new socket: %w", err)
	}
	if err := bus.ConfigureSocket(s.sock, t, e, 0, o); err != nil { // line A: I/O thread 0
		s.close()
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	if t == zmq.PUB && !e.Multicast() {
		err = s.sock.Bind(e.String())
	} else {
		err = s.sock.Connect(e.String())
	}
	if err != nil {
		s.close()
		if errors.Is(err, zmq.Errno(syscall.EPERM)) {
			return nil, fmt.Errorf("%s: %w: %w", e, bus.ErrPrivilege, err)
		}
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return s, nil
}

func (s *socket) close() error {
	var errs error
	if s.sock != nil {
		errs = errors.Join(errs, s.sock.Close())
	}
	return errors.Join(errs, s.ctx.Term())
}

// isAgain reports whether err is ZeroMQ's "not now".
func isAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}
