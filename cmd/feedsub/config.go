package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/auth"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/recovery"
	"github.com/feedbus/feedbus/snail"
)

type config struct {
	lines    cli.Strings
	topics   cli.Strings
	count    uint64
	idle     time.Duration
	json     string
	status   time.Duration
	gapWait  time.Duration
	gapFlag  cli.AutoDuration
	rejoin   time.Duration
	dicts    cli.Strings
	workers  int
	queueLen int
	overflow string
	work     time.Duration
	workOn   string
	drain    time.Duration
	books    int
	maxSyms  int
	maxSkew  time.Duration
	stream   int64
	restart  time.Duration
	maxJump  uint64
	authKey  string
	codecs   string
	maxRatio float64
	authWin  time.Duration
	hlog     string
	expected time.Duration
	spin     time.Duration
	snail    snail.Config
	onSnail  string
	capture  string
	recovery cli.Strings
	recTime  time.Duration
	recTries int
	holdMB   int
	holdWait time.Duration
	snapshot bool
	socket   cli.Socket
	affinity cli.Affinity
	metrics  cli.Metrics
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("feedsub", flag.ContinueOnError)
	fs.Var(&c.lines, "line", "line endpoint to join, repeatable: epgm://IFACE;GROUP:PORT, pgm://..., tcp://HOST:PORT or ipc://PATH")
	fs.Var(&c.topics, "topic", "deliver only symbols with this prefix, repeatable (default: all)")
	fs.Uint64Var(&c.count, "count", 0, "stop after this many messages (0 = no limit)")
	fs.DurationVar(&c.idle, "idle", 0, "stop after this long without data, e.g. 5s, counted from the start until the first message (0 = never); heartbeats are not data")
	fs.StringVar(&c.capture, "capture", "", "record every frame received, on every line, with its receive time, to this pcapng file (see docs/capture.md); feedpub --replay publishes it again")
	fs.StringVar(&c.json, "json", "", "write a machine-readable summary to this file at the end")
	fs.DurationVar(&c.status, "status", time.Second, "print a status line this often (0 = never)")
	fs.Var(&c.gapFlag, "gap-wait", "how long a hole may wait for another line to fill it before it is a gap (default: 0 with one line, 100ms with more; 1ms on udp:// lines, one or more)")
	fs.IntVar(&c.workers, "workers", 0, "worker goroutines, messages sharded by symbol (default: one per --pin-workers CPU, else the CPUs the pinned I/O and receive threads leave, at least 1)")
	fs.IntVar(&c.queueLen, "queue-len", fanout.DefaultQueueLen, "messages queued per worker before --overflow applies")
	fs.StringVar(&c.overflow, "overflow", "drop", "when a worker's queue is full: drop (and count) or conflate (keep the newest quote and trade per symbol)")
	fs.DurationVar(&c.work, "work", 0, "simulated cost per message in each worker, for tests and capacity planning")
	fs.StringVar(&c.workOn, "work-on", "", "comma-separated workers that get --work (default: all), to model one slow worker")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "at the end, how long workers may take to finish what is queued before it is abandoned (and counted)")
	fs.StringVar(&c.hlog, "hlog", "", "write an HdrHistogram interval log (.hlog, ns) of the latency, one interval per --status step (1s if 0)")
	fs.DurationVar(&c.expected, "expected-interval", 0, "the publisher's interval between messages (1/rate): also report latency corrected for coordinated omission")
	fs.StringVar(&c.codecs, "codecs", "none", "compression codecs to inflate, comma-separated: none, s2, zstd (--zstd-dict adds zstd); other compressed frames are refused as malformed without being inflated")
	fs.Float64Var(&c.maxRatio, "max-ratio", bus.DefaultMaxRatio, "refuse a compressed body that declares more than this many times its size inflated (0 = no cap)")
	fs.StringVar(&c.authKey, "auth-key", "", "refuse every frame not signed with a key of this group key file (TOML, see the README), counting them in auth_failed")
	fs.DurationVar(&c.authWin, "auth-window", auth.DefaultWindow, "with --auth-key: refuse signed frames whose send time is further than this from the receive time, so old frames cannot be replayed (0 = off, e.g. to receive a --replay of a capture)")
	fs.Int64Var(&c.stream, "stream", -1, "follow this stream id only (default: the first stream heard, named in the output); frames of other streams are counted as foreign")
	fs.DurationVar(&c.restart, "restart-after", feedbus.DefaultRestartAfter, "how long the followed publisher session must be silent before a new session of its stream is taken as its restart (one that starts at sequence 1: after 50ms; one after a clean end: at once); until then it is foreign")
	fs.Uint64Var(&c.maxJump, "max-jump", feedbus.DefaultMaxJump, "a frame starting more than this many messages past the followed session's next number is refused and counted as implausible, until such frames have come alone for 200ms (then it is a gap) (0 = any jump)")
	fs.DurationVar(&c.maxSkew, "max-clock-skew", feedbus.DefaultMaxClockSkew, "a frame whose send time is further than this from the receive time has a bad stamp: its messages are delivered but kept out of the latency and the snail, and counted in bad_stamps (0 = trust every stamp)")
	fs.IntVar(&c.maxSyms, "max-symbols", 100_000, "most symbols to keep last-value books for (about 250 bytes each); messages of further symbols are delivered but not booked, and counted in books_refused (0 = no limit)")
	fs.IntVar(&c.books, "books", 10, "last-value books of the first N symbols to print in the summary and the JSON (SIGUSR1 prints all while running)")
	fs.DurationVar(&c.spin, "spin", 0, "busy-poll: after each frame keep polling the lines for this long before sleeping (e.g. 10ms); saves the receive thread's wake-up per frame at the cost of a CPU kept busy (0 = always sleep)")
	c.snail = snail.DefaultConfig()
	c.snail.RegisterFlags(fs)
	fs.StringVar(&c.onSnail, "snail-action", "warn", "when the subscriber cannot keep up: warn (log and count) or exit (summary, one line, exit code 3)")
	fs.Var(&c.dicts, "zstd-dict", "zstd dictionary file the publisher compresses with, repeatable")
	fs.Var(&c.recovery, "recovery", "recovery server (feedcache --listen) to ask for what every line missed and for a snapshot when joining mid-stream, repeatable, tried in order: tcp://HOST:PORT or ipc://PATH; with it, messages are delivered strictly in sequence order")
	fs.DurationVar(&c.recTime, "recovery-timeout", recovery.DefaultTimeout, "with --recovery: how long a server may take to answer before the request goes to the next")
	fs.IntVar(&c.recTries, "recovery-tries", recovery.DefaultTries, "with --recovery: sends of a request, across the servers in turn, before it is given up")
	fs.IntVar(&c.holdMB, "hold-mb", feedbus.DefaultHoldBytes>>20, "with --recovery: MiB of frames a hole may hold back while it is recovered; past it the hole is a gap (0 = no limit)")
	fs.DurationVar(&c.holdWait, "hold-wait", feedbus.DefaultHoldWait, "with --recovery: how long past --gap-wait a hole may hold the messages behind it back; then it is a gap")
	fs.BoolVar(&c.snapshot, "snapshot", true, "with --recovery: on joining a feed mid-stream, take a snapshot of the books first (of the --topic prefixes only, if given)")
	fs.DurationVar(&c.rejoin, "rejoin-after", time.Second, "with two lines or more, rejoin a line that has delivered nothing for this long while another line delivers; with --recovery, also every line when all have been silent this long (0 = never)")
	c.socket.Register(fs, "receive")
	c.affinity.Register(fs)
	c.metrics.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedsub --line ENDPOINT [--line ENDPOINT] [flags]\n\nJoins every line, keeps the first copy of each message, and reports rate, loss and latency.\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	if c.affinity.PlanOnly() {
		return c, nil
	}
	if len(c.lines) == 0 {
		return nil, cli.Usagef("no --line given (e.g. --line 'epgm://eth1;239.192.1.1:5555')")
	}
	if c.onSnail != "warn" && c.onSnail != "exit" {
		return nil, cli.Usagef("--snail-action %q: want warn or exit", c.onSnail)
	}
	if err := c.snail.Validate(); err != nil {
		return nil, cli.UsageError{Err: err}
	}
	if c.workers < 0 || c.books < 0 || c.maxSyms < 0 {
		return nil, cli.Usagef("--workers, --books and --max-symbols must not be negative")
	}
	if c.idle < 0 || c.status < 0 || c.rejoin < 0 || c.drain < 0 || c.expected < 0 || c.maxSkew < 0 {
		return nil, cli.Usagef("--idle, --status, --rejoin-after, --drain, --expected-interval and --max-clock-skew must not be negative")
	}
	switch {
	case c.stream < -1 || c.stream > 1<<32-1:
		return nil, cli.Usagef("--stream %d: want a stream id of 0 to 4294967295", c.stream)
	case c.authWin < 0:
		return nil, cli.Usagef("--auth-window %v must not be negative", c.authWin)
	case c.restart <= 0:
		return nil, cli.Usagef("--restart-after %v must be positive", c.restart)
	case c.recTime <= 0 || c.recTries <= 0 || c.holdWait <= 0:
		return nil, cli.Usagef("--recovery-timeout %v, --recovery-tries %d and --hold-wait %v must be positive", c.recTime, c.recTries, c.holdWait)
	case c.holdMB < 0 || c.holdMB > 1<<20:
		return nil, cli.Usagef("--hold-mb %d: want 0 (no limit) to 1048576", c.holdMB)
	}
	if err := c.metrics.Check(); err != nil {
		return nil, err
	}
	for _, f := range []struct{ flag, path string }{{"--json", c.json}, {"--hlog", c.hlog}, {"--capture", c.capture}} {
		if err := cli.CheckWritable(f.flag, f.path); err != nil {
			return nil, err
		}
	}
	for _, t := range c.topics {
		if t == "" || len(t) > bus.MaxSymbolLen {
			return nil, cli.Usagef("--topic %q: want a symbol prefix of 1-%d bytes", t, bus.MaxSymbolLen)
		}
	}
	c.gapWait = c.gapFlag.D // the library's default, by transport and lines, unless set
	return c, nil
}
