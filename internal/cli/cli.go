// Package cli holds what feedpub and feedsub share on the command line:
// repeatable flags, the socket settings, exit codes and one-line errors.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// Exit codes shared by the binaries.
const (
	ExitOK    = 0 // clean end
	ExitError = 1 // a runtime failure
	ExitUsage = 2 // bad flags or configuration, found before anything started
	ExitSnail = 3 // feedsub could not keep up and --snail-action exit was set
)

// UsageError marks an error found in the command line or configuration.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// ExitCode maps an error from a run to the process exit code.
func ExitCode(err error) int {
	var ue UsageError
	var ce interface{ ExitCode() int }
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		return ce.ExitCode()
	case errors.As(err, &ue),
		errors.Is(err, bus.ErrEndpoint), errors.Is(err, bus.ErrInterface),
		errors.Is(err, bus.ErrNotMulticast), errors.Is(err, bus.ErrPrivilege),
		errors.Is(err, bus.ErrOption), errors.Is(err, bus.ErrDuplicate):
		return ExitUsage
	}
	return ExitError
}

// Parse parses args into fs and turns flag's multi-line complaints into one
// line that names the program; -h prints the usage and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fs.Usage()
		return err
	}
	if err != nil {
		return Usagef("%v (see %s -h)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q (see %s -h)", fs.Arg(0), fs.Name())
	}
	return nil
}

// Strings is a flag that may be repeated.
type Strings []string

func (s *Strings) String() string     { return strings.Join(*s, ",") }
func (s *Strings) Set(v string) error { *s = append(*s, v); return nil }

// Socket holds the socket-setting flags both binaries take.
type Socket struct {
	Rate     int
	Recovery time.Duration
	Hops     int
	SndBuf   int
	RcvBuf   int
	HWM      int
}

// Register adds the socket flags to fs. hwm names what the high-water mark
// bounds on this side ("send" or "receive").
func (s *Socket) Register(fs *flag.FlagSet, hwm string) {
	d := bus.DefaultOptions()
	fs.IntVar(&s.Rate, "pgm-rate", d.Rate, "PGM rate limit in kbit/s (ZMQ_RATE; libzmq's default of 100 is far too low for market data)")
	fs.DurationVar(&s.Recovery, "recovery-ivl", d.RecoveryInterval, "how long PGM keeps data for repair (ZMQ_RECOVERY_IVL); with --pgm-rate it sizes the transmit window")
	fs.IntVar(&s.Hops, "hops", d.MulticastHops, "multicast TTL (ZMQ_MULTICAST_HOPS)")
	fs.IntVar(&s.SndBuf, "sndbuf", d.SendBuffer, "kernel send buffer in bytes (ZMQ_SNDBUF; clamped to net.core.wmem_max)")
	fs.IntVar(&s.RcvBuf, "rcvbuf", d.RecvBuffer, "kernel receive buffer in bytes (ZMQ_RCVBUF; clamped to net.core.rmem_max)")
	def := d.SendHWM
	if hwm == "receive" {
		def = d.RecvHWM
	}
	fs.IntVar(&s.HWM, "hwm", def, "frames queued per line before ZeroMQ "+map[string]string{"send": "drops (ZMQ_SNDHWM)", "receive": "stops reading (ZMQ_RCVHWM)"}[hwm])
}

// Options turns the flags into bus options.
func (s *Socket) Options(logf func(string, ...any)) []bus.Option {
	return []bus.Option{
		bus.WithRate(s.Rate),
		bus.WithRecoveryInterval(s.Recovery),
		bus.WithMulticastHops(s.Hops),
		bus.WithBuffers(s.SndBuf, s.RcvBuf),
		bus.WithHWM(s.HWM, s.HWM),
		bus.WithLogf(logf),
	}
}

// AutoDuration is a duration flag whose default is worked out later ("auto").
type AutoDuration struct {
	D     time.Duration
	IsSet bool
}

func (a *AutoDuration) String() string {
	if a == nil || !a.IsSet {
		return "auto"
	}
	return a.D.String()
}

// Set parses a Go duration, e.g. 100ms.
func (a *AutoDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("parse error")
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	a.D, a.IsSet = d, true
	return nil
}
