// Command barepair is feedbench's baseline: a bare pebbe/zmq4 PUB/SUB pair
// with feedbus's socket settings but none of its framing, batching or
// sequencing. The publisher sends one ZeroMQ message per market message,
// paced like feedpub (-rate) or as fast as it can, each stamped with its send
// time; the subscriber counts them and records their one-way latency with
// internal/latency, as feedsub does. Run barepair -h for usage.
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
		fmt.Fprintf(os.Stderr, "barepair: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
