// Command feedlab builds and drives the feedbus multicast test lab (package
// bench/lab) from the shell: network namespaces for a publisher and
// subscribers connected by one bridge per line. Run feedlab -h for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
