package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/affinity"
)

// threadsByName maps the names (comm) of a process's threads to their ids.
func threadsByName(t *testing.T, pid int) map[string][]int {
	t.Helper()
	threads, err := procfs.AllThreads(pid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, th := range threads {
		name, err := th.Comm()
		if err != nil {
			continue // the thread has exited
		}
		out[name] = append(out[name], th.PID)
	}
	return out
}

// wantPinned asserts that the one thread named name in pid may run on
// exactly cpu, by its Cpus_allowed_list.
func wantPinned(t *testing.T, pid int, threads map[string][]int, name string, cpu int) {
	t.Helper()
	tids := threads[name]
	if len(tids) != 1 {
		t.Errorf("threads named %q: %v, want exactly one (all: %v)", name, tids, threads)
		return
	}
	set, err := affinity.CPUsAllowed(pid, tids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := set.String(); got != strconv.Itoa(cpu) {
		t.Errorf("%s (tid %d) Cpus_allowed_list = %s, want %d", name, tids[0], got, cpu)
	}
}

// TestPinning starts each binary with two lines and checks, in /proc, that
// each libzmq I/O thread and the receive or send loop sit exactly where the
// flags, or the profile overridden by flags, asked. Lines are ipc://, so no
// network is needed.
func TestPinning(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs to tell placements apart")
	}
	dir := t.TempDir()
	profile := filepath.Join(dir, "host.toml")
	if err := os.WriteFile(profile, []byte("pin_io = [0, 1]\npin_recv = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		io0, io1   int
		loop       int
		loopThread string
	}{
		{"feedsub flags", []string{"--pin-io", "1,0", "--pin-recv", "1"}, 1, 0, 1, "feedsub/recv"},
		{"feedsub profile", []string{"--profile", profile}, 0, 1, 0, "feedsub/recv"},
		{"feedsub profile and flag", []string{"--profile", profile, "--pin-recv", "1"}, 0, 1, 1, "feedsub/recv"},
		{"feedpub flags", []string{"--pin-io", "1,0", "--pin-recv", "0"}, 1, 0, 0, "feedpub/send"},
		{"feedpub profile and flag", []string{"--profile", profile, "--pin-io", "1,1"}, 1, 1, 0, "feedpub/send"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := []string{
				"--line", "ipc://" + filepath.Join(dir, strconv.Itoa(i)+"a"),
				"--line", "ipc://" + filepath.Join(dir, strconv.Itoa(i)+"b"),
			}
			var cmd *exec.Cmd
			var ready string
			if strings.HasPrefix(c.name, "feedsub") {
				cmd = exec.Command(bin.feedsub, append(append(lines, "--idle", "1m", "--status", "0"), c.args...)...)
				ready = " joined\n"
			} else {
				cmd = exec.Command(bin.feedpub, append(append(lines, "--rate", "10", "--duration", "1m"), c.args...)...)
				ready = "send loop on thread"
			}
			p := start(t, c.name, cmd)
			p.waitFor(t, 10*time.Second, "start", func(s string) bool { return strings.Contains(s, ready) })
			pid := cmd.Process.Pid
			threads := threadsByName(t, pid)
			wantPinned(t, pid, threads, "ZMQbg/IO/0", c.io0)
			wantPinned(t, pid, threads, "ZMQbg/IO/1", c.io1)
			wantPinned(t, pid, threads, c.loopThread, c.loop)
			// A clean stop on SIGINT: exit code 0 for feedpub, 5 ("received
			// nothing") for a feedsub that had no feed to follow.
			cmd.Process.Signal(syscall.SIGINT)
			err := p.wait(t, 10*time.Second)
			var ee *exec.ExitError
			switch {
			case strings.HasPrefix(c.name, "feedsub") && (!errors.As(err, &ee) || ee.ExitCode() != 5):
				t.Errorf("after SIGINT: %v, want exit status 5 (received nothing)", err)
			case !strings.HasPrefix(c.name, "feedsub") && err != nil:
				t.Errorf("after SIGINT: %v", err)
			}
		})
	}
}

func TestBadPlacement(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := write("missing.toml", "pin_io = [4000]\n")
	offline := write("offline.toml", "pin_io = ["+strconv.Itoa(affinity.MaxCPUs-1)+"]\n")
	typo := write("typo.toml", "pin_io = [0]\npin_recieve = 1\n")
	line := []string{"--line", "ipc://" + filepath.Join(dir, "x")}
	for _, b := range []string{bin.feedpub, bin.feedsub} {
		runBad(t, "pin_io[0] = 4000", b, append(line, "--profile", missing)...)
		runBad(t, "cpu not online: "+strconv.Itoa(affinity.MaxCPUs-1), b, append(line, "--profile", offline)...)
		runBad(t, `unknown profile key "pin_recieve"`, b, append(line, "--profile", typo)...)
		runBad(t, "cpu not online: "+strconv.Itoa(runtime.NumCPU()+7), b, append(line, "--pin-recv", strconv.Itoa(runtime.NumCPU()+7))...)
		runBad(t, "has 2 CPUs for 1 lines", b, append(line, "--pin-io", "0,1")...)
		runBad(t, "no such file", b, append(line, "--profile", filepath.Join(dir, "nope.toml"))...)
	}
}
