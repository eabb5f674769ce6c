package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testFlags is a FlagSet like the binaries': plain durations, an
// AutoDuration and a number.
func testFlags() (*flag.FlagSet, *AutoDuration) {
	fs := flag.NewFlagSet("feedpub", flag.ContinueOnError)
	fs.Duration("duration", 0, "stop after this long")
	fs.Duration("linger", 2*time.Second, "linger this long")
	gap := &AutoDuration{}
	fs.Var(gap, "gap-wait", "how long a hole may wait")
	fs.Uint64("count", 0, "stop after this many messages")
	return fs, gap
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the whole error text
	}{
		{[]string{"--duration", "5"}, `--duration "5": a duration needs a unit, e.g. 5s or 500ms (see feedpub -h)`},
		{[]string{"--duration=5"}, `--duration "5": a duration needs a unit, e.g. 5s or 500ms (see feedpub -h)`},
		{[]string{"-linger", "-3"}, `--linger "-3": a duration needs a unit, e.g. 5s or 500ms (see feedpub -h)`},
		{[]string{"--gap-wait", "100"}, `--gap-wait "100": a duration needs a unit, e.g. 5s or 500ms (see feedpub -h)`},
		// Other bad durations, and a duration refused for another
		// reason, keep flag's text.
		{[]string{"--duration", `"5"`}, `invalid value "\"5\"" for flag -duration: parse error (see feedpub -h)`},
		{[]string{"--duration", "5x"}, `invalid value "5x" for flag -duration: parse error (see feedpub -h)`},
		{[]string{"--gap-wait", "soon"}, `invalid value "soon" for flag -gap-wait: time: invalid duration "soon" (see feedpub -h)`},
		{[]string{"--gap-wait", "-1s"}, `invalid value "-1s" for flag -gap-wait: must not be negative (see feedpub -h)`},
		// Other flags keep flag's text, on one line.
		{[]string{"--count", "5s"}, `invalid value "5s" for flag -count: parse error (see feedpub -h)`},
		{[]string{"--nope"}, `flag provided but not defined: -nope (see feedpub -h)`},
		{[]string{"--duration"}, `flag needs an argument: -duration (see feedpub -h)`},
		{[]string{"--count", "1", "extra"}, `unexpected argument "extra" (see feedpub -h)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs, _ := testFlags()
			err := Parse(fs, tt.args, new(strings.Builder))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Parse(%q) = %v\nwant %s", tt.args, err, tt.want)
			}
			if code := ExitCode(err); code != ExitUsage {
				t.Errorf("ExitCode = %d, want %d", code, ExitUsage)
			}
		})
	}
}

func TestParseDurations(t *testing.T) {
	fs, gap := testFlags()
	if err := Parse(fs, []string{"--duration", "1m30s", "--gap-wait", "0"}, new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	if d := fs.Lookup("duration").Value.(flag.Getter).Get(); d != 90*time.Second {
		t.Errorf("--duration = %v", d)
	}
	if !gap.IsSet || gap.D != 0 {
		t.Errorf("--gap-wait 0 = %+v, want set to 0", *gap)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		args []string
		want error
	}{
		{[]string{"--version"}, ErrVersion},
		{[]string{"-version"}, ErrVersion},
		{[]string{"--count", "3", "--version"}, ErrVersion},
		{[]string{"--version", "--duration", "5"}, ErrVersion}, // --version wins over what follows
		{[]string{"--version=false"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs, _ := testFlags()
			if err := Parse(fs, tt.args, new(strings.Builder)); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Parse(%q) = %v, want %v", tt.args, err, tt.want)
			}
		})
	}

	// -h lists --version.
	fs, _ := testFlags()
	var usage strings.Builder
	if err := Parse(fs, []string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-h) = %v", err)
	}
	if !strings.Contains(usage.String(), "-version") {
		t.Errorf("usage lacks -version:\n%s", usage.String())
	}

	// A program's own --version flag is left alone.
	fs = flag.NewFlagSet("feedpub", flag.ContinueOnError)
	own := fs.Bool("version", false, "the program's own")
	if err := Parse(fs, []string{"--version"}, new(strings.Builder)); err != nil || !*own {
		t.Errorf("with the program's own --version: err %v, set %v", err, *own)
	}
}

// TestMainHelper is not a test: TestMain* run the test binary as a
// program around Main, with the arguments in $CLI_TEST_MAIN_ARGS.
func TestMainHelper(t *testing.T) {
	args, ok := os.LookupEnv("CLI_TEST_MAIN_ARGS")
	if !ok {
		t.Skip("runs only as a helper process")
	}
	os.Args = append([]string{"feedpub"}, strings.Fields(args)...)
	fs, _ := testFlags()
	Main("feedpub", func(_ context.Context, args []string, _, stderr io.Writer) error {
		return Parse(fs, args, stderr)
	})
}

// runMain runs Main in a child process with args and returns its stdout,
// stderr and exit code.
func runMain(t *testing.T, args string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainHelper$")
	cmd.Env = append(os.Environ(), "CLI_TEST_MAIN_ARGS="+args)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestMainVersion(t *testing.T) {
	stdout, stderr, code := runMain(t, "--count 1 --version")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	fields := strings.Fields(stdout)
	if len(fields) < 3 || fields[0] != "feedpub" || fields[len(fields)-1] != runtime.Version() || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout %q, want one line: feedpub VERSION [REVISION TIME] %s", stdout, runtime.Version())
	}
}

func TestMainDurationWithoutUnit(t *testing.T) {
	stdout, stderr, code := runMain(t, "--duration 5")
	want := "feedpub: --duration \"5\": a duration needs a unit, e.g. 5s or 500ms (see feedpub -h)\n"
	if code != ExitUsage || stderr != want || stdout != "" {
		t.Errorf("exit %d, stderr %q, stdout %q; want exit %d and stderr %q", code, stderr, stdout, ExitUsage, want)
	}
}
