package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/feedbus/feedbus"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/feedbus/feedbus/replay"
)

type config struct {
	lines      cli.Strings
	rate       float64
	count      uint64
	duration   time.Duration
	size       int
	symbols    int
	frameBytes int
	maxDelay   time.Duration
	compress   string
	codec      bus.Codec
	zstdDict   string
	trainDict  string
	onFull     string
	dictSize   int
	heartbeat  time.Duration
	warmup     time.Duration
	linger     time.Duration
	stream     uint
	seed       uint64
	input      string
	strict     bool
	replay     string
	speedFlag  string
	speed      float64
	json       string
	authKey    string
	socket     cli.Socket
	affinity   cli.Affinity
	metrics    cli.Metrics
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	c.affinity.Role = cli.RolePublisher
	fs := flag.NewFlagSet("feedpub", flag.ContinueOnError)
	fs.Var(&c.lines, "line", "line endpoint, repeatable, one per NIC: epgm://IFACE;GROUP:PORT, pgm://..., tcp://HOST:PORT (bound) or ipc://PATH")
	fs.Float64Var(&c.rate, "rate", 10_000, "messages per second; 0 = as fast as possible (with --input: as fast as the lines come)")
	fs.Uint64Var(&c.count, "count", 0, "stop after this many messages (0 = no limit)")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long, e.g. 30s (0 = no limit)")
	fs.IntVar(&c.size, "size", 64, "bytes per synthetic message on the wire, padding included (its natural size if smaller)")
	fs.IntVar(&c.symbols, "symbols", 100, "number of symbols in the synthetic feed")
	fs.StringVar(&c.input, "input", "", "publish messages read as text lines from this file (- for standard input) instead of the synthetic feed; see the README for the format")
	fs.BoolVar(&c.strict, "strict", false, "with --input: stop at the first bad line (exit 2) instead of reporting, counting and skipping it")
	fs.StringVar(&c.replay, "replay", "", "publish the messages of a feedsub --capture file again, as a new session, instead of the synthetic feed")
	fs.StringVar(&c.speedFlag, "speed", "1", "with --replay: 1 = the recorded pace, X = X times faster, max = as fast as the lines take it")
	fs.IntVar(&c.frameBytes, "frame-bytes", feedbus.DefaultFrameBytes, "frame budget in bytes: messages are batched into frames up to this size (1400 fits one PGM TPDU)")
	fs.DurationVar(&c.maxDelay, "max-delay", feedbus.DefaultMaxDelay, "longest a message waits in a frame for more to fill it; a frame goes out at once when the next message is due later")
	fs.StringVar(&c.compress, "compress", "none", "frame body compression: none, s2 or zstd")
	fs.StringVar(&c.zstdDict, "zstd-dict", "", "zstd dictionary file (see --train-dict); subscribers need the same file")
	fs.StringVar(&c.trainDict, "train-dict", "", "train a zstd dictionary on the synthetic feed (--symbols, --size), write it to this file and exit")
	fs.IntVar(&c.dictSize, "dict-size", 16<<10, "size of the dictionary --train-dict builds, in bytes")
	fs.StringVar(&c.onFull, "on-full", "drop", "when a line's queue is full (PGM's rate limit or a slow TCP peer): drop (and count) or block (wait: nothing lost, the feed slows)")
	fs.DurationVar(&c.heartbeat, "heartbeat", feedbus.DefaultHeartbeat, "send a heartbeat after this long without data")
	fs.DurationVar(&c.warmup, "warmup", 0, "send only heartbeats for this long before data, so subscribers can join the session")
	fs.DurationVar(&c.linger, "linger", feedbus.DefaultLinger, "after the last message keep heartbeating this long so PGM can repair losses, then wait up to as long again for queued frames to leave")
	fs.UintVar(&c.stream, "stream", 1, "stream id written in every frame")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the synthetic feed")
	fs.StringVar(&c.authKey, "auth-key", "", "sign every frame with this group key file (TOML, see the README); subscribers need the same file")
	fs.StringVar(&c.json, "json", "", "write a machine-readable summary to this file at the end")
	c.socket.Register(fs, "send")
	c.affinity.Register(fs)
	c.metrics.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedpub --line ENDPOINT [--line ENDPOINT] [flags]\n\nPublishes a market-data feed on every line: synthetic, from text (--input) or from a capture (--replay).\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	codec, err := bus.ParseCodec(c.compress)
	if err != nil {
		return nil, cli.Usagef("--compress %q: want none, s2 or zstd", c.compress)
	}
	c.codec = codec
	if c.speed, err = replay.ParseSpeed(c.speedFlag); err != nil {
		return nil, cli.Usagef("--speed: %v", err)
	}
	sources := 0
	for _, s := range []string{c.input, c.replay, c.trainDict} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		return nil, cli.Usagef("--input, --replay and --train-dict exclude each other")
	case c.trainDict != "":
		if c.dictSize < 256 || c.dictSize > 1<<20 {
			return nil, cli.Usagef("--dict-size %d: want 256 to 1048576 bytes", c.dictSize)
		}
		return c, nil
	case c.affinity.PlanOnly():
		return c, nil
	case c.zstdDict != "" && c.codec != bus.CodecZstd && c.replay == "":
		return nil, cli.Usagef("--zstd-dict needs --compress zstd (or --replay, to read a capture compressed with it)")
	case c.replay != "" && (set["count"] || set["rate"] || set["duration"]):
		return nil, cli.Usagef("--replay publishes the whole capture at its recorded pace: use --speed, not --count, --rate or --duration")
	case c.replay == "" && set["speed"]:
		return nil, cli.Usagef("--speed applies to --replay only")
	case c.maxDelay < 0:
		return nil, cli.Usagef("--max-delay %v must not be negative", c.maxDelay)
	case len(c.lines) == 0:
		return nil, cli.Usagef("no --line given (e.g. --line 'epgm://eth1;239.192.1.1:5555')")
	case math.IsNaN(c.rate) || math.IsInf(c.rate, 0) || c.rate < 0:
		return nil, cli.Usagef("--rate %v: want messages per second, a finite number not below 0 (0 = as fast as possible)", c.rate)
	case c.rate > 0 && c.rate < minRate:
		return nil, cli.Usagef("--rate %v: less than one message a day would never send; the least is %.6f (one a day)", c.rate, minRate)
	case c.duration < 0:
		return nil, cli.Usagef("--duration %v must not be negative", c.duration)
	case c.frameBytes < bus.HeaderLen+64 || c.frameBytes > bus.MaxFrameLen:
		return nil, cli.Usagef("--frame-bytes %d: want %d-%d", c.frameBytes, bus.HeaderLen+64, bus.MaxFrameLen)
	case c.size > c.frameBytes-bus.HeaderLen:
		return nil, cli.Usagef("--size %d does not fit in --frame-bytes %d", c.size, c.frameBytes)
	case c.heartbeat <= 0:
		return nil, cli.Usagef("--heartbeat %v must be positive", c.heartbeat)
	case c.warmup < 0 || c.linger < 0:
		return nil, cli.Usagef("--warmup and --linger must not be negative")
	case c.stream > 1<<32-1:
		return nil, cli.Usagef("--stream %d does not fit in 32 bits", c.stream)
	case c.strict && c.input == "":
		return nil, cli.Usagef("--strict applies to --input only")
	}
	if err := c.metrics.Check(); err != nil {
		return nil, err
	}
	if err := cli.CheckWritable("--json", c.json); err != nil {
		return nil, err
	}
	return c, nil
}

// minRate is the lowest --rate: one message a day.
const minRate = 1.0 / 86400
