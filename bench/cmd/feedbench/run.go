package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/procfs"
)

// The lab feedbench builds for itself; its own Name and Net keep it apart
// from the labs of tests and of people working on the same machine.
const (
	labName = "fbb"
	labNet  = 79
)

// Fixed parts of every measurement.
const (
	warmup = time.Second // publishers' warmup before data, so the subscriber joins the PGM session
	linger = 2 * time.Second
	// idle: subscribers stop this long after the last message. feedsub
	// counts it from its start until data arrives, so it must exceed the
	// warmup.
	idle        = 2 * time.Second
	joinTimeout = 15 * time.Second
	// slack bounds one measurement beyond warmup + duration + idle.
	slack = 60 * time.Second
	// maxHlogBytes is what the interval logs may take together.
	maxHlogBytes = 2 << 20
)

type config struct {
	sizes       sizes
	duration    time.Duration // data phase of each throughput run
	iterations  int           // paced runs per search
	confirm     int           // clean runs in a row a rate needs to count as sustainable
	latDuration time.Duration // data phase of each latency run
	latReps     int           // runs of each system at 10k msg/s
	pgmLimit    int           // kbit/s, the binding PGM rate of the compression runs
	short       bool
	out         string
	plots       string
	verbose     bool
	authReps    int      // alternated searches without and with --auth-key
	authOnly    bool     // only the authentication comparison, printed, not written
	metricsReps int      // alternated searches without and with --metrics
	metricsOnly bool     // only the --metrics comparison, printed, not written
	args        []string // the command line, for the report
}

// sizes is a comma-separated list of message sizes.
type sizes []int

func (s *sizes) String() string {
	var parts []string
	for _, n := range *s {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ",")
}

func (s *sizes) Set(v string) error {
	var out sizes
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("size %q is not a number", f)
		}
		out = append(out, n)
	}
	*s = out
	return nil
}

// maxSize is the largest message feedpub fits in its default 1400-byte frame.
const maxSize = 1400 - bus.HeaderLen

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{sizes: sizes{64, 256, 1024}, args: args}
	fs := flag.NewFlagSet("feedbench", flag.ContinueOnError)
	fs.Var(&c.sizes, "size", "message sizes of the throughput sweep, comma-separated; must include 64 (the latency and compression runs use it)")
	fs.DurationVar(&c.duration, "duration", 2500*time.Millisecond, "how long the publisher sends in each throughput run")
	fs.IntVar(&c.iterations, "iterations", 6, "paced runs per search for the highest sustainable rate, after the --rate 0 run")
	fs.IntVar(&c.confirm, "confirm", 3, "clean runs in a row, nothing lost, a rate needs to count as sustainable: the search's best is run again until it has them, or fails and the next one down is tried")
	fs.DurationVar(&c.latDuration, "latency-duration", 4*time.Second, "how long the publisher sends in each latency run")
	fs.IntVar(&c.latReps, "latency-reps", 3, "runs of each system at 10k msg/s, alternating; the acceptance check takes the median")
	fs.IntVar(&c.pgmLimit, "pgm-limit", 20_000, "the binding PGM rate limit (kbit/s) under which compression is compared")
	fs.BoolVar(&c.short, "short", false, "quick end-to-end check for CI: -size 64 -duration 1s -iterations 1 -confirm 1 -latency-duration 1500ms -latency-reps 1 -auth-reps 1 -metrics-reps 1 unless given")
	fs.StringVar(&c.out, "out", "", "also write the report into this markdown file, between its feedbench markers (the file is created if missing)")
	fs.StringVar(&c.plots, "plots", "", "directory for the PNG plots and .hlog interval logs (default: results/ beside -out, else a new temporary directory)")
	fs.BoolVar(&c.verbose, "v", false, "echo the programs' stderr")
	fs.BoolVar(&c.authOnly, "auth-only", false, "run only the --auth-key comparison (64 B, alternated -auth-reps times) and print its table; -out is not updated")
	fs.IntVar(&c.authReps, "auth-reps", 2, "searches of feedbus 64 B without and with --auth-key, alternating")
	fs.BoolVar(&c.metricsOnly, "metrics-only", false, "run only the --metrics comparison (64 B, both programs scraped every second, alternated -metrics-reps times) and print its table; -out is not updated")
	fs.IntVar(&c.metricsReps, "metrics-reps", 2, "searches of feedbus 64 B without and with --metrics (and a scrape each second), alternating")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage (in bench/): go run ./cmd/feedbench [-short] [-out RESULTS.md] [-plots DIR] [flags]\n\n"+
			"Builds feedpub, feedsub, barepair and udpwire, brings up lab %q (net %d, one subscriber) and runs the\n"+
			"standard suite over line A: throughput (highest sustainable rate), latency and compression, for\n"+
			"feedbus, the bare ZeroMQ pair and plain UDP multicast. Needs root.\n\n", labName, labNet)
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.short {
		for name, apply := range map[string]func(){
			"size":             func() { c.sizes = sizes{64} },
			"duration":         func() { c.duration = time.Second },
			"iterations":       func() { c.iterations = 1 },
			"confirm":          func() { c.confirm = 1 },
			"latency-duration": func() { c.latDuration = 1500 * time.Millisecond },
			"latency-reps":     func() { c.latReps = 1 },
			"auth-reps":        func() { c.authReps = 1 },
			"metrics-reps":     func() { c.metricsReps = 1 },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case c.duration < 500*time.Millisecond || c.latDuration < 500*time.Millisecond:
		return nil, cli.Usagef("-duration %v, -latency-duration %v: want at least 500ms", c.duration, c.latDuration)
	case c.iterations < 1 || c.latReps < 1 || c.authReps < 1 || c.metricsReps < 1 || c.confirm < 1:
		return nil, cli.Usagef("-iterations %d, -latency-reps %d, -auth-reps %d, -metrics-reps %d and -confirm %d must be at least 1", c.iterations, c.latReps, c.authReps, c.metricsReps, c.confirm)
	case c.authOnly && c.out != "":
		return nil, cli.Usagef("-auth-only prints its table: it does not update -out")
	case c.metricsOnly && c.out != "":
		return nil, cli.Usagef("-metrics-only prints its table: it does not update -out")
	case c.pgmLimit < 100:
		return nil, cli.Usagef("-pgm-limit %d: want at least 100 kbit/s", c.pgmLimit)
	case !slices.Contains(c.sizes, latencySize):
		return nil, cli.Usagef("-size %s must include %d, the size of the latency and compression runs", &c.sizes, latencySize)
	}
	for _, n := range c.sizes {
		if n < 64 || n > maxSize {
			return nil, cli.Usagef("-size %d: want %d-%d (feedpub pads messages to the size, and one must fit its %d-byte frame)", n, 64, maxSize, maxSize+bus.HeaderLen)
		}
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root, to build the lab's network namespaces (euid %d)", os.Geteuid())
	}
	if !zmq.HasPgm() {
		return errors.New("libzmq was built without PGM support; install one built --with-pgm (Debian's is)")
	}
	began := time.Now()
	proc, err := procfs.NewDefaultFS()
	if err != nil {
		return fmt.Errorf("reading /proc: %w", err)
	}
	res := &results{machine: describeMachine(proc), cfg: c, date: began.UTC()}

	tmp, err := os.MkdirTemp("", "feedbench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if res.plotsDir, err = plotsDir(c); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "feedbench: building feedpub, feedsub, barepair and udpwire in %s\n", tmp)
	if err := build(ctx, tmp); err != nil {
		return err
	}
	b := &bench{cfg: c, bin: tmp, tmp: tmp, dict: filepath.Join(tmp, fmt.Sprintf("zstd-%dB.dict", latencySize)), proc: proc, stderr: stderr}
	if b.keys, err = writeKeys(tmp); err != nil {
		return err
	}
	if res.dictBytes, err = trainDict(ctx, filepath.Join(tmp, "feedpub"), b.dict); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "feedbench: bringing up lab %s (net %d)\n", labName, labNet)
	l, err := lab.Up(ctx, lab.Config{Name: labName, Net: labNet, Subscribers: 1, Lines: 1})
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	res.machine.bufMax = l.BufMax()
	b.lab = l
	if c.authOnly || c.metricsOnly {
		if c.authOnly {
			if err := b.authSection(ctx, res); err != nil {
				return err
			}
		}
		if c.metricsOnly {
			if err := b.metricsSection(ctx, res); err != nil {
				return err
			}
		}
		var out strings.Builder
		p := func(format string, args ...any) { fmt.Fprintf(&out, format, args...) }
		res.authTable(p)
		res.metricsTable(p)
		_, err := io.WriteString(stdout, out.String())
		return err
	}
	if err := b.suite(ctx, res); err != nil {
		return err
	}
	if err := l.Down(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "feedbench: lab %s is down\n", labName)
	res.notes = append(res.notes, b.notes...)

	if err := checkHlogs(res); err != nil {
		return err
	}
	if err := drawPlots(res); err != nil {
		return err
	}
	res.took = time.Since(began)
	linkDir := res.plotsDir
	if c.out != "" {
		linkDir = relTo(filepath.Dir(c.out), res.plotsDir)
	}
	text := res.render(linkDir)
	if _, err := io.WriteString(stdout, text); err != nil {
		return err
	}
	if c.out != "" {
		if err := updateFile(c.out, text); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "feedbench: updated %s\n", c.out)
	}
	fmt.Fprintf(stderr, "feedbench: plots and interval logs in %s; took %v\n", res.plotsDir, res.took.Round(time.Second))
	return nil
}

// plotsDir makes the directory for plots and interval logs.
func plotsDir(c *config) (string, error) {
	dir := c.plots
	switch {
	case dir == "" && c.out != "":
		dir = filepath.Join(filepath.Dir(c.out), "results")
	case dir == "":
		d, err := os.MkdirTemp("", "feedbench-results-")
		if err != nil {
			return "", fmt.Errorf("plots dir: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("plots dir: %w", err)
	}
	return dir, nil
}

// relTo returns target relative to base if it can, else target.
func relTo(base, target string) string {
	ab, err1 := filepath.Abs(base)
	at, err2 := filepath.Abs(target)
	if err1 != nil || err2 != nil {
		return target
	}
	r, err := filepath.Rel(ab, at)
	if err != nil {
		return target
	}
	return filepath.ToSlash(r)
}

// checkHlogs notes when the interval logs together exceed maxHlogBytes.
func checkHlogs(res *results) error {
	var total int64
	for _, p := range res.hlogs {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("interval log: %w", err)
		}
		total += fi.Size()
	}
	if total > maxHlogBytes {
		res.notes = append(res.notes, fmt.Sprintf("**The interval logs take %d bytes together, more than %d**: shorten -latency-duration.", total, maxHlogBytes))
	}
	return nil
}

// benchModule is the module feedbench belongs to; it builds the programs
// from there, the feedbus ones through its replace directive (the root
// module cannot build the bench packages).
const benchModule = "github.com/feedbus/feedbus/bench"

// build compiles the four programs into dir with the go command in PATH,
// from the root of the bench module feedbench is run in.
func build(ctx context.Context, dir string) error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building: %w", err)
	}
	out, err := exec.CommandContext(ctx, gocmd, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("not inside the feedbus bench module; run feedbench from bench/ in its checkout")
	}
	list := exec.CommandContext(ctx, gocmd, "list", "-m")
	list.Dir = filepath.Dir(gomod)
	out, err = list.Output()
	if err != nil {
		return fmt.Errorf("go list -m: %w", err)
	}
	if mod := strings.TrimSpace(string(out)); mod != benchModule {
		return fmt.Errorf("inside module %s, not %s; run feedbench from bench/ in the feedbus checkout", mod, benchModule)
	}
	// The product's binaries build in the product's module, one directory
	// up, so its go.sum vouches for their dependencies.
	benchDir := filepath.Dir(gomod)
	for _, b := range []struct {
		dir  string
		pkgs []string
	}{
		{filepath.Dir(benchDir), []string{"./cmd/feedpub", "./cmd/feedsub"}},
		{benchDir, []string{"./cmd/barepair", "./cmd/udpwire"}},
	} {
		cmd := exec.CommandContext(ctx, gocmd, append([]string{"build", "-o", dir + string(filepath.Separator)}, b.pkgs...)...)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w: %s", err, strings.Join(strings.Fields(string(out)), " "))
		}
	}
	return nil
}

// trainDict has feedpub train a zstd dictionary on its synthetic feed of
// latencySize-byte messages, as the zstd runs send it, and returns its size.
// Training sends nothing.
func trainDict(ctx context.Context, feedpub, path string) (int, error) {
	out, err := exec.CommandContext(ctx, feedpub, "--train-dict", path, "--size", strconv.Itoa(latencySize)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("feedpub --train-dict: %w: %s", err, strings.TrimSpace(string(out)))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("zstd dictionary: %w", err)
	}
	return int(fi.Size()), nil
}
