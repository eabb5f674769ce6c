// Command feedbench measures feedbus's throughput against a bare ZeroMQ
// PUB/SUB pair (bench/cmd/barepair) with the same socket settings, over
// EPGM on line A of a private lab (bench/lab), and reports both as
// markdown, optionally updating bench/RESULTS.md in place. It must run as
// root. Run feedbench -h for usage.
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
		fmt.Fprintf(os.Stderr, "feedbench: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
