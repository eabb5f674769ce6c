// Command udpwire is feedbench's wire baseline: plain UDP multicast, one
// datagram per market message, sent with sendmmsg and received with
// recvmmsg in batches, with feedbus's socket buffers. Each datagram carries
// a sequence number and its send time, so the receiver counts loss and
// records one-way latency the way feedsub does. It is a test tool: it sends
// only to the administratively scoped group given with -group, from the
// interface given with -iface. Run udpwire -h for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/feedbus/feedbus/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(cli.ExitOK)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "udpwire: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
