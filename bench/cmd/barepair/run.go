package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
)

// Every message starts with a sequence number, a little-endian uint64, 1,
// 2, 3... for measured messages and 0 for the markers sent during warmup
// and linger, which the subscriber skips; then its send time, ns since the
// epoch, a little-endian int64, from which the subscriber records one-way
// latency. Padding fills the rest up to -size.
const (
	seqLen    = 8
	headerLen = seqLen + 8
)

// markerEvery is how often markers go out while no data is sent, like
// feedpub's heartbeats during its warmup and linger.
const markerEvery = 100 * time.Millisecond

type config struct {
	mode     string
	endpoint string

	// publisher
	size     int
	rate     float64
	duration time.Duration
	warmup   time.Duration
	linger   time.Duration

	// subscriber
	idle     time.Duration
	wait     time.Duration
	json     string
	hlog     string
	status   time.Duration
	expected time.Duration

	// socket settings, as feedpub and feedsub name them
	pgmRate  int
	recovery time.Duration
	hops     int
	sndbuf   int
	rcvbuf   int
	hwm      int
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	d := bus.DefaultOptions()
	c := &config{}
	fs := flag.NewFlagSet("barepair", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "", "pub or sub")
	fs.StringVar(&c.endpoint, "endpoint", "", "endpoint, as feedbus takes it: epgm://IFACE;GROUP:PORT (IFACE a name or an address), pgm://..., tcp://HOST:PORT or ipc://PATH")
	fs.IntVar(&c.size, "size", 64, fmt.Sprintf("pub: bytes per message, at least %d (its sequence number and send time)", headerLen))
	fs.Float64Var(&c.rate, "rate", 0, "pub: messages per second, paced like feedpub's --rate; 0 = as fast as the socket takes them")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "pub: send for this long")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "pub: before sending, send only markers for this long so subscribers can join")
	fs.DurationVar(&c.linger, "linger", 2*time.Second, "pub: after the last message keep the socket open this long, sending markers, so queued data drains and PGM can repair")
	fs.DurationVar(&c.idle, "idle", 2*time.Second, "sub: stop after this long without data, once data has arrived")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "sub: give up if no data arrives within this long")
	fs.StringVar(&c.json, "json", "", "sub: write the result as JSON to this file")
	fs.StringVar(&c.hlog, "hlog", "", "sub: write an HdrHistogram interval log (.hlog, ns) of the latency, one interval per -status")
	fs.DurationVar(&c.status, "status", time.Second, "sub: interval of the -hlog log")
	fs.DurationVar(&c.expected, "expected-interval", 0, "sub: the publisher's interval between messages (1/rate): also report latency corrected for coordinated omission, as feedsub does")
	fs.IntVar(&c.pgmRate, "pgm-rate", d.Rate, "PGM rate limit in kbit/s (ZMQ_RATE)")
	fs.DurationVar(&c.recovery, "recovery-ivl", d.RecoveryInterval, "how long PGM keeps data for repair (ZMQ_RECOVERY_IVL)")
	fs.IntVar(&c.hops, "hops", d.MulticastHops, "multicast TTL (ZMQ_MULTICAST_HOPS)")
	fs.IntVar(&c.sndbuf, "sndbuf", d.SendBuffer, "kernel send buffer in bytes (ZMQ_SNDBUF)")
	fs.IntVar(&c.rcvbuf, "rcvbuf", d.RecvBuffer, "kernel receive buffer in bytes (ZMQ_RCVBUF)")
	fs.IntVar(&c.hwm, "hwm", 0, fmt.Sprintf("messages queued before ZeroMQ drops (pub) or stops reading (sub), set as both ZMQ_SNDHWM and ZMQ_RCVHWM like feedbus does; 0 = feedbus's default (send %d, receive %d)", d.SendHWM, d.RecvHWM))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: barepair -mode pub -endpoint E [-size N] [-rate R] [-duration D] [-warmup D] [socket flags]\n"+
			"       barepair -mode sub -endpoint E [-idle D] [-json PATH] [-hlog PATH] [-expected-interval D] [socket flags]\n\n"+
			"A bare ZeroMQ PUB/SUB pair with feedbus's socket settings, one message per market message.\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	switch {
	case c.mode != "pub" && c.mode != "sub":
		return nil, cli.Usagef("-mode %q: want pub or sub", c.mode)
	case c.endpoint == "":
		return nil, cli.Usagef("no -endpoint given (e.g. -endpoint 'epgm://eth1;239.192.1.1:5555')")
	case c.size < headerLen || c.size > bus.MaxFrameLen:
		return nil, cli.Usagef("-size %d: want %d-%d", c.size, headerLen, bus.MaxFrameLen)
	case c.rate < 0:
		return nil, cli.Usagef("-rate %v must not be negative", c.rate)
	case c.status <= 0 || c.expected < 0:
		return nil, cli.Usagef("-status must be positive and -expected-interval not negative")
	case c.duration <= 0:
		return nil, cli.Usagef("-duration %v must be positive", c.duration)
	case c.warmup < 0 || c.linger < 0 || c.idle <= 0 || c.wait <= 0:
		return nil, cli.Usagef("-warmup and -linger must not be negative, -idle and -wait must be positive")
	case c.hwm < 0:
		return nil, cli.Usagef("-hwm %d must not be negative", c.hwm)
	}
	return c, nil
}

// options turns the socket flags into feedbus's Options, validated by
// feedbus's own Option functions, exactly as cli.Socket does for feedpub
// and feedsub: one high-water mark for both directions.
func (c *config) options() (bus.Options, error) {
	o := bus.DefaultOptions()
	hwm := c.hwm
	if hwm == 0 {
		hwm = o.SendHWM
		if c.mode == "sub" {
			hwm = o.RecvHWM
		}
	}
	for _, opt := range []bus.Option{
		bus.WithRate(c.pgmRate),
		bus.WithRecoveryInterval(c.recovery),
		bus.WithMulticastHops(c.hops),
		bus.WithBuffers(c.sndbuf, c.rcvbuf),
		bus.WithHWM(hwm, hwm),
	} {
		if err := opt(&o); err != nil {
			return bus.Options{}, cli.UsageError{Err: err}
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	o, err := c.options()
	if err != nil {
		return err
	}
	e, err := resolve(c.endpoint)
	if err != nil {
		return err
	}
	if c.mode == "pub" {
		for _, w := range bus.BufferWarnings(o.SendBuffer, o.RecvBuffer) {
			fmt.Fprintf(stderr, "barepair: warning: %s\n", w)
		}
		return publish(ctx, c, e, &o, stderr)
	}
	for _, w := range bus.BufferWarnings(0, o.RecvBuffer) {
		fmt.Fprintf(stderr, "barepair: warning: %s\n", w)
	}
	return subscribe(ctx, c, e, &o, stdout, stderr)
}
