// Command feedsub joins one or more multicast lines of a feedbus feed,
// keeps the first copy of each message and reports latency and loss.
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
		fmt.Fprintf(os.Stderr, "feedsub: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
