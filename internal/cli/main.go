package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a program's whole life: it returns when the work is done or
// ctx is cancelled (SIGINT, SIGTERM).
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with a context cancelled by SIGINT or SIGTERM, prints its
// error as one line prefixed with the program's name, and exits with
// ExitCode's code; for ErrVersion (--version, see Parse) it prints the
// version to stdout and exits 0. It never returns.
//
// The first SIGINT or SIGTERM asks for a clean end (feedsub drains its
// workers and writes its summary); a second one, while that goes on, ends
// the process at once, as an operator who presses ^C twice expects.
func Main(prog string, run RunFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			// Give the next signal its default effect before anyone can
			// see ctx done and tell the operator to press ^C again.
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel()
		}
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(ExitOK)
	case errors.Is(err, ErrVersion):
		fmt.Fprintln(os.Stdout, Version(prog))
		os.Exit(ExitOK)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	}
	os.Exit(ExitCode(err))
}

// Warner returns a printf for warnings, one line each, prefixed with the
// program's name.
func Warner(prog string, w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(w, "%s: warning: %s\n", prog, fmt.Sprintf(format, args...))
	}
}
