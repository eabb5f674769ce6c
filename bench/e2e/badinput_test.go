package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runBad runs a binary that must refuse its input: within a few seconds,
// with exit code 2, one line on stderr that contains want, and no panic.
// Every case fails before a socket sends anything.
func runBad(t *testing.T, want string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr, stdout strings.Builder
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v hung", cmd.Args)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("%v: exit %v, want exit status 2", cmd.Args, err)
	}
	msg := strings.TrimSuffix(stderr.String(), "\n")
	if strings.Contains(msg, "\n") || msg == "" {
		t.Errorf("%v: stderr is not one line:\n%s", cmd.Args, stderr.String())
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
		t.Errorf("%v panicked:\n%s", cmd.Args, msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("%v: stderr %q does not say %q", cmd.Args, msg, want)
	}
	if stdout.Len() > 0 {
		t.Errorf("%v: wrote to stdout on a usage error: %q", cmd.Args, stdout.String())
	}
}

func TestBadInput(t *testing.T) {
	for _, b := range []string{bin.feedpub, bin.feedsub} {
		name := b[strings.LastIndex(b, "/")+1:]
		t.Run(name, func(t *testing.T) {
			runBad(t, `no interface named "nosuch0"`, b, "--line", "epgm://nosuch0;239.192.1.1:5555")
			runBad(t, "not a multicast group: 10.1.2.3", b, "--line", "epgm://lo;10.1.2.3:5555")
			runBad(t, "is not an IPv4 address", b, "--line", "epgm://lo;example.com:5555")
			runBad(t, "port", b, "--line", "epgm://lo;239.1.1.1:0")
			runBad(t, "want TRANSPORT://", b, "--line", "eth1;239.1.1.1:5555")
			runBad(t, `unknown transport "sctp"`, b, "--line", "sctp://lo;239.1.1.1:5555")
			runBad(t, "udp:// lines cannot be mixed with ZeroMQ's", b, "--line", "udp://lo;239.1.1.1:5555", "--line", "ipc:///tmp/feedbus-bad")
			runBad(t, "max datagram 50 bytes: want 128-65507", b, "--line", "udp://lo;239.1.1.1:5555", "--max-datagram", "50")
			runBad(t, "no interface on this host has address 192.0.2.77", b, "--line", "epgm://192.0.2.77;239.1.1.1:5555")
			runBad(t, "lines A and B both use 239.1.1.1:5555", b, "--line", "epgm://lo;239.1.1.1:5555", "--line", "epgm://lo;239.1.1.1:5555")
			runBad(t, "no --line given", b)
			runBad(t, `invalid value "fast" for flag -pgm-rate`, b, "--line", "epgm://lo;239.1.1.1:5555", "--pgm-rate", "fast")
			runBad(t, "rate -5 kbit/s must be positive", b, "--line", "epgm://lo;239.1.1.1:5555", "--pgm-rate", "-5")
			runBad(t, "flag provided but not defined: -bogus", b, "--bogus")
			runBad(t, `unexpected argument "extra"`, b, "--line", "epgm://lo;239.1.1.1:5555", "extra")
		})
	}
	runBad(t, `invalid value "abc" for flag -rate`, bin.feedpub, "--line", "epgm://lo;239.1.1.1:5555", "--rate", "abc")
	runBad(t, "--size 5000 does not fit in --frame-bytes 1400", bin.feedpub, "--line", "epgm://lo;239.1.1.1:5555", "--size", "5000")
	runBad(t, `invalid value "soon" for flag -idle`, bin.feedsub, "--line", "epgm://lo;239.1.1.1:5555", "--idle", "soon")
	for _, rate := range []string{"NaN", "+Inf", "-1"} {
		runBad(t, "--rate "+rate+": want messages per second", bin.feedpub, "--line", "epgm://lo;239.1.1.1:5555", "--rate", rate)
	}
	runBad(t, "less than one message a day would never send", bin.feedpub, "--line", "epgm://lo;239.1.1.1:5555", "--rate", "0.000001")
	runBad(t, "--expected-interval and --max-clock-skew must not be negative", bin.feedsub, "--line", "epgm://lo;239.1.1.1:5555", "--drain", "-1s")
	runBad(t, "--expected-interval and --max-clock-skew must not be negative", bin.feedsub, "--line", "epgm://lo;239.1.1.1:5555", "--expected-interval", "-1ms")
	runBad(t, "must not be negative", bin.feedsub, "--line", "epgm://lo;239.1.1.1:5555", "--gap-wait", "-1ms")
	for _, flag := range []string{"--json", "--hlog", "--capture"} {
		runBad(t, flag+": open /nonexistent/dir/out: no such file or directory", bin.feedsub, "--line", "epgm://lo;239.1.1.1:5555", flag, "/nonexistent/dir/out")
	}
	runBad(t, "--json: open /nonexistent/dir/out: no such file or directory", bin.feedpub, "--line", "epgm://lo;239.1.1.1:5555", "--json", "/nonexistent/dir/out")
}

// TestBadInputPGMPrivilege runs the binaries without CAP_NET_RAW, which
// raw PGM needs.
func TestBadInputPGMPrivilege(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	if os.Geteuid() == 0 {
		// Root keeps its uid but loses CAP_NET_RAW from every set.
		for _, b := range []string{bin.feedpub, bin.feedsub} {
			runBad(t, "needs CAP_NET_RAW", setpriv, "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--",
				b, "--line", "pgm://lo;239.1.1.1:5555")
		}
		return
	}
	for _, b := range []string{bin.feedpub, bin.feedsub} {
		runBad(t, "needs CAP_NET_RAW", b, "--line", "pgm://lo;239.1.1.1:5555")
	}
}

// TestBadInputInterfaceDown uses a fresh network namespace, whose lo is down.
func TestBadInputInterfaceDown(t *testing.T) {
	ip, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("needs root and ip (iproute2) in CI: %v", err)
		}
		t.Skip("needs root and ip (iproute2) to make a namespace")
	}
	const ns = "e2ebad"
	exec.Command(ip, "netns", "del", ns).Run()
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
	for _, b := range []string{bin.feedpub, bin.feedsub} {
		runBad(t, "interface lo is down", ip, "netns", "exec", ns, b, "--line", "epgm://lo;239.1.1.1:5555")
	}
}
