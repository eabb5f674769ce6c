package cache

import "errors"

// Errors of New and Close. Each error New returns wraps one of them (test
// with errors.Is) and reads as one line: the option or endpoint at fault,
// then the cause. Errors from joining the lines come from package feedbus
// and package bus unchanged, and match their sentinels.
var (
	// ErrOption: an option's value is out of range or inconsistent, or
	// a required one (WithListen) is missing.
	ErrOption = errors.New("cache: bad option")
	// ErrListen: a --listen endpoint could not be bound (address in use,
	// no such directory for an ipc:// path, ...).
	ErrListen = errors.New("cache: cannot listen")
	// ErrSocket: ZeroMQ failed outside binding: creating the context or
	// the socket, setting an option, or polling.
	ErrSocket = errors.New("cache: socket error")
)
