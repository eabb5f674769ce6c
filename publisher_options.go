package feedbus

import (
	"fmt"
	"time"

	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
)

// PublisherOption configures a Publisher. Each checks its own value and
// NewPublisher returns the first error, wrapping ErrOption.
type PublisherOption func(*publisherConfig) error

type publisherConfig struct {
	frameBytes  int
	maxDelay    time.Duration
	manualFlush bool
	heartbeat   time.Duration
	linger      time.Duration
	stream      uint32
	session     uint64
	codec       bus.Codec
	dictionary  []byte
	ioCPUs      []int
	keys        *auth.Keys
	socket      []bus.Option
}

// Publisher defaults.
const (
	// DefaultFrameBytes keeps a frame inside one PGM TPDU (and one
	// Ethernet MTU): a lost packet then costs one frame, not several.
	DefaultFrameBytes = 1400
	// DefaultMaxDelay is the longest a message waits in a frame for more
	// to join it.
	DefaultMaxDelay = 50 * time.Microsecond
	// DefaultHeartbeat is how long a publisher stays silent before it
	// sends a heartbeat.
	DefaultHeartbeat = 500 * time.Millisecond
	// DefaultLinger is how long Close keeps heartbeating so subscribers
	// can repair the tail of the feed, and then how long it waits at most
	// for queued frames to leave.
	DefaultLinger = 2 * time.Second
)

func defaultPublisherConfig() publisherConfig {
	return publisherConfig{
		frameBytes: DefaultFrameBytes,
		maxDelay:   DefaultMaxDelay,
		heartbeat:  DefaultHeartbeat,
		linger:     DefaultLinger,
		stream:     1,
	}
}

// WithFrameBytes sets the frame budget: messages are batched into frames of
// up to n bytes, header included. A message larger than the budget goes
// alone in a frame of its own.
func WithFrameBytes(n int) PublisherOption {
	return func(c *publisherConfig) error {
		if n < bus.HeaderLen+64 || n > bus.MaxFrameLen {
			return fmt.Errorf("%w: frame budget %d bytes, want %d to %d", ErrOption, n, bus.HeaderLen+64, bus.MaxFrameLen)
		}
		c.frameBytes = n
		return nil
	}
}

// WithMaxDelay bounds how long a message waits in a frame for more to join
// it before the publisher's flusher sends the frame. 0 sends every
// Publish at once, one message a frame.
func WithMaxDelay(d time.Duration) PublisherOption {
	return func(c *publisherConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: max delay %v is negative", ErrOption, d)
		}
		c.maxDelay = d
		return nil
	}
}

// WithManualFlush leaves sending a partial frame to the caller: frames go
// out when full or on Flush, never by timer. A paced publisher that knows
// when its next message is due flushes better than a timer can.
// Heartbeats still go out while idle.
func WithManualFlush() PublisherOption {
	return func(c *publisherConfig) error { c.manualFlush = true; return nil }
}

// WithHeartbeat sets how long the publisher may be silent before it sends
// a heartbeat, which carries the next sequence number.
func WithHeartbeat(d time.Duration) PublisherOption {
	return func(c *publisherConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: heartbeat %v must be positive", ErrOption, d)
		}
		c.heartbeat = d
		return nil
	}
}

// WithLinger sets how long Close keeps heartbeating so that subscribers can
// repair losses at the tail of the feed, and then how long it waits at most
// for frames still queued in libzmq. 0 closes at once and may drop queued
// frames.
func WithLinger(d time.Duration) PublisherOption {
	return func(c *publisherConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: linger %v is negative", ErrOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithStream sets the stream id written in every frame (default 1).
func WithStream(id uint32) PublisherOption {
	return func(c *publisherConfig) error { c.stream = id; return nil }
}

// WithSession sets the session id instead of a random one. A session id
// must be new on every start, or subscribers take the restart for
// duplicates; tests and replays of a known session use this.
func WithSession(id uint64) PublisherOption {
	return func(c *publisherConfig) error {
		if id == 0 {
			return fmt.Errorf("%w: session id 0", ErrOption)
		}
		c.session = id
		return nil
	}
}

// WithCompression compresses frame bodies with codec; dictionary, for zstd
// only, may be nil (see bus.TrainDictionary). Subscribers need the same
// dictionary.
func WithCompression(codec bus.Codec, dictionary []byte) PublisherOption {
	return func(c *publisherConfig) error {
		if _, err := bus.NewCompressor(codec, dictionary); err != nil {
			return fmt.Errorf("%w: %w", ErrOption, err)
		}
		c.codec, c.dictionary = codec, dictionary
		return nil
	}
}

// WithIOCPUs pins line i's ZeroMQ I/O thread to cpus[i]: one CPU per line,
// in line order.
func WithIOCPUs(cpus ...int) PublisherOption {
	return func(c *publisherConfig) error {
		c.ioCPUs = append([]int(nil), cpus...)
		return nil
	}
}

// WithPublisherSockets passes socket settings (PGM rate, buffers, HWM, full
// policy, warnings) to the lines; see package bus. WithLinger's value
// bounds the socket linger too.
func WithPublisherSockets(opts ...bus.Option) PublisherOption {
	return func(c *publisherConfig) error {
		c.socket = append(c.socket, opts...)
		return nil
	}
}

// WithSigning signs every frame, heartbeats included, with the key file's
// signing key (see package auth): a subscriber with the same keys refuses
// whatever is not signed by one of them. Each frame grows by
// auth.TrailerLen bytes, taken from the frame budget.
func WithSigning(keys *auth.Keys) PublisherOption {
	return func(c *publisherConfig) error {
		if _, err := auth.NewSigner(keys); err != nil {
			return fmt.Errorf("%w: %w", ErrOption, err)
		}
		c.keys = keys
		return nil
	}
}
