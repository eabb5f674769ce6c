// Command feedpub publishes a synthetic market-data feed on one or more
// multicast lines. See the README for flags and examples.
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
		fmt.Fprintf(os.Stderr, "feedpub: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
