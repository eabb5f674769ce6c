package cache

import (
	"fmt"
	"strings"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
)

// Option configures a Server. Each checks its own value; New returns the
// first error, wrapping ErrOption.
type Option func(*config) error

// Validate checks o's value alone, as New would: a main can name the
// flag at fault before it starts anything.
func (o Option) Validate() error {
	c := defaultConfig()
	return o(&c)
}

// Defaults. docs/recovery.md gives the memory they add up to.
const (
	// DefaultHistoryCount bounds the messages held for retransmission.
	DefaultHistoryCount = 1_000_000
	// DefaultHistoryBytes bounds their encoded bytes.
	DefaultHistoryBytes = 256 << 20
	// DefaultHistoryAge bounds how long a message is held, on the
	// monotonic clock: past the PGM window and any sensible gap wait,
	// short of serving yesterday's market.
	DefaultHistoryAge = 5 * time.Minute
	// DefaultMaxSymbols caps the books, as feedsub's --max-symbols does.
	DefaultMaxSymbols = 100_000
	// DefaultMaxAppKinds caps the application kinds kept per symbol.
	DefaultMaxAppKinds = 8
	// DefaultMaxAppBytes caps the bodies of the application kinds' last
	// messages, all symbols together.
	DefaultMaxAppBytes = 64 << 20
	// DefaultMaxRetransmit is the most messages one retransmission
	// request is served; the client asks again from Next. CME's replay
	// serves at most 2,000 packets a request.
	DefaultMaxRetransmit = 10_000
	// DefaultMaxRequests caps the requests in progress at once, all
	// clients together; beyond it a request is answered CodeBusy.
	DefaultMaxRequests = 16
	// DefaultClientTimeout is how long a client may leave its replies
	// unread (every send refused by its full queue) before the rest of
	// its replies are dropped.
	DefaultClientTimeout = 5 * time.Second
	// DefaultSendHWM is the ROUTER's send high-water mark: reply messages
	// queued in ZeroMQ per client before a send is refused (EAGAIN) and
	// the client is parked. 16 × 64 KiB bounds ZeroMQ's share per client.
	DefaultSendHWM = 16
	// DefaultFeedQueue is the cache's subscriber worker queue, deeper than
	// feedsub's: a snapshot holds the handler for about 25 ms per 100,000
	// symbols (25,000 messages of a 1M msg/s feed), and the queue must
	// not overflow meanwhile.
	DefaultFeedQueue = 1 << 18
)

// Bounds the options check against.
const (
	// MinHistoryBytes is the smallest history arena: two messages of
	// bus.MaxMessageLen must fit.
	MinHistoryBytes  = 2 << 16
	maxHistoryCount  = 1 << 30 // the arena's index holds 32-bit slots
	maxHistoryBytes  = 1 << 40
	maxSymbolsLimit  = 1 << 24
	maxRequestsLimit = 1 << 16
	maxRetransmitCap = 1 << 24
	maxSendHWM       = 1 << 20
	// perClientRequests caps one client's requests in progress, so that
	// one client (one DEALER identity) cannot take every slot of
	// maxRequests from the others. recovery.Client has one at a time.
	perClientRequests = 4
)

type config struct {
	listen        []string
	stream        uint32
	streamSet     bool
	subOpts       []feedbus.SubscriberOption
	keys          *auth.Keys
	historyCount  int
	historyBytes  int64
	historyAge    time.Duration
	maxSymbols    int
	maxAppKinds   int
	maxAppBytes   int64
	maxRetransmit int
	maxRequests   int
	clientTimeout time.Duration
	sendHWM       int
	partial       bool
	events        func(feedbus.Event)
	logf          func(format string, args ...any)
}

func defaultConfig() config {
	return config{
		historyCount:  DefaultHistoryCount,
		historyBytes:  DefaultHistoryBytes,
		historyAge:    DefaultHistoryAge,
		maxSymbols:    DefaultMaxSymbols,
		maxAppKinds:   DefaultMaxAppKinds,
		maxAppBytes:   DefaultMaxAppBytes,
		maxRetransmit: DefaultMaxRetransmit,
		maxRequests:   DefaultMaxRequests,
		clientTimeout: DefaultClientTimeout,
		sendHWM:       DefaultSendHWM,
		logf:          func(string, ...any) {},
	}
}

// WithListen binds the server's ROUTER socket to each endpoint:
// tcp://HOST:PORT (port * for any), ipc://PATH or inproc://NAME. At least
// one is required. Server.Endpoints tells the bound addresses.
func WithListen(endpoints ...string) Option {
	return func(c *config) error {
		for _, e := range endpoints {
			scheme, rest, ok := strings.Cut(e, "://")
			if !ok || rest == "" || (scheme != "tcp" && scheme != "ipc" && scheme != "inproc") {
				return fmt.Errorf("%w: listen endpoint %q: want tcp://HOST:PORT, ipc://PATH or inproc://NAME", ErrOption, e)
			}
			c.listen = append(c.listen, e)
		}
		return nil
	}
}

// WithStream follows stream id only (feedbus.WithFollowStream), and
// answers requests for any other stream CodeUnknownStream from the start.
// Without it the cache follows the first stream it hears.
func WithStream(id uint32) Option {
	return func(c *config) error { c.stream, c.streamSet = id, true; return nil }
}

// WithSubscriberOptions passes options to the cache's subscriber: socket
// settings, WithVerifying, WithCodecs, WithDictionaries, WithGapWait,
// WithRecovery (the other servers of the feed: a cache that joins a
// session mid-way then takes its state from their snapshot, and fills
// what every line missed from them) and the like. The cache sets WithWorkers(1) (its handler must see the
// messages in sequence order), WithEvents and WithStatus after them, so
// those three cannot be changed (see WithEvents); it sets
// WithQueue(DefaultFeedQueue, fanout.Drop) before them, so that one can.
// WithTopics would leave holes in the history and the books: do not.
func WithSubscriberOptions(opts ...feedbus.SubscriberOption) Option {
	return func(c *config) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: nil subscriber option", ErrOption)
			}
		}
		c.subOpts = append(c.subOpts, opts...)
		return nil
	}
}

// WithSigning signs every retransmitted frame with the key keys names for
// signing, so that a subscriber that verifies (--auth-key) accepts them.
// Pass the same keys to the subscriber (feedbus.WithVerifying through
// WithSubscriberOptions) to verify the feed itself.
func WithSigning(keys *auth.Keys) Option {
	return func(c *config) error {
		if keys == nil {
			return fmt.Errorf("%w: signing: no keys", ErrOption)
		}
		if _, err := auth.NewSigner(keys); err != nil {
			return fmt.Errorf("%w: signing: %w", ErrOption, err)
		}
		c.keys = keys
		return nil
	}
}

// WithHistoryCount bounds the messages held for retransmission (default
// DefaultHistoryCount); the oldest go first.
func WithHistoryCount(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxHistoryCount {
			return fmt.Errorf("%w: history count %d: want 1 to %d", ErrOption, n, maxHistoryCount)
		}
		c.historyCount = n
		return nil
	}
}

// WithHistoryBytes bounds the bytes of the messages held (default
// DefaultHistoryBytes, at least MinHistoryBytes); the oldest go first.
func WithHistoryBytes(n int64) Option {
	return func(c *config) error {
		if n < MinHistoryBytes || n > maxHistoryBytes {
			return fmt.Errorf("%w: history bytes %d: want %d to %d", ErrOption, n, MinHistoryBytes, int64(maxHistoryBytes))
		}
		c.historyBytes = n
		return nil
	}
}

// WithHistoryAge bounds how long a message is held (default
// DefaultHistoryAge), measured on the monotonic clock from its arrival.
func WithHistoryAge(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: history age %v must be positive", ErrOption, d)
		}
		c.historyAge = d
		return nil
	}
}

// WithMaxSymbols caps the symbols with books, and separately the symbols
// with application kinds' last messages (default DefaultMaxSymbols).
// Messages of further symbols are still held for retransmission, but not
// in any snapshot; they are counted (Stats.SymbolsRefused).
func WithMaxSymbols(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxSymbolsLimit {
			return fmt.Errorf("%w: max symbols %d: want 1 to %d", ErrOption, n, maxSymbolsLimit)
		}
		c.maxSymbols = n
		return nil
	}
}

// WithMaxAppKinds caps the application kinds whose last message is kept
// per symbol (default DefaultMaxAppKinds); further kinds are counted
// (Stats.AppRefused).
func WithMaxAppKinds(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 256-int(bus.KindAppFirst) {
			return fmt.Errorf("%w: max app kinds %d: want 1 to %d", ErrOption, n, 256-int(bus.KindAppFirst))
		}
		c.maxAppKinds = n
		return nil
	}
}

// WithMaxAppBytes caps the bodies kept as application kinds' last
// messages, all together (default DefaultMaxAppBytes). A body that would
// pass it is not kept, and the kind's older one is dropped with it, so a
// snapshot never serves a value that is known to be stale.
func WithMaxAppBytes(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max app bytes %d is negative", ErrOption, n)
		}
		c.maxAppBytes = n
		return nil
	}
}

// WithMaxRetransmit sets the most messages one retransmission request is
// served (default DefaultMaxRetransmit): past it the reply ends Limited,
// with the next number to ask for.
func WithMaxRetransmit(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxRetransmitCap {
			return fmt.Errorf("%w: max retransmit %d: want 1 to %d", ErrOption, n, maxRetransmitCap)
		}
		c.maxRetransmit = n
		return nil
	}
}

// WithMaxRequests caps the requests in progress at once (default
// DefaultMaxRequests); a request beyond it is answered CodeBusy, and the
// client asks the other server.
func WithMaxRequests(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxRequestsLimit {
			return fmt.Errorf("%w: max requests %d: want 1 to %d", ErrOption, n, maxRequestsLimit)
		}
		c.maxRequests = n
		return nil
	}
}

// WithClientTimeout sets how long a client may leave its replies unread
// before the rest of them are dropped (default DefaultClientTimeout).
func WithClientTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: client timeout %v must be positive", ErrOption, d)
		}
		c.clientTimeout = d
		return nil
	}
}

// WithSendHWM sets the ROUTER's send high-water mark in reply messages
// per client (default DefaultSendHWM).
func WithSendHWM(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxSendHWM {
			return fmt.Errorf("%w: send HWM %d: want 1 to %d", ErrOption, n, maxSendHWM)
		}
		c.sendHWM = n
		return nil
	}
}

// WithPartialSnapshots serves snapshots even when the cache joined its
// session after the session's start: its books then lack what came before
// (Messages, Volume and VWAP count only what it saw). By default such a
// cache answers snapshot requests CodeNotReady, so the client asks
// another server, and serves retransmissions only.
func WithPartialSnapshots(on bool) Option {
	return func(c *config) error { c.partial = on; return nil }
}

// WithEvents calls fn with every event of the cache's subscriber (session
// start and end, gaps, snail verdicts, rejoins), on the subscriber's event
// goroutine. The cache needs the subscriber's events itself, so this is
// the way to see them.
func WithEvents(fn func(feedbus.Event)) Option {
	return func(c *config) error { c.events = fn; return nil }
}

// WithLogf sets where the server says what an operator should know: a
// session joined after its start, so that snapshots are refused. One line
// per call, from the subscriber's worker, outside the feed's mutex;
// default: nowhere.
func WithLogf(fn func(format string, args ...any)) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: nil log function", ErrOption)
		}
		c.logf = fn
		return nil
	}
}
