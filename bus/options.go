package bus

import (
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// Options are the socket settings of a Publisher or Subscriber. The
// defaults are feedbus's, not libzmq's: libzmq's 100 kbit/s PGM rate and
// kernel-default buffers cannot carry a market-data feed.
type Options struct {
	// Rate is the PGM send rate limit in kbit/s (ZMQ_RATE). It also sizes
	// the PGM transmit window with RecoveryInterval.
	Rate int
	// RecoveryInterval is how long PGM keeps data for repair (ZMQ_RECOVERY_IVL).
	RecoveryInterval time.Duration
	// MulticastHops is the multicast TTL (ZMQ_MULTICAST_HOPS).
	MulticastHops int
	// SendBuffer and RecvBuffer are the kernel socket buffers in bytes
	// (ZMQ_SNDBUF, ZMQ_RCVBUF); the kernel clamps them to
	// net.core.wmem_max and rmem_max.
	SendBuffer, RecvBuffer int
	// SendHWM and RecvHWM bound the frames queued in libzmq per socket.
	// A publisher's line past its HWM drops (and counts) or waits, as
	// OnFull says.
	SendHWM, RecvHWM int
	// Linger is how long a publisher's Close waits for frames still queued
	// in libzmq to go out (ZMQ_LINGER); subscribers close at once.
	Linger time.Duration
	// OnFull says what Send does when a line's queue is at its HWM.
	OnFull FullPolicy
	// Spin is how long a subscriber's Recv keeps polling without sleeping
	// after the last frame before it blocks: a busy-poll budget that
	// trades a CPU for the thread wake-up of each frame. 0, the default,
	// always blocks. Publishers ignore it.
	Spin time.Duration
	// MaxDatagram is the largest frame a udp:// line carries, one
	// datagram each: the path's UDP payload, 1472 bytes for an MTU of 1500
	// (9000-byte jumbo frames: 8972).
	MaxDatagram int
	// Loopback has a udp:// publisher's datagrams delivered to subscribers
	// on its own host too (IP_MULTICAST_LOOP); off by default.
	Loopback bool
	// LineCPUs pins each udp:// line's receive thread, in line order (-1
	// or a short list: unpinned), as Plan.IO pins ZeroMQ's I/O threads.
	LineCPUs []int
	// Logf receives warnings, such as buffers the kernel will clamp. Nil
	// discards them.
	Logf func(format string, args ...any)
}

// FullPolicy is what a publisher does with a frame for a line whose queue
// is full: PGM's rate limit or a slow TCP peer is holding it back.
type FullPolicy uint8

const (
	// Drop drops the frame for that line and counts it: the publisher
	// never waits, subscribers see a gap unless another line has the frame.
	Drop FullPolicy = iota
	// Block waits until the line takes the frame: nothing is lost, and the
	// publisher slows to what the line carries.
	Block
)

func (f FullPolicy) String() string {
	if f == Block {
		return "block"
	}
	return "drop"
}

// ParseFullPolicy parses "drop" or "block".
func ParseFullPolicy(s string) (FullPolicy, error) {
	switch s {
	case "drop":
		return Drop, nil
	case "block":
		return Block, nil
	}
	return 0, fmt.Errorf("%w: %q: want drop or block", ErrOption, s)
}

// WithOnFull sets what Send does when a line's queue is full.
func WithOnFull(f FullPolicy) Option {
	return func(o *Options) error {
		if f != Drop && f != Block {
			return fmt.Errorf("%w: full policy %d", ErrOption, f)
		}
		o.OnFull = f
		return nil
	}
}

// Defaults for Options.
const (
	DefaultRate             = 1_000_000 // kbit/s: 1 Gbit/s
	DefaultRecoveryInterval = 2 * time.Second
	DefaultMulticastHops    = 1
	DefaultBuffer           = 8 << 20
	DefaultSendHWM          = 10_000
	DefaultRecvHWM          = 10_000
	DefaultLinger           = 2 * time.Second
	// DefaultMaxDatagram is the UDP payload of a 1500-byte MTU path:
	// 1500 less a 20-byte IPv4 and an 8-byte UDP header.
	DefaultMaxDatagram = 1472
	// MaxDatagram bounds Options.MaxDatagram: a UDP payload over IPv4.
	MaxDatagram = 65507
)

// DefaultOptions returns feedbus's default socket settings.
func DefaultOptions() Options {
	return Options{
		Rate:             DefaultRate,
		RecoveryInterval: DefaultRecoveryInterval,
		MulticastHops:    DefaultMulticastHops,
		SendBuffer:       DefaultBuffer,
		RecvBuffer:       DefaultBuffer,
		SendHWM:          DefaultSendHWM,
		RecvHWM:          DefaultRecvHWM,
		Linger:           DefaultLinger,
		MaxDatagram:      DefaultMaxDatagram,
	}
}

// Option changes one setting and validates it.
type Option func(*Options) error

// WithRate sets the PGM rate limit in kbit/s.
func WithRate(kbps int) Option {
	return func(o *Options) error {
		if kbps <= 0 {
			return fmt.Errorf("%w: rate %d kbit/s must be positive", ErrOption, kbps)
		}
		o.Rate = kbps
		return nil
	}
}

// WithRecoveryInterval sets how long PGM keeps sent data for repairs.
func WithRecoveryInterval(d time.Duration) Option {
	return func(o *Options) error {
		if d < time.Millisecond || d > time.Hour {
			return fmt.Errorf("%w: recovery interval %v must be between 1ms and 1h", ErrOption, d)
		}
		o.RecoveryInterval = d
		return nil
	}
}

// WithMulticastHops sets the multicast TTL.
func WithMulticastHops(n int) Option {
	return func(o *Options) error {
		if n < 1 || n > 255 {
			return fmt.Errorf("%w: multicast hops %d must be 1-255", ErrOption, n)
		}
		o.MulticastHops = n
		return nil
	}
}

// WithBuffers sets the kernel send and receive buffer sizes in bytes.
func WithBuffers(send, recv int) Option {
	return func(o *Options) error {
		if send <= 0 || recv <= 0 {
			return fmt.Errorf("%w: socket buffers %d/%d must be positive", ErrOption, send, recv)
		}
		o.SendBuffer, o.RecvBuffer = send, recv
		return nil
	}
}

// WithHWM sets the send and receive high-water marks in frames.
func WithHWM(send, recv int) Option {
	return func(o *Options) error {
		if send <= 0 || recv <= 0 {
			return fmt.Errorf("%w: high-water marks %d/%d must be positive (0 would mean unbounded)", ErrOption, send, recv)
		}
		o.SendHWM, o.RecvHWM = send, recv
		return nil
	}
}

// WithLinger sets how long a publisher's Close waits for queued frames.
func WithLinger(d time.Duration) Option {
	return func(o *Options) error {
		if d < 0 {
			return fmt.Errorf("%w: linger %v must not be negative", ErrOption, d)
		}
		o.Linger = d
		return nil
	}
}

// WithSpin sets the subscriber's busy-poll budget, see Options.Spin.
func WithSpin(d time.Duration) Option {
	return func(o *Options) error {
		if d < 0 || d > time.Minute {
			return fmt.Errorf("%w: spin %v must be between 0 and 1m", ErrOption, d)
		}
		o.Spin = d
		return nil
	}
}

// WithMaxDatagram sets the largest frame a udp:// line carries (the
// path's UDP payload; HeaderLen + a message at least).
func WithMaxDatagram(n int) Option {
	return func(o *Options) error {
		if n < 128 || n > MaxDatagram {
			return fmt.Errorf("%w: max datagram %d bytes: want 128-%d (1472 for an MTU of 1500, 8972 for 9000)", ErrOption, n, MaxDatagram)
		}
		o.MaxDatagram = n
		return nil
	}
}

// WithLoopback has a udp:// publisher's datagrams reach its own host.
func WithLoopback(on bool) Option {
	return func(o *Options) error {
		o.Loopback = on
		return nil
	}
}

// WithLineCPUs pins the udp:// lines' receive threads, in line order.
func WithLineCPUs(cpus []int) Option {
	return func(o *Options) error {
		for _, c := range cpus {
			if c < -1 {
				return fmt.Errorf("%w: line CPU %d", ErrOption, c)
			}
		}
		o.LineCPUs = append([]int(nil), cpus...)
		return nil
	}
}

// WithLogf sends warnings to logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *Options) error {
		o.Logf = logf
		return nil
	}
}

func buildOptions(opts []Option) (Options, error) {
	o := DefaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// BufferWarnings says which requested buffers the kernel will clamp, and
// the sysctl that would let them through.
func BufferWarnings(send, recv int) []string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil // no /proc: no limit known, as when a sysctl cannot be read
	}
	return bufferWarnings(fs, send, recv)
}

// bufferWarnings reads the limits from the /proc of fs.
func bufferWarnings(fs procfs.FS, send, recv int) []string {
	var out []string
	for _, c := range []struct {
		name, sysctl string
		want         int
	}{{"send", "wmem_max", send}, {"receive", "rmem_max", recv}} {
		limit, err := fs.SysctlInts("net.core." + c.sysctl)
		if err != nil || len(limit) != 1 || c.want <= limit[0] {
			continue
		}
		out = append(out, fmt.Sprintf("%s buffer %d bytes is clamped to net.core.%s=%d; raise it with: sysctl -w net.core.%s=%d",
			c.name, c.want, c.sysctl, limit[0], c.sysctl, c.want))
	}
	return out
}
