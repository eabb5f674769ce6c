package fanout

import (
	"errors"
	"fmt"
	"time"

	"github.com/feedbus/feedbus/snail"
)

// Defaults and limits, see Config.
const (
	// DefaultQueueLen is the per-worker queue length used when
	// Config.QueueLen is 0: 1.5 MiB of items, about 20 ms of a worker's
	// share of 1.6M msg/s over two workers, enough to ride out a worker
	// descheduled for a few time slices on a busy host.
	DefaultQueueLen = 16384
	// DefaultBodyBytes is the per-worker body ring used when
	// Config.BodyBytes is 0: room for the bodies of a full default queue
	// of 64-byte application messages.
	DefaultBodyBytes = 1 << 20
	// MaxBodyBytes bounds Config.BodyBytes.
	MaxBodyBytes = 1 << 30
	// MaxWorkers bounds Config.Workers.
	MaxWorkers = 1024
	// MaxQueueLen bounds Config.QueueLen: 16M messages of 112 bytes is
	// 1.75 GiB per worker, far beyond any sane queue.
	MaxQueueLen = 1 << 24
	// spinLimit: a simulated Work shorter than this spins, a longer one
	// sleeps (a sleep's wake-up jitter would dwarf a short cost).
	spinLimit = 50 * time.Microsecond
)

// Errors returned by Config.Validate (wrapped with the offending value)
// and by ParsePolicy. Test with errors.Is.
var (
	ErrWorkers  = errors.New("fanout: Workers must be between 1 and 1024")
	ErrQueueLen = errors.New("fanout: QueueLen must be between 1 and 16777216, or 0 for the default 16384")
	ErrPolicy   = errors.New("fanout: unknown overflow policy (want \"drop\" or \"conflate\")")
	ErrWork     = errors.New("fanout: Work must not be negative")
	ErrPinCPUs  = errors.New("fanout: PinCPUs must be empty or name one CPU per worker")
	ErrBodyRing = errors.New("fanout: BodyBytes must be between 0 (the default 1 MiB) and 1 GiB")
)

// Policy says what Dispatch does with a message whose worker queue is full.
type Policy uint8

const (
	// Drop discards the message and counts it in WorkerStats.Dropped; the
	// worker reports the drops to its snail probe. It is the zero value.
	Drop Policy = iota
	// Conflate keeps, per symbol, only the newest quote and the newest
	// trade in a side slot the worker applies after its queue; an update
	// that overwrites a pending one is counted in WorkerStats.Conflated.
	Conflate
)

// String returns "drop" or "conflate".
func (p Policy) String() string {
	switch p {
	case Drop:
		return "drop"
	case Conflate:
		return "conflate"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy parses "drop" or "conflate".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "drop":
		return Drop, nil
	case "conflate":
		return Conflate, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrPolicy, s)
}

// MarshalText makes Policy print by name in JSON and work with flag.TextVar.
func (p Policy) MarshalText() ([]byte, error) {
	if p > Conflate {
		return nil, fmt.Errorf("%w: %d", ErrPolicy, uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText is the inverse of MarshalText.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Config configures a Fanout. Only Workers must be set; the zero value of
// every other field is a usable default.
type Config struct {
	// Workers is the number of worker goroutines; symbols are sharded
	// over them by FNV-1a hash (see Shard).
	Workers int
	// QueueLen is each worker's queue capacity in messages; 0 means
	// DefaultQueueLen. The queues are allocated in full by New.
	QueueLen int
	// Overflow is what happens to a message whose worker queue is full.
	Overflow Policy
	// Work is a simulated cost per message, for tests and capacity
	// planning: under 50µs the worker spins, from 50µs on it sleeps.
	Work time.Duration
	// WorkOn limits Work to these workers; empty means every worker. One
	// slow worker among fast ones is the case the bounded queues exist for.
	WorkOn []int
	// PinCPUs, if not empty, pins worker i's OS thread to CPU PinCPUs[i];
	// it must then have exactly Workers entries.
	PinCPUs []int
	// Handler is called by the workers for every message they take; nil
	// discards them (counted as processed). See Handler for its rules.
	Handler Handler
	// BodyBytes is each worker's ring for application kinds' bodies, in
	// bytes; 0 means DefaultBodyBytes. A message whose body does not fit
	// is dropped (or conflated, for quotes and trades, which have none)
	// as if the queue were full.
	BodyBytes int
	// Detector, if set, gets one probe per worker, named "worker <i>".
	Detector *snail.Detector
	// Now is the clock workers read when they take a message, ns since
	// the Unix epoch (the clock the publisher stamps frames with). Nil
	// means time.Now().UnixNano.
	Now func() int64
}

// Validate reports the first invalid field, wrapping one of the Err values.
func (c Config) Validate() error {
	if c.Workers < 1 || c.Workers > MaxWorkers {
		return fmt.Errorf("%w (got %d)", ErrWorkers, c.Workers)
	}
	if c.QueueLen < 0 || c.QueueLen > MaxQueueLen {
		return fmt.Errorf("%w (got %d)", ErrQueueLen, c.QueueLen)
	}
	if c.BodyBytes < 0 || c.BodyBytes > MaxBodyBytes {
		return fmt.Errorf("%w (got %d)", ErrBodyRing, c.BodyBytes)
	}
	if c.Overflow > Conflate {
		return fmt.Errorf("%w: %d", ErrPolicy, uint8(c.Overflow))
	}
	if c.Work < 0 {
		return fmt.Errorf("%w (got %v)", ErrWork, c.Work)
	}
	for _, i := range c.WorkOn {
		if i < 0 || i >= c.Workers {
			return fmt.Errorf("%w (WorkOn names worker %d of %d)", ErrWork, i, c.Workers)
		}
	}
	if len(c.PinCPUs) != 0 && len(c.PinCPUs) != c.Workers {
		return fmt.Errorf("%w (got %d CPUs for %d workers)", ErrPinCPUs, len(c.PinCPUs), c.Workers)
	}
	for i, cpu := range c.PinCPUs {
		if cpu < 0 {
			return fmt.Errorf("%w (PinCPUs[%d] is %d)", ErrPinCPUs, i, cpu)
		}
	}
	return nil
}

func (c Config) queueLen() int {
	if c.QueueLen == 0 {
		return DefaultQueueLen
	}
	return c.QueueLen
}

func (c Config) bodyBytes() int {
	if c.BodyBytes == 0 {
		return DefaultBodyBytes
	}
	return c.BodyBytes
}

// defaultHandler, when set (by this package's tests), makes the Handler of
// a Config that names none.
var defaultHandler func() Handler
