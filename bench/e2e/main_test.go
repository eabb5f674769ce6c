// Package e2e runs the real binaries, feedpub and feedsub, across a
// multicast lab of network namespaces: the tests a user would run by hand,
// asserted on counts and order. Speed belongs to bench/cmd/feedbench.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/summary"
)

// bin holds the binaries built once for the package.
var bin struct {
	dir                                              string
	feedpub, feedsub, feedcache, feednois, feedforge string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "feedbus-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Other users (setpriv --reuid) must be able to run the binaries.
	os.Chmod(dir, 0o755)
	bin.dir = dir
	bin.feedpub = filepath.Join(dir, "feedpub")
	bin.feedsub = filepath.Join(dir, "feedsub")
	bin.feedcache = filepath.Join(dir, "feedcache")
	bin.feednois = filepath.Join(dir, "feednoise")
	bin.feedforge = filepath.Join(dir, "feedforge")
	// The product's binaries build in the product's module (the root, two
	// directories up), so its go.sum, not bench's, vouches for their
	// dependencies; feednoise builds here.
	for _, b := range []struct{ dir, pkgs string }{
		{"../..", "./cmd/feedpub ./cmd/feedsub ./cmd/feedcache"},
		{".", "github.com/feedbus/feedbus/bench/cmd/feednoise github.com/feedbus/feedbus/bench/cmd/feedforge"},
	} {
		build := exec.Command("go", append([]string{"build", "-o", dir + "/"}, strings.Fields(b.pkgs)...)...)
		build.Dir = b.dir
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building binaries:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireLab brings up this package's lab, or skips where a lab cannot be
// built; in CI (where we are root) a missing lab fails instead.
func requireLab(t *testing.T, cfg lab.Config) *lab.Lab {
	t.Helper()
	if err := lab.Available(); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FEEDLAB_REQUIRE") != "" {
			t.Fatalf("lab required but unavailable: %v", err)
		}
		t.Skipf("no multicast lab here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}

// proc is a binary running in a lab host (or locally), with its stderr
// captured and scanned for lines as they come.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	errb bytes.Buffer
	outb bytes.Buffer
	cond *sync.Cond
	done chan struct{}
	err  error
}

func start(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = &lockedWriter{p: p, b: &p.outb}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.errb.WriteString(sc.Text() + "\n")
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		p.mu.Lock()
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s\n%s stdout:\n%s", name, p.stderr(), name, p.stdout())
		}
	})
	return p
}

type lockedWriter struct {
	p *proc
	b *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.b.Write(b)
}

func (p *proc) stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.errb.String() }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
func (p *proc) stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.outb.String() }

// waitFor waits until match is true of everything stderr has said so far.
func (p *proc) waitFor(t *testing.T, timeout time.Duration, what string, match func(stderr string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if match(p.errb.String()) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before %s; stderr:\n%s", p.name, p.err, what, p.errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s within %v; stderr:\n%s", p.name, what, timeout, p.errb.String())
		}
		p.cond.Wait()
	}
}

// wait waits for the process to end and returns its error.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not end within %v; stderr:\n%s", p.name, timeout, p.stderr())
		return nil
	}
}

// waitJoined waits for feedsub to report every line joined.
func (p *proc) waitJoined(t *testing.T, lines int) {
	t.Helper()
	p.waitFor(t, 10*time.Second, "joined lines", func(stderr string) bool {
		return strings.Count(stderr, " joined\n") >= lines
	})
}

func readSummary(t *testing.T, path string) *summary.Summary {
	t.Helper()
	s, err := summary.ReadJSONFile(path)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	return s
}
