package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	zmq "github.com/pebbe/zmq4"
)

// The lab feedbench builds for itself; its own Name and Net keep it apart
// from the labs of tests and of people working on the same machine.
const (
	labName = "fbb"
	labNet  = 79
)

// Fixed parts of every measurement.
const (
	warmup      = time.Second     // publishers' warmup before data
	idle        = 2 * time.Second // subscribers stop this long after the last message
	joinTimeout = 15 * time.Second
	// slack bounds one measurement beyond warmup + duration + linger + idle.
	slack = 60 * time.Second
)

type config struct {
	duration time.Duration
	sizes    sizes
	runs     int
	short    bool
	out      string
	verbose  bool
	args     []string // the command line, for the report
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
	c := &config{sizes: sizes{64}, args: args}
	fs := flag.NewFlagSet("feedbench", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long each publisher sends")
	fs.Var(&c.sizes, "size", "message size in bytes; a comma-separated list (64,1024) measures each in turn")
	fs.IntVar(&c.runs, "runs", 3, "measurements of each kind per size, alternating bare and feedbus")
	fs.BoolVar(&c.short, "short", false, "quick check for CI: 1 run of 2s unless -runs or -duration say otherwise")
	fs.StringVar(&c.out, "out", "", "also write the results into this markdown file, replacing each measured size's section between its feedbench markers (the file is created if missing)")
	fs.BoolVar(&c.verbose, "v", false, "echo the programs' stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/cmd/feedbench [-duration 5s] [-size 64[,1024]] [-runs 3] [-short] [-out bench/RESULTS.md]\n\n"+
			"Builds feedpub, feedsub and barepair, brings up lab %q (net %d, one subscriber) and measures,\n"+
			"over EPGM on line A, a bare ZeroMQ PUB/SUB pair against feedpub --rate 0 -> feedsub. Needs root.\n\n", labName, labNet)
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stderr); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.short {
		if !set["runs"] {
			c.runs = 1
		}
		if !set["duration"] {
			c.duration = 2 * time.Second
		}
	}
	switch {
	case c.duration < 100*time.Millisecond:
		return nil, cli.Usagef("-duration %v: want at least 100ms", c.duration)
	case c.runs < 1:
		return nil, cli.Usagef("-runs %d must be at least 1", c.runs)
	case len(c.sizes) == 0:
		return nil, cli.Usagef("no -size given")
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
	m := describeMachine()

	tmp, err := os.MkdirTemp("", "feedbench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(stderr, "feedbench: building feedpub, feedsub and barepair in %s\n", tmp)
	if err := build(ctx, tmp); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "feedbench: bringing up lab %s (net %d)\n", labName, labNet)
	l, err := lab.Up(ctx, lab.Config{Name: labName, Net: labNet, Subscribers: 1})
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	m.bufMax = l.BufMax()

	b := &bench{cfg: c, lab: l, bin: tmp, tmp: tmp, stderr: stderr}
	rep := &report{machine: m, cfg: c, date: time.Now().UTC()}
	for _, size := range c.sizes {
		res := &sizeResult{size: size}
		for i := 1; i <= c.runs; i++ {
			for _, k := range []kind{bare, feedbus} {
				s, err := b.measure(ctx, k, size, i)
				if err != nil && ctx.Err() == nil {
					// One retry, so that a passing hiccup (on a shared
					// machine) does not throw the other runs away; the
					// report says it happened.
					fmt.Fprintf(stderr, "feedbench: size %d run %d %s failed, repeating it: %v\n", size, i, k, err)
					res.retries = append(res.retries, fmt.Sprintf("run %d %s failed and was repeated: %v", i, k, err))
					s, err = b.measure(ctx, k, size, i)
				}
				if err != nil {
					return fmt.Errorf("size %d run %d %s: %w", size, i, k, err)
				}
				fmt.Fprintf(stderr, "feedbench: size %d run %d/%d %-7s %s\n", size, i, c.runs, k, s.brief())
				res.samples = append(res.samples, s)
			}
		}
		res.cmds = maps.Clone(b.cmds)
		rep.sizes = append(rep.sizes, res)
	}

	sections := rep.sections()
	for _, s := range sections {
		if _, err := io.WriteString(stdout, s.text+"\n"); err != nil {
			return err
		}
	}
	if c.out != "" {
		if err := updateFile(c.out, sections); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "feedbench: updated %s\n", c.out)
	}
	return nil
}

// build compiles the three programs into dir with the go command in PATH,
// from the root of the module feedbench is run in.
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
		return errors.New("not inside the feedbus module; run feedbench from its checkout")
	}
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", dir+string(filepath.Separator),
		"./cmd/feedpub", "./cmd/feedsub", "./bench/cmd/barepair")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, strings.Join(strings.Fields(string(out)), " "))
	}
	return nil
}
