package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/bench/lab"
)

// proc is a program running in a lab host. Its stderr is kept (and echoed
// with -v).
type proc struct {
	desc   string
	pid    int
	stdout bytes.Buffer
	// accounts are exit codes that report the run rather than fail it:
	// feedsub's 4 (ended with loss) and 5 (received nothing), which the
	// benchmark judges from the summary itself.
	accounts []int

	ready     chan struct{} // closed when a stderr line satisfies isReady
	done      chan struct{} // closed when the program has exited
	err       error         // its exit, valid after done
	mu        sync.Mutex
	stderr    []string
	readyOnce sync.Once
}

// cpuTime is a program's CPU time split into its ZeroMQ I/O thread(s) and
// everything else (the Go side: the application goroutine, GC, runtime).
type cpuTime struct {
	app, io time.Duration
}

// minus returns c - o, never below zero (a thread that exits takes its
// CPU time with it).
func (c cpuTime) minus(o cpuTime) cpuTime {
	return cpuTime{app: max(c.app-o.app, 0), io: max(c.io-o.io, 0)}
}

// start runs path with args in h. isReady picks the stderr line that says
// the program is ready; echo, if not nil, gets every stderr line.
func start(ctx context.Context, l *lab.Lab, h lab.Host, desc string, isReady func(string) bool, echo io.Writer, path string, args ...string) (*proc, error) {
	p := &proc{desc: desc, ready: make(chan struct{}), done: make(chan struct{})}
	cmd := l.Command(ctx, h, path, args...)
	cmd.Stdout = &p.stdout
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	// ip netns exec execs the program in place, so the pid is the program's.
	p.pid = cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if echo != nil {
				fmt.Fprintf(echo, "  [%s] %s\n", desc, line)
			}
			p.mu.Lock()
			p.stderr = append(p.stderr, line)
			p.mu.Unlock()
			if isReady != nil && isReady(line) {
				p.readyOnce.Do(func() { close(p.ready) })
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits for the ready line. It fails if the program exits first
// or timeout passes.
func (p *proc) waitReady(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		return p.failure(fmt.Errorf("exited before it was ready: %v", p.err))
	case <-t.C:
		return p.failure(fmt.Errorf("not ready within %v", timeout))
	}
}

// wait waits for the program to exit and returns its failure, if any.
func (p *proc) wait() error {
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && slices.Contains(p.accounts, ee.ExitCode()) {
		return nil
	}
	if p.err != nil {
		return p.failure(p.err)
	}
	return nil
}

// failure names the program and adds the end of its stderr to err.
func (p *proc) failure(err error) error {
	lines := p.lines()
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s: %w", p.desc, err)
	}
	return fmt.Errorf("%s: %w; stderr: %s", p.desc, err, strings.Join(lines, "; "))
}

// lines returns the stderr lines so far.
func (p *proc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stderr...)
}

// line returns the last stderr line starting with prefix, or "".
func (p *proc) line(prefix string) string {
	lines := p.lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}

// cpu returns the CPU time the program's threads have used so far, by kind
// of thread.
func (p *proc) cpu(fs procfs.FS) (cpuTime, error) {
	c, err := threadsCPU(fs, p.pid)
	if err != nil {
		return cpuTime{}, fmt.Errorf("%s: CPU time: %w", p.desc, err)
	}
	return c, nil
}
