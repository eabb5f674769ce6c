package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
)

// markerEvery is how often markers go out while no data is sent, like
// feedpub's heartbeats during its warmup and linger.
const markerEvery = 100 * time.Millisecond

// scope is where -group must lie: IPv4 administratively scoped multicast
// (RFC 2365), which never leaves an organisation, let alone the lab.
var scope = netip.MustParsePrefix("239.0.0.0/8")

type config struct {
	mode  string
	group netip.AddrPort
	iface netip.Addr

	// sender
	size     int
	rate     float64
	duration time.Duration
	warmup   time.Duration
	linger   time.Duration
	batch    int
	pack     int
	hops     int
	sndbuf   int

	// receiver
	rcvbuf   int
	idle     time.Duration
	wait     time.Duration
	json     string
	hlog     string
	status   time.Duration
	expected time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	d := bus.DefaultOptions()
	c := &config{}
	var group, iface string
	fs := flag.NewFlagSet("udpwire", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "", "send or recv")
	fs.StringVar(&group, "group", "", "multicast group and port, e.g. 239.79.1.1:5555; must be in 239.0.0.0/8; the only destination the sender sends to")
	fs.StringVar(&iface, "iface", "", "the NIC to send from or join on: its IPv4 address or its name")
	fs.IntVar(&c.size, "size", 64, fmt.Sprintf("send: bytes per datagram (one market message), %d-%d", headerLen, maxSize))
	fs.Float64Var(&c.rate, "rate", 0, "send: messages per second, paced like feedpub; 0 = as fast as sendmmsg takes them")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "send: send for this long")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "send: before sending, send only markers for this long")
	fs.DurationVar(&c.linger, "linger", 2*time.Second, "send: after the last message, send markers for this long")
	fs.IntVar(&c.batch, "batch", 64, "datagrams per sendmmsg/recvmmsg call, at most")
	fs.IntVar(&c.pack, "pack", 0, "send: pack messages into datagrams of up to this many bytes, as feedbus's frames batch them (feedbus's default frame budget is 1400); 0 = one message a datagram")
	fs.IntVar(&c.hops, "hops", d.MulticastHops, "multicast TTL (IP_MULTICAST_TTL)")
	fs.IntVar(&c.sndbuf, "sndbuf", d.SendBuffer, "SO_SNDBUF in bytes (clamped to net.core.wmem_max), as feedbus's ZMQ_SNDBUF")
	fs.IntVar(&c.rcvbuf, "rcvbuf", d.RecvBuffer, "SO_RCVBUF in bytes (clamped to net.core.rmem_max), as feedbus's ZMQ_RCVBUF")
	fs.DurationVar(&c.idle, "idle", 2*time.Second, "recv: stop after this long without data, once data has arrived")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "recv: give up if no data arrives within this long")
	fs.StringVar(&c.json, "json", "", "recv: write the result as JSON to this file")
	fs.StringVar(&c.hlog, "hlog", "", "recv: write an HdrHistogram interval log (.hlog, ns) of the latency, one interval per -status")
	fs.DurationVar(&c.status, "status", time.Second, "recv: interval of the -hlog log")
	fs.DurationVar(&c.expected, "expected-interval", 0, "recv: the sender's interval between messages (1/rate): also report latency corrected for coordinated omission")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: udpwire -mode send -group 239.X.Y.Z:PORT -iface ADDR [-size N] [-rate R] [-duration D]\n"+
			"       udpwire -mode recv -group 239.X.Y.Z:PORT -iface ADDR [-idle D] [-json PATH] [-hlog PATH]\n\n"+
			"Plain UDP multicast, one or (-pack) more messages a datagram, sendmmsg/recvmmsg: the wire baseline of feedbench.\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	if c.mode != "send" && c.mode != "recv" {
		return nil, cli.Usagef("-mode %q: want send or recv", c.mode)
	}
	g, err := netip.ParseAddrPort(group)
	switch {
	case group == "":
		return nil, cli.Usagef("no -group given (e.g. -group 239.79.1.1:5555)")
	case err != nil:
		return nil, cli.Usagef("-group %q: %v", group, err)
	case !scope.Contains(g.Addr()) || g.Port() == 0:
		return nil, cli.Usagef("-group %s: want an address in %s and a port", group, scope)
	}
	c.group = g
	if c.iface, err = resolveIface(iface); err != nil {
		return nil, cli.UsageError{Err: err}
	}
	switch {
	case c.size < headerLen || c.size > maxSize:
		return nil, cli.Usagef("-size %d: want %d-%d", c.size, headerLen, maxSize)
	case c.rate < 0:
		return nil, cli.Usagef("-rate %v must not be negative", c.rate)
	case c.duration <= 0:
		return nil, cli.Usagef("-duration %v must be positive", c.duration)
	case c.warmup < 0 || c.linger < 0:
		return nil, cli.Usagef("-warmup and -linger must not be negative")
	case c.batch < 1 || c.batch > 1024:
		return nil, cli.Usagef("-batch %d: want 1-1024", c.batch)
	case c.pack != 0 && (c.pack < c.size || c.pack > maxSize):
		return nil, cli.Usagef("-pack %d: want 0 or %d (-size) to %d", c.pack, c.size, maxSize)
	case c.hops < 1 || c.hops > 255:
		return nil, cli.Usagef("-hops %d: want 1-255", c.hops)
	case c.sndbuf < 0 || c.rcvbuf < 0:
		return nil, cli.Usagef("-sndbuf and -rcvbuf must not be negative")
	case c.idle <= 0 || c.wait <= 0 || c.status <= 0:
		return nil, cli.Usagef("-idle, -wait and -status must be positive")
	case c.expected < 0:
		return nil, cli.Usagef("-expected-interval %v must not be negative", c.expected)
	}
	return c, nil
}

// resolveIface turns an IPv4 address or an interface name into the
// interface's IPv4 address.
func resolveIface(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("no -iface given (the lab NIC, e.g. -iface 10.79.1.1 or -iface eth1)")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() {
			return netip.Addr{}, fmt.Errorf("-iface %s: want an IPv4 address", s)
		}
		return a, nil
	}
	ifi, err := net.InterfaceByName(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("-iface %s: %w", s, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("-iface %s: %w", s, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("-iface %s has no IPv4 address", s)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.mode == "send" {
		return send(ctx, c, stderr)
	}
	return receive(ctx, c, stdout, stderr)
}
