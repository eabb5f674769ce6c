package lab

// Test plumbing. A test runs a program inside a lab host by re-executing the
// test binary itself through Lab.Command (ip netns exec) with helperEnv set
// to the helper's name; TestMain then runs that helper instead of the tests.
// Helpers talk to the test through stdout lines.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const helperEnv = "FEEDLAB_TEST_HELPER"

// helpers maps helper names to their main functions.
var helpers = map[string]func(args []string) error{
	"udprecv": udpRecv,
	"udpsend": udpSend,
	"udpecho": udpEcho,
	"udpping": udpPing,
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(name string, args []string) int {
	f, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	if err := f(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// interfaceByAddr finds the interface that has addr.
func interfaceByAddr(addr netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == addr {
				return &ifs[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no interface has address %s", addr)
}

// udprecv -group G:P -ifaddr A joins group G on the interface with address A,
// prints "ready", then prints every datagram's payload as a line.
func udpRecv(args []string) error {
	fs := flag.NewFlagSet("udprecv", flag.ContinueOnError)
	group := fs.String("group", "", "multicast group:port")
	ifaddr := fs.String("ifaddr", "", "address of the interface to join on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := netip.ParseAddrPort(*group)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(*ifaddr)
	if err != nil {
		return err
	}
	ifi, err := interfaceByAddr(a)
	if err != nil {
		return err
	}
	c, err := net.ListenMulticastUDP("udp4", ifi, net.UDPAddrFromAddrPort(g))
	if err != nil {
		return err
	}
	if err := c.SetReadBuffer(1 << 20); err != nil {
		return err
	}
	fmt.Println("ready")
	buf := make([]byte, 2048)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if _, err := fmt.Printf("%s\n", buf[:n]); err != nil {
			return err
		}
	}
}

// udpsend -group G:P [-ifaddr A] -count N -prefix P sends N datagrams
// "P-0", "P-1", ... to G, from the interface with address A if given (else
// the route decides), pacing them by -interval.
func udpSend(args []string) error {
	fs := flag.NewFlagSet("udpsend", flag.ContinueOnError)
	group := fs.String("group", "", "multicast group:port")
	ifaddr := fs.String("ifaddr", "", "source address, selects the interface")
	count := fs.Int("count", 10, "datagrams to send")
	prefix := fs.String("prefix", "pkt", "payload prefix")
	interval := fs.Duration("interval", time.Millisecond, "pause between datagrams")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := netip.ParseAddrPort(*group)
	if err != nil {
		return err
	}
	var laddr *net.UDPAddr
	if *ifaddr != "" {
		a, err := netip.ParseAddr(*ifaddr)
		if err != nil {
			return err
		}
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
	}
	c, err := net.DialUDP("udp4", laddr, net.UDPAddrFromAddrPort(g))
	if err != nil {
		return err
	}
	defer c.Close()
	for i := range *count {
		if _, err := fmt.Fprintf(c, "%s-%d", *prefix, i); err != nil {
			return err
		}
		time.Sleep(*interval) // pacing, not synchronisation
	}
	return nil
}

// udpecho -port P echoes every datagram on port P back to its sender.
func udpEcho(args []string) error {
	fs := flag.NewFlagSet("udpecho", flag.ContinueOnError)
	port := fs.Int("port", 7777, "UDP port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: *port})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		if _, err := c.WriteToUDPAddrPort(buf[:n], from); err != nil {
			return err
		}
	}
}

// udpping -to A:P sends probes to an echo server until one comes back (then
// prints "reply from A:P") or -timeout passes.
func udpPing(args []string) error {
	fs := flag.NewFlagSet("udpping", flag.ContinueOnError)
	to := fs.String("to", "", "address:port of a udpecho")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(*to)
	if err != nil {
		return err
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(*timeout)
	buf := make([]byte, 64)
	for i := 0; time.Now().Before(deadline); i++ {
		probe := fmt.Sprintf("probe-%d", i)
		if _, err := c.Write([]byte(probe)); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return err
		}
		if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			return err
		}
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) == probe {
			fmt.Printf("reply from %s\n", dst)
			return nil
		}
	}
	return fmt.Errorf("no reply from %s within %v", dst, *timeout)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a helper running inside a lab host.
type proc struct {
	desc   string
	mu     sync.Mutex
	lines  []string
	stderr syncBuffer
	done   chan struct{}
	err    error // valid after done is closed
}

// startHelper runs helper with args inside h. The process is killed and
// reaped when the test ends.
func startHelper(t *testing.T, l *Lab, h Host, helper string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{desc: helper + " on " + h.Name, done: make(chan struct{})}
	cmd := l.Command(ctx, h, exe, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+helper)
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", p.desc, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// count returns how many output lines satisfy match.
func (p *proc) count(match func(string) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.lines {
		if match(s) {
			n++
		}
	}
	return n
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLine waits until the helper has printed the line want.
func (p *proc) waitLine(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%s to print %q (stderr: %s)", p.desc, want, p.stderr.String()), func() bool {
		return p.count(func(s string) bool { return s == want }) > 0 || p.exited()
	})
	if p.count(func(s string) bool { return s == want }) == 0 {
		t.Fatalf("%s exited (%v) before printing %q; stderr: %s", p.desc, p.err, want, p.stderr.String())
	}
}

// wait waits for the helper to exit and returns its error and output.
func (p *proc) wait(t *testing.T, timeout time.Duration) ([]string, error) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not finish within %v; stderr: %s", p.desc, timeout, p.stderr.String())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...), p.err
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// hasPrefix returns a line matcher.
func hasPrefix(prefix string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, prefix) }
}

// requireLab skips the test if no lab can be built here, except on CI
// (CI or FEEDLAB_REQUIRE set), where that is a failure: CI runs as root and
// the lab tests must run there.
func requireLab(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FEEDLAB_REQUIRE") != "" {
			t.Fatalf("lab required (CI/FEEDLAB_REQUIRE set) but not available: %v", err)
		}
		t.Skipf("lab not available here: %v", err)
	}
}

// requireNft is requireLab for the nftables-based loss functions.
func requireNft(t *testing.T) {
	t.Helper()
	if _, err := tool("nft"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FEEDLAB_REQUIRE") != "" {
			t.Fatalf("nft required (CI/FEEDLAB_REQUIRE set): %v", err)
		}
		t.Skipf("loss injection not available here: %v", err)
	}
}

// newLab builds a lab for one test and tears it down when the test ends,
// checking that nothing of it is left.
func newLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Up(ctx, cfg)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("Down: %v", err)
		}
		if left := labNamespaces(t, cfg.Name); len(left) > 0 {
			t.Errorf("namespaces left after Down: %v", left)
		}
	})
	return l
}

// labNamespaces lists the namespaces of the lab called name.
func labNamespaces(t *testing.T, name string) []string {
	t.Helper()
	ip, err := tool("ip")
	if err != nil {
		t.Fatal(err)
	}
	all, err := listNetns(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, ns := range all {
		if strings.HasPrefix(ns, name+"-") {
			mine = append(mine, ns)
		}
	}
	return mine
}

// testCtx returns a context bounded by timeout and cancelled at test end.
func testCtx(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// reach checks that from can reach addr, with ping if installed and
// otherwise with a UDP probe to a udpecho (started by the caller on the
// target host, port 7777).
func reach(t *testing.T, l *Lab, from Host, addr netip.Addr) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if _, err := exec.LookPath("ping"); err == nil {
		var out []byte
		deadline := time.Now().Add(10 * time.Second)
		for {
			if out, err = l.Exec(ctx, from, "ping", "-c1", "-W1", addr.String()); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s cannot ping %s: %v\n%s", from.Name, addr, err, out)
			}
		}
	}
	p := startHelper(t, l, from, "udpping", "-to", netip.AddrPortFrom(addr, 7777).String(), "-timeout", "10s")
	if out, err := p.wait(t, 20*time.Second); err != nil {
		t.Fatalf("%s cannot reach %s over UDP: %v; stderr: %s; output: %q", from.Name, addr, err, p.stderr.String(), out)
	}
}
