// Package cli holds what feedpub and feedsub share on the command line:
// repeatable flags, the socket settings, exit codes and one-line errors.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
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
// line that names the program; a duration given without a unit gets a
// line that says so. -h prints the usage and returns flag.ErrHelp; --version (which
// Parse adds to fs) returns ErrVersion, for Main to print the version.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	var version *bool
	if fs.Lookup("version") == nil {
		version = fs.Bool("version", false, "print the version (module, VCS revision and time, Go) and exit")
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case version != nil && *version:
		return ErrVersion
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stderr)
		fs.Usage()
		return err
	case err != nil:
		if msg, ok := durationError(fs, err); ok {
			return Usagef("%s (see %s -h)", msg, fs.Name())
		}
		return Usagef("%v (see %s -h)", err, fs.Name())
	case fs.NArg() > 0:
		return Usagef("unexpected argument %q (see %s -h)", fs.Arg(0), fs.Name())
	}
	return nil
}

// invalidValue matches the error flag.FlagSet.Parse returns when a flag's
// Set fails: invalid value "5" for flag -duration: parse error.
var invalidValue = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -(\S+): `)

// durationError rewrites err when it is about a duration flag's value
// that lacks a unit (5 for 5s), where flag's own text says only "parse
// error"; other errors keep flag's text, which quotes the value.
func durationError(fs *flag.FlagSet, err error) (string, bool) {
	m := invalidValue.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	value, uerr := strconv.Unquote(m[1])
	f := fs.Lookup(m[2])
	if uerr != nil || f == nil || !isDuration(f.Value) {
		return "", false
	}
	// time.ParseDuration has no error value to match, only this text.
	if _, perr := time.ParseDuration(value); perr == nil || !strings.Contains(perr.Error(), "missing unit") {
		return "", false
	}
	return fmt.Sprintf("--%s %q: a duration needs a unit, e.g. 5s or 500ms", f.Name, value), true
}

// isDuration reports whether v holds a time.Duration: flag.Duration's
// values and AutoDuration do.
func isDuration(v flag.Value) bool {
	g, ok := v.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(time.Duration)
	return ok
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
	Datagram int
	Loopback bool
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
	fs.IntVar(&s.HWM, "hwm", def, "frames queued per line before ZeroMQ "+map[string]string{"send": "drops (ZMQ_SNDHWM)", "receive": "stops reading (ZMQ_RCVHWM); on udp:// lines, the ring of datagrams between a line's receive thread and the loop"}[hwm])
	fs.IntVar(&s.Datagram, "max-datagram", d.MaxDatagram, "udp:// lines: the largest frame, one datagram each (the path's UDP payload: 1472 for an MTU of 1500, 8972 for jumbo frames of 9000)")
	if hwm == "send" {
		fs.BoolVar(&s.Loopback, "udp-loopback", false, "udp:// lines: deliver the datagrams to subscribers on this host too (IP_MULTICAST_LOOP)")
	}
}

// Options turns the flags into bus options.
func (s *Socket) Options(logf func(string, ...any)) []bus.Option {
	return []bus.Option{
		bus.WithRate(s.Rate),
		bus.WithRecoveryInterval(s.Recovery),
		bus.WithMulticastHops(s.Hops),
		bus.WithBuffers(s.SndBuf, s.RcvBuf),
		bus.WithHWM(s.HWM, s.HWM),
		bus.WithMaxDatagram(s.Datagram),
		bus.WithLoopback(s.Loopback),
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

// Get returns the duration, so that Parse treats the flag as one.
func (a *AutoDuration) Get() any { return a.D }

// Set parses a Go duration, e.g. 100ms.
func (a *AutoDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	a.D, a.IsSet = d, true
	return nil
}

// CheckWritable opens path for writing (creating it if need be) and closes
// it again, so that a run whose summary could not be written fails before
// it starts instead of at its end. flag names the option for the error.
func CheckWritable(flag, path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return Usagef("%s: %v", flag, err)
	}
	return f.Close()
}

// ParseCodecs parses a --codecs value: none, s2 or zstd, comma-separated.
func ParseCodecs(list string) ([]bus.Codec, error) {
	var codecs []bus.Codec
	for _, name := range strings.Split(list, ",") {
		codec, err := bus.ParseCodec(strings.TrimSpace(name))
		if err != nil {
			return nil, Usagef("--codecs %q: want none, s2 or zstd, comma-separated", list)
		}
		codecs = append(codecs, codec)
	}
	return codecs, nil
}

// ReadDicts reads the --zstd-dict files.
func ReadDicts(paths []string) ([][]byte, error) {
	var dicts [][]byte
	for _, path := range paths {
		d, err := os.ReadFile(path)
		if err != nil {
			return nil, UsageError{Err: fmt.Errorf("--zstd-dict: %w", err)}
		}
		dicts = append(dicts, d)
	}
	return dicts, nil
}
