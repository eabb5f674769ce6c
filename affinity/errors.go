package affinity

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (or
// an error from the OS) and add the detail after a colon, so test them
// with errors.Is.
var (
	// ErrNotSupported is returned on systems without sched_setaffinity,
	// /proc and sysfs. It also matches errors.ErrUnsupported.
	ErrNotSupported = fmt.Errorf("affinity: %w", errors.ErrUnsupported)

	// ErrInvalidCPUList means a cpu list such as "0-3,8" could not be parsed.
	ErrInvalidCPUList = errors.New("affinity: invalid cpu list")

	// ErrCPUOutOfRange means a CPU number is negative or not below MaxCPUs.
	ErrCPUOutOfRange = errors.New("affinity: cpu number out of range")

	// ErrCPUNotOnline means a CPU to pin to does not exist or is offline.
	ErrCPUNotOnline = errors.New("affinity: cpu not online")

	// ErrEmptySet means an affinity mask with no CPUs was requested.
	ErrEmptySet = errors.New("affinity: empty cpu set")

	// ErrIOThreadsNotRunning means fewer libzmq I/O threads exist than
	// CPUs were given to pin them to.
	ErrIOThreadsNotRunning = errors.New("affinity: libzmq I/O threads not running")

	// ErrUnknownKey means a profile file has a key this package does not know.
	ErrUnknownKey = errors.New("affinity: unknown profile key")

	// ErrInvalidProfile means a profile key has a value of the wrong kind.
	ErrInvalidProfile = errors.New("affinity: invalid profile")

	// ErrMainThread is returned by NameCurrentThread on the process's main
	// thread: its name is the process's name in ps, top and kill -l.
	ErrMainThread = errors.New("affinity: the main thread names the process")
)
