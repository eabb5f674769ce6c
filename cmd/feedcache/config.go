package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/cache"
	"github.com/feedbus/feedbus/internal/cli"
)

type config struct {
	lines         cli.Strings
	listen        cli.Strings
	peers         cli.Strings
	stream        int64
	authKey       string
	authWin       time.Duration
	codecs        string
	dicts         cli.Strings
	maxRatio      float64
	gapFlag       cli.AutoDuration
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
	status        time.Duration
	json          string
	duration      time.Duration
	socket        cli.Socket
	metrics       cli.Metrics
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("feedcache", flag.ContinueOnError)
	fs.Var(&c.lines, "line", "line endpoint to join, repeatable: epgm://IFACE;GROUP:PORT, pgm://..., tcp://HOST:PORT or ipc://PATH")
	fs.Var(&c.listen, "listen", "endpoint to serve recovery requests on, repeatable (at least one): tcp://HOST:PORT, ipc://PATH")
	fs.Var(&c.peers, "peer", "another recovery server of the same feed (its --listen), repeatable, tried in order: joining a session mid-way, this cache takes its state from a peer's snapshot, and it fills what every line missed from a peer")
	fs.Int64Var(&c.stream, "stream", -1, "follow this stream id only, and refuse requests for others (default: the first stream heard)")
	fs.StringVar(&c.authKey, "auth-key", "", "group key file (TOML, see the README): refuse every feed frame not signed with one of its keys, and sign every retransmitted frame with its sign key")
	fs.DurationVar(&c.authWin, "auth-window", auth.DefaultWindow, "with --auth-key: refuse feed frames whose send time is further than this from the receive time (0 = off)")
	fs.StringVar(&c.codecs, "codecs", "none", "compression codecs to inflate, comma-separated: none, s2, zstd (--zstd-dict adds zstd); retransmitted frames go out uncompressed")
	fs.Var(&c.dicts, "zstd-dict", "zstd dictionary file the publisher compresses with, repeatable")
	fs.Float64Var(&c.maxRatio, "max-ratio", bus.DefaultMaxRatio, "refuse a compressed body that declares more than this many times its size inflated (0 = no cap)")
	fs.Var(&c.gapFlag, "gap-wait", "how long a hole may wait for another line to fill it before it is a gap (default: 0 with one line, 100ms with more)")
	fs.IntVar(&c.historyCount, "history-count", cache.DefaultHistoryCount, "most messages held for retransmission; the oldest go first")
	fs.Int64Var(&c.historyBytes, "history-bytes", cache.DefaultHistoryBytes, "most bytes of messages held for retransmission (at least 131072); the oldest go first")
	fs.DurationVar(&c.historyAge, "history-age", cache.DefaultHistoryAge, "how long a message is held for retransmission")
	fs.IntVar(&c.maxSymbols, "max-symbols", cache.DefaultMaxSymbols, "most symbols with books (and, separately, with application kinds' last messages); further ones are counted, not kept")
	fs.IntVar(&c.maxAppKinds, "max-app-kinds", cache.DefaultMaxAppKinds, "most application kinds whose last message is kept per symbol")
	fs.Int64Var(&c.maxAppBytes, "max-app-bytes", cache.DefaultMaxAppBytes, "most bytes of application kinds' last-message bodies kept, all symbols together")
	fs.IntVar(&c.maxRetransmit, "max-retransmit", cache.DefaultMaxRetransmit, "most messages one retransmission request is served; the client asks again from where it stopped")
	fs.IntVar(&c.maxRequests, "max-requests", cache.DefaultMaxRequests, "most requests in progress at once; beyond it a request is answered busy (the client asks the other server)")
	fs.DurationVar(&c.clientTimeout, "client-timeout", cache.DefaultClientTimeout, "how long a client may leave its replies unread before the rest of them are dropped")
	fs.IntVar(&c.sendHWM, "send-hwm", cache.DefaultSendHWM, "reply messages ZeroMQ queues per client before the client is parked (ZMQ_SNDHWM)")
	fs.BoolVar(&c.partial, "partial-snapshots", false, "serve snapshots even after joining a session mid-way (the books then lack what came before); by default such a cache serves retransmission only")
	fs.DurationVar(&c.status, "status", time.Second, "print a status line to stderr this often (0 = never)")
	fs.StringVar(&c.json, "json", "", "write the final stats to this file as JSON at the end")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long (0 = until SIGINT or SIGTERM)")
	c.socket.Register(fs, "receive")
	c.metrics.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedcache --line ENDPOINT [--line ENDPOINT] --listen ENDPOINT [flags]\n\nJoins every line, keeps books and a history of the feed, and serves snapshots and retransmissions (docs/recovery.md).\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	switch {
	case len(c.lines) == 0:
		return nil, cli.Usagef("no --line given (e.g. --line 'epgm://eth1;239.192.1.1:5555')")
	case len(c.listen) == 0:
		return nil, cli.Usagef("no --listen given (e.g. --listen tcp://*:5560)")
	case c.stream < -1 || c.stream > 1<<32-1:
		return nil, cli.Usagef("--stream %d: want a stream id of 0 to 4294967295", c.stream)
	case c.authWin < 0:
		return nil, cli.Usagef("--auth-window %v must not be negative", c.authWin)
	case c.status < 0 || c.duration < 0:
		return nil, cli.Usagef("--status and --duration must not be negative")
	}
	for _, p := range c.peers {
		if !strings.HasPrefix(p, "tcp://") && !strings.HasPrefix(p, "ipc://") {
			return nil, cli.Usagef("--peer %q: want tcp://HOST:PORT or ipc://PATH", p)
		}
	}
	if err := c.metrics.Check(); err != nil {
		return nil, err
	}
	if err := cli.CheckWritable("--json", c.json); err != nil {
		return nil, err
	}
	return c, nil
}

// cacheOptions turns the flags into the server's options, checking each
// against its flag's name so that an error names what to fix.
func cacheOptions(c *config, logf func(string, ...any)) ([]cache.Option, error) {
	checked := []struct {
		flag string
		opt  cache.Option
	}{
		{"--listen", cache.WithListen(c.listen...)},
		{"--history-count", cache.WithHistoryCount(c.historyCount)},
		{"--history-bytes", cache.WithHistoryBytes(c.historyBytes)},
		{"--history-age", cache.WithHistoryAge(c.historyAge)},
		{"--max-symbols", cache.WithMaxSymbols(c.maxSymbols)},
		{"--max-app-kinds", cache.WithMaxAppKinds(c.maxAppKinds)},
		{"--max-app-bytes", cache.WithMaxAppBytes(c.maxAppBytes)},
		{"--max-retransmit", cache.WithMaxRetransmit(c.maxRetransmit)},
		{"--max-requests", cache.WithMaxRequests(c.maxRequests)},
		{"--client-timeout", cache.WithClientTimeout(c.clientTimeout)},
		{"--send-hwm", cache.WithSendHWM(c.sendHWM)},
	}
	var opts []cache.Option
	for _, o := range checked {
		if err := o.opt.Validate(); err != nil {
			return nil, cli.UsageError{Err: fmt.Errorf("%s: %w", o.flag, err)}
		}
		opts = append(opts, o.opt)
	}
	opts = append(opts, cache.WithPartialSnapshots(c.partial), cache.WithLogf(logf))
	if c.stream >= 0 {
		opts = append(opts, cache.WithStream(uint32(c.stream)))
	}

	dicts, err := cli.ReadDicts(c.dicts)
	if err != nil {
		return nil, err
	}
	codecs, err := cli.ParseCodecs(c.codecs)
	if err != nil {
		return nil, err
	}
	subOpts := []feedbus.SubscriberOption{
		feedbus.WithCodecs(codecs...),
		feedbus.WithMaxRatio(c.maxRatio),
		feedbus.WithDictionaries(dicts...),
		feedbus.WithSubscriberSockets(c.socket.Options(logf)...),
	}
	if len(c.peers) > 0 {
		subOpts = append(subOpts, feedbus.WithRecovery(c.peers...))
	}
	if c.gapFlag.IsSet {
		subOpts = append(subOpts, feedbus.WithGapWait(c.gapFlag.D))
	}
	if c.authKey != "" {
		keys, err := auth.LoadKeys(c.authKey)
		if err != nil {
			return nil, cli.UsageError{Err: fmt.Errorf("--auth-key: %w", err)}
		}
		for _, w := range keys.Warnings() {
			logf("%s", w)
		}
		sign := cache.WithSigning(keys)
		if err := sign.Validate(); err != nil {
			return nil, cli.UsageError{Err: fmt.Errorf("--auth-key: %w", err)}
		}
		opts = append(opts, sign)
		subOpts = append(subOpts, feedbus.WithVerifying(keys, c.authWin))
	}
	return append(opts, cache.WithSubscriberOptions(subOpts...)), nil
}
