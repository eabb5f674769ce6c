package feedbus

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

// SubscriberOption configures a Subscriber. Each checks its own value and
// Subscribe returns the first error, wrapping ErrOption.
type SubscriberOption func(*subscriberConfig) error

type subscriberConfig struct {
	gapWait      time.Duration
	gapWaitSet   bool
	rejoinAfter  time.Duration
	topics       [][]byte
	fanout       fanout.Config
	snail        snail.Config
	snailExit    bool
	events       func(Event)
	dictionaries [][]byte
	socket       []bus.Option
	plan         affinity.Plan
	count        uint64
	idle         time.Duration
	status       time.Duration
	onStatus     func(Status)
	expected     time.Duration
	capture      FrameRecorder
	threadName   string
	hlog         io.Writer
	hlogComment  string
	wallSkew     *atomic.Int64 // tests: added to every wall-clock reading
	maxSkew      time.Duration
	stream       uint32
	streamSet    bool
	restartAfter time.Duration
	maxJump      uint64
	keys         *auth.Keys
	authWindow   time.Duration
	codecs       []bus.Codec
	maxRatio     float64
	recovery     []string
	recoveryCfg  recovery.ClientConfig
	snapshot     bool
	holdBytes    int
	holdWait     time.Duration
}

// Subscriber defaults.
const (
	// DefaultGapWait is how long a hole waits for another line to fill it
	// when there is more than one line. With one line nothing can fill a
	// hole, and the wait is 0.
	DefaultGapWait = 100 * time.Millisecond
	// DefaultGapWaitUDP is the gap wait of udp:// lines, one or more: a
	// datagram the other line carries, or that came out of order, is
	// there within microseconds; PGM's lines wait for repairs instead.
	DefaultGapWaitUDP = time.Millisecond
	// DefaultRejoinAfter is how long a line may deliver nothing while
	// another line delivers before it is rejoined.
	DefaultRejoinAfter = time.Second
	// DefaultStatusEvery is the status interval.
	DefaultStatusEvery = time.Second
	// DefaultMaxJump is how far ahead of the next expected number a frame
	// of the followed session may start before it is refused as
	// implausible: more than a few frames' worth of loss on every line at
	// once, far less than a forged frame a million ahead.
	DefaultMaxJump = 1 << 16
	// DefaultMaxClockSkew is how far a frame's send time may be from the
	// receive time before it is counted as a bad stamp and kept out of
	// the latency and the snail.
	DefaultMaxClockSkew = time.Minute
)

func defaultSubscriberConfig() subscriberConfig {
	return subscriberConfig{
		rejoinAfter:  DefaultRejoinAfter,
		snail:        snail.DefaultConfig(),
		status:       DefaultStatusEvery,
		maxSkew:      DefaultMaxClockSkew,
		snapshot:     true,
		holdBytes:    DefaultHoldBytes,
		holdWait:     DefaultHoldWait,
		restartAfter: DefaultRestartAfter,
		maxJump:      DefaultMaxJump,
		maxRatio:     bus.DefaultMaxRatio,
		threadName:   "feedbus/recv",
	}
}

// FrameRecorder takes every frame the receive loop gets, on every line,
// with its receive time (ns since the epoch). Record must not block: the
// receive loop calls it (capture.Recorder is one). The frame is the
// recorder's to keep.
type FrameRecorder interface {
	Record(line int, recvTime int64, frame []byte) bool
}

// WithGapWait sets how long a hole in the sequence waits for another line
// to fill it before it is declared a gap (default: 0 with one line,
// DefaultGapWait with more).
func WithGapWait(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: gap wait %v is negative", ErrOption, d)
		}
		c.gapWait, c.gapWaitSet = d, true
		return nil
	}
}

// WithRejoinAfter sets how long a line may be silent while another line
// delivers before it is rejoined (0 never rejoins).
func WithRejoinAfter(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: rejoin-after %v is negative", ErrOption, d)
		}
		c.rejoinAfter = d
		return nil
	}
}

// WithTopics delivers only symbols starting with one of the prefixes.
// Sequencing still covers every message: filtering happens after it.
func WithTopics(prefixes ...string) SubscriberOption {
	return func(c *subscriberConfig) error {
		for _, t := range prefixes {
			if t == "" || len(t) > bus.MaxSymbolLen {
				return fmt.Errorf("%w: topic %q: want a symbol prefix of 1-%d bytes", ErrOption, t, bus.MaxSymbolLen)
			}
			c.topics = append(c.topics, []byte(t))
		}
		return nil
	}
}

// WithWorkers sets the number of worker goroutines the handler runs on,
// messages sharded by symbol (default: one per CPU that the pinned I/O
// and receive threads leave free, at least 1).
func WithWorkers(n int) SubscriberOption {
	return func(c *subscriberConfig) error {
		if n < 1 || n > fanout.MaxWorkers {
			return fmt.Errorf("%w: %d workers, want 1 to %d", ErrOption, n, fanout.MaxWorkers)
		}
		c.fanout.Workers = n
		return nil
	}
}

// WithQueue sets each worker's queue length in messages and what happens
// when it is full: fanout.Drop (counted) or fanout.Conflate (keep the
// newest quote and trade per symbol, counted).
func WithQueue(length int, overflow fanout.Policy) SubscriberOption {
	return func(c *subscriberConfig) error {
		c.fanout.QueueLen, c.fanout.Overflow = length, overflow
		if err := (fanout.Config{Workers: 1, QueueLen: length, Overflow: overflow}).Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrOption, err)
		}
		return nil
	}
}

// WithSimulatedWork makes the workers spend d per message before the
// handler (on the listed workers only, or all), for capacity planning.
func WithSimulatedWork(d time.Duration, workers ...int) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: work %v is negative", ErrOption, d)
		}
		c.fanout.Work, c.fanout.WorkOn = d, append([]int(nil), workers...)
		return nil
	}
}

// WithSnail sets the slow-subscriber detector's thresholds (default
// snail.DefaultConfig). Its verdicts are events; with exit true the
// subscriber also stops, and Err returns an error matching ErrSnail.
func WithSnail(cfg snail.Config, exit bool) SubscriberOption {
	return func(c *subscriberConfig) error {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrOption, err)
		}
		c.snail, c.snailExit = cfg, exit
		return nil
	}
}

// WithEvents calls fn for every event: session starts and ends, gaps,
// snail verdicts, line rejoins. fn runs on a goroutine of its own, never
// the receive loop; events it is too slow for are dropped and counted.
func WithEvents(fn func(Event)) SubscriberOption {
	return func(c *subscriberConfig) error { c.events = fn; return nil }
}

// WithStatus calls fn every interval with the feed's rate, counts and
// latency percentiles over the interval. fn runs on a goroutine of its
// own.
func WithStatus(every time.Duration, fn func(Status)) SubscriberOption {
	return func(c *subscriberConfig) error {
		if every <= 0 {
			return fmt.Errorf("%w: status interval %v must be positive", ErrOption, every)
		}
		c.status, c.onStatus = every, fn
		return nil
	}
}

// WithDictionaries gives the zstd dictionaries the publisher may compress
// with.
func WithDictionaries(dicts ...[]byte) SubscriberOption {
	return func(c *subscriberConfig) error { c.dictionaries = append(c.dictionaries, dicts...); return nil }
}

// WithSubscriberSockets passes socket settings (buffers, HWM, spin, warnings)
// to the lines; see package bus.
func WithSubscriberSockets(opts ...bus.Option) SubscriberOption {
	return func(c *subscriberConfig) error { c.socket = append(c.socket, opts...); return nil }
}

// WithPlacement pins the lines' I/O threads, the receive loop and the
// workers as plan says (see package affinity).
func WithPlacement(plan affinity.Plan) SubscriberOption {
	return func(c *subscriberConfig) error { c.plan = plan; return nil }
}

// WithCount stops the subscriber after n messages delivered.
func WithCount(n uint64) SubscriberOption {
	return func(c *subscriberConfig) error { c.count = n; return nil }
}

// WithIdle stops the subscriber after d without data (heartbeats are not
// data), counted from the start until the first message.
func WithIdle(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: idle %v is negative", ErrOption, d)
		}
		c.idle = d
		return nil
	}
}

// WithExpectedInterval also reports latency corrected for coordinated
// omission, given the publisher's interval between messages (1/rate).
func WithExpectedInterval(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: expected interval %v is negative", ErrOption, d)
		}
		c.expected = d
		return nil
	}
}

// WithCapture hands every received frame to r (see package capture).
func WithCapture(r FrameRecorder) SubscriberOption {
	return func(c *subscriberConfig) error { c.capture = r; return nil }
}

// WithThreadName names the receive loop's OS thread (top -H, perf);
// default "feedbus/recv".
func WithThreadName(name string) SubscriberOption {
	return func(c *subscriberConfig) error { c.threadName = name; return nil }
}

// WithLatencyLog writes the latency of every status interval to w as an
// HdrHistogram interval log (.hlog, values in ns), with comment in its
// header. The subscriber flushes nothing: w is the caller's to buffer and
// close after Close.
func WithLatencyLog(w io.Writer, comment string) SubscriberOption {
	return func(c *subscriberConfig) error { c.hlog, c.hlogComment = w, comment; return nil }
}

// WithMaxClockSkew sets how far a frame's send time may be from the
// receive time (either way) before the stamp is taken as wrong: such a
// frame's messages are delivered, with the receive time as their send
// time, but kept out of the latency histograms and the snail, and counted
// in bad_stamps. One frame stamped an hour off would otherwise poison the
// snail's baseline for the rest of the run. 0 accepts any stamp.
func WithMaxClockSkew(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: clock skew %v is negative", ErrOption, d)
		}
		c.maxSkew = d
		return nil
	}
}

// WithFollowStream follows stream id only (default: the first stream heard).
// Frames of any other stream are foreign: counted per line, never
// delivered.
func WithFollowStream(id uint32) SubscriberOption {
	return func(c *subscriberConfig) error { c.stream, c.streamSet = id, true; return nil }
}

// WithRestartAfter sets how long the followed session must be silent
// before a new session of its stream is taken as its publisher's restart
// (default DefaultRestartAfter). A new session that starts at sequence
// number 1 is taken after 50 ms of silence; one that follows a clean end
// at once. Until then a new session's frames are foreign.
func WithRestartAfter(d time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: restart-after %v must be positive", ErrOption, d)
		}
		c.restartAfter = d
		return nil
	}
}

// WithMaxJump sets how far ahead of the next expected number a frame of
// the followed session may start (default DefaultMaxJump). A frame further
// ahead is refused and counted as implausible, until such frames have come
// alone, with nothing plausible between them, for 200 ms: then the feed
// really has moved on (a publisher that dropped, lines that were down),
// and the jump is a gap. 0 accepts any jump.
func WithMaxJump(n uint64) SubscriberOption {
	return func(c *subscriberConfig) error { c.maxJump = n; return nil }
}

// WithVerifying refuses every frame not signed with one of keys (see package
// auth), and every signed frame whose send time is further than window
// from the receive time, so old frames cannot be replayed (0 turns that
// check off, for replays of captures). Refused frames are counted per line
// in auth_failed and never decoded, inflated or sequenced.
func WithVerifying(keys *auth.Keys, window time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if keys == nil {
			return fmt.Errorf("%w: no keys", ErrOption)
		}
		if window < 0 {
			return fmt.Errorf("%w: auth window %v is negative", ErrOption, window)
		}
		c.keys, c.authWindow = keys, window
		return nil
	}
}

// WithCodecs inflates frames compressed with these codecs; any other
// compressed frame is refused as malformed without being inflated. By
// default a subscriber inflates nothing (WithDictionaries adds zstd): a
// feed it was not told to expect compressed cannot make it inflate.
func WithCodecs(codecs ...bus.Codec) SubscriberOption {
	return func(c *subscriberConfig) error {
		for _, k := range codecs {
			if k != bus.CodecNone && k != bus.CodecS2 && k != bus.CodecZstd {
				return fmt.Errorf("%w: codec %v", ErrOption, k)
			}
		}
		c.codecs = append([]bus.Codec(nil), codecs...)
		return nil
	}
}

// WithMaxRatio refuses a compressed body that declares more than r times
// its own size inflated (default bus.DefaultMaxRatio; 0 = no cap).
func WithMaxRatio(r float64) SubscriberOption {
	return func(c *subscriberConfig) error {
		if r != 0 && !(r >= 1) {
			return fmt.Errorf("%w: ratio cap %v: want 0 or at least 1", ErrOption, r)
		}
		c.maxRatio = r
		return nil
	}
}
