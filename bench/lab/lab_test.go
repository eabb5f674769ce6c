package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every lab in this package uses Net 78 and a Name starting with "lt", so it
// never collides with labs of other packages running at the same time.
const testNet = 78

func TestConfig(t *testing.T) {
	got, err := Config{Name: "x"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "x", Subscribers: 2, Lines: 2, Net: 77, BufMax: 16 << 20}
	if got != want {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}
	for _, c := range []Config{
		{Name: ""}, {Name: "Fb"}, {Name: "toolong"}, {Name: "a-b"}, {Name: "1ab"},
		{Name: "x", Subscribers: 100}, {Name: "x", Subscribers: -1},
		{Name: "x", Lines: 10}, {Name: "x", Net: 255}, {Name: "x", Net: -1}, {Name: "x", BufMax: 100},
	} {
		// Up validates before it needs root, so this runs anywhere.
		if _, err := Up(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("Up(%+v): got %v, want ErrConfig", c, err)
		}
	}
	// The longest names still fit IFNAMSIZ (15 characters).
	if n := portName("abcdef", "sub"+strconv.Itoa(MaxSubscribers), MaxLines-1); len(n) > 15 {
		t.Errorf("port name %q is longer than 15", n)
	}
}

func TestUpDownIdempotent(t *testing.T) {
	t.Parallel()
	requireLab(t)
	ctx := testCtx(t, time.Minute)
	const name = "ltup"
	big, err := Up(ctx, Config{Name: name, Net: testNet, Subscribers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { big.Down() })
	// Up again over the existing lab, smaller: it must replace it.
	l, err := Up(ctx, Config{Name: name, Net: testNet})
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	want := []string{"ltup-pub", "ltup-sub1", "ltup-sub2", "ltup-sw"}
	got := labNamespaces(t, name)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("namespaces after second Up: got %v, want %v", got, want)
	}
	// Up a third time with the same config.
	if l, err = Up(ctx, Config{Name: name, Net: testNet}); err != nil {
		t.Fatalf("third Up: %v", err)
	}
	if _, err := l.Exec(ctx, l.Subs()[1], "ip", "link", "show", "eth2"); err != nil {
		t.Fatalf("rebuilt lab is incomplete: %v", err)
	}

	for i := range 2 {
		if err := l.Down(); err != nil {
			t.Fatalf("Down #%d: %v", i+1, err)
		}
	}
	if err := big.Down(); err != nil {
		t.Fatalf("Down through the replaced Lab: %v", err)
	}
	if err := Remove(ctx, name); err != nil {
		t.Fatalf("Remove of a removed lab: %v", err)
	}
	if left := labNamespaces(t, name); len(left) > 0 {
		t.Fatalf("namespaces left after Down: %v", left)
	}
	if _, err := Open(ctx, name); !errors.Is(err, ErrNotUp) {
		t.Fatalf("Open after Down: got %v, want ErrNotUp", err)
	}
}

func TestTopology(t *testing.T) {
	t.Parallel()
	requireLab(t)
	rootBefore := rootInterfaces(t)
	l := newLab(t, Config{Name: "lttop", Net: testNet})
	ctx := testCtx(t, time.Minute)

	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	wantHosts := []Host{
		{Name: "pub", Netns: "lttop-pub", NICs: []NIC{{"eth1", 0, a("10.78.1.1")}, {"eth2", 1, a("10.78.2.1")}}},
		{Name: "sub1", Netns: "lttop-sub1", NICs: []NIC{{"eth1", 0, a("10.78.1.11")}, {"eth2", 1, a("10.78.2.11")}}},
		{Name: "sub2", Netns: "lttop-sub2", NICs: []NIC{{"eth1", 0, a("10.78.1.12")}, {"eth2", 1, a("10.78.2.12")}}},
	}
	if got := l.Pub(); !reflect.DeepEqual(got, wantHosts[0]) {
		t.Errorf("Pub: got %+v, want %+v", got, wantHosts[0])
	}
	if got := l.Subs(); !reflect.DeepEqual(got, wantHosts[1:]) {
		t.Errorf("Subs: got %+v, want %+v", got, wantHosts[1:])
	}
	for _, w := range wantHosts {
		if got, ok := l.Host(w.Name); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("Host(%q): got %+v %v, want %+v", w.Name, got, ok, w)
		}
	}
	if _, ok := l.Host("sub3"); ok {
		t.Error(`Host("sub3") found in a lab with 2 subscribers`)
	}
	if g := l.Group(0).String(); g != "239.78.1.1:5555" {
		t.Errorf("Group(0) = %s", g)
	}
	if g := l.Group(1).String(); g != "239.78.2.1:5556" {
		t.Errorf("Group(1) = %s", g)
	}
	if e := l.Endpoint("epgm", l.Pub(), 0); e != "epgm://10.78.1.1;239.78.1.1:5555" {
		t.Errorf("Endpoint = %s", e)
	}

	// The kernel agrees with the Host values.
	for _, h := range wantHosts {
		links, err := l.links(ctx, h.Netns, "-4", "addr", "show")
		if err != nil {
			t.Fatal(err)
		}
		for _, nic := range h.NICs {
			i := slices.IndexFunc(links, func(k ipLink) bool { return k.IfName == nic.Name })
			if i < 0 || links[i].OperState != "UP" || len(links[i].AddrInfo) != 1 ||
				links[i].AddrInfo[0].Local != nic.Addr.String() || links[i].AddrInfo[0].PrefixLen != 24 {
				t.Errorf("%s %s in the kernel: %+v", h.Name, nic.Name, links)
			}
		}
		out, err := l.Exec(ctx, h, "ip", "route", "show", "239.0.0.0/8")
		if err != nil || !strings.Contains(string(out), "dev eth1") {
			t.Errorf("%s multicast route: %q %v", h.Name, out, err)
		}
		var rpFilter, rmem int
		err = l.InNetns(h, func() error {
			var err error
			if rpFilter, err = sysctlInt("net.ipv4.conf.all.rp_filter"); err != nil {
				return err
			}
			rmem, err = sysctlInt("net.core.rmem_max")
			return err
		})
		if err != nil || rpFilter != 0 {
			t.Errorf("%s sysctls: rp_filter %d, %v", h.Name, rpFilter, err)
		} else if rmem < l.BufMax() {
			t.Errorf("%s rmem_max %d below BufMax() %d", h.Name, rmem, l.BufMax())
		}
	}
	// BufMax falls short of the request only where the kernel forbids
	// raising it in a namespace.
	if l.BufMax() < l.Config().BufMax {
		if _, err := l.Exec(ctx, l.Pub(), "sh", "-c", "[ ! -w /proc/sys/net/core/rmem_max ]"); err != nil {
			t.Errorf("BufMax %d < %d although rmem_max is writable in the namespace", l.BufMax(), l.Config().BufMax)
		}
		t.Logf("rmem_max/wmem_max are read-only in namespaces here; effective %d", l.BufMax())
	}
	links, err := l.links(ctx, "lttop-sw", "-d", "link", "show", "type", "bridge")
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 {
		t.Errorf("switch has %d bridges, want 2", len(links))
	}
	for _, br := range links {
		// ip netns exec mounts a /sys of the namespace; a thread that only
		// entered it (InNetns) would see the root's /sys/class/net.
		raw, err := runInSwitch(ctx, l, "cat", "/sys/class/net/"+br.IfName+"/bridge/multicast_snooping")
		if err != nil || strings.TrimSpace(raw) != "0" {
			t.Errorf("%s multicast_snooping = %q %v, want 0", br.IfName, raw, err)
		}
	}

	// A second process sees the same lab.
	o, err := Open(ctx, "lttop")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Hosts(), l.Hosts()) || o.Config().Net != testNet || o.Config().Lines != 2 ||
		o.Config().Subscribers != 2 || o.BufMax() != l.BufMax() {
		t.Errorf("Open: got %+v %+v, want %+v %+v", o.Config(), o.Hosts(), l.Config(), l.Hosts())
	}

	// Hosts not of this lab never run anything, anywhere.
	for _, h := range []Host{{}, {Name: "pub"}, {Name: "pub", Netns: "other-pub"}} {
		if err := l.Command(ctx, h, "true").Run(); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("Command on %+v: got %v, want ErrUnknownHost", h, err)
		}
	}
	sub1, _ := l.Host("sub1")
	_, err = l.Exec(ctx, sub1, "sh", "-c", "exit 3")
	if err == nil || !strings.Contains(err.Error(), "sub1") || !strings.Contains(err.Error(), "sh -c exit 3") {
		t.Errorf("Exec error does not name host and command: %v", err)
	}

	// The root namespace is untouched.
	if after := rootInterfaces(t); !slices.Equal(after, rootBefore) {
		t.Errorf("root namespace interfaces changed: before %v, after %v", rootBefore, after)
	}
}

// runInSwitch runs a command in the lab's switch namespace (not a Host).
func runInSwitch(ctx context.Context, l *Lab, name string, args ...string) (string, error) {
	out, err := run(ctx, "", l.ip, append([]string{"netns", "exec", l.SwitchNetns(), name}, args...)...)
	return string(out), err
}

// rootInterfaces lists the interfaces of the test process's (root) namespace.
func rootInterfaces(t *testing.T) []string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

func TestPing(t *testing.T) {
	t.Parallel()
	l := newLab(t, Config{Name: "ltping", Net: testNet})
	for _, sub := range l.Subs() {
		startHelper(t, l, sub, "udpecho", "-port", "7777").waitLine(t, "ready", 10*time.Second)
	}
	for _, sub := range l.Subs() {
		for _, nic := range sub.NICs {
			t.Run(fmt.Sprintf("%s-%s", sub.Name, LineName(nic.Line)), func(t *testing.T) {
				reach(t, l, l.Pub(), nic.Addr)
			})
		}
	}
}

func TestUDPMulticast(t *testing.T) {
	t.Parallel()
	l := newLab(t, Config{Name: "ltudp", Net: testNet})
	for line := range l.Config().Lines {
		t.Run("line"+LineName(line), func(t *testing.T) {
			g := l.Group(line)
			var recv []*proc
			for _, sub := range l.Subs() {
				p := startHelper(t, l, sub, "udprecv", "-group", g.String(), "-ifaddr", sub.NICs[line].Addr.String())
				p.waitLine(t, "ready", 10*time.Second)
				recv = append(recv, p)
			}
			args := []string{"-group", g.String(), "-count", "20", "-prefix", "mc"}
			if line > 0 {
				// Line A relies on the 239.0.0.0/8 route via eth1; other
				// lines pick their NIC by source address.
				args = append(args, "-ifaddr", l.Pub().NICs[line].Addr.String())
			}
			send := startHelper(t, l, l.Pub(), "udpsend", args...)
			if _, err := send.wait(t, 10*time.Second); err != nil {
				t.Fatalf("udpsend: %v; %s", err, send.stderr.String())
			}
			for i, p := range recv {
				waitFor(t, 5*time.Second, fmt.Sprintf("sub%d to receive 20 datagrams", i+1), func() bool {
					return p.count(hasPrefix("mc-")) == 20
				})
			}
		})
	}
}

func TestDrops(t *testing.T) {
	t.Parallel()
	requireNft(t)
	l := newLab(t, Config{Name: "ltdrop", Net: testNet})
	ctx := testCtx(t, time.Minute)
	sub1, sub2 := l.Subs()[0], l.Subs()[1]
	g := l.Group(0)

	if err := l.DropAll(ctx, sub1, "eth9"); !errors.Is(err, ErrUnknownNIC) {
		t.Errorf("DropAll on eth9: got %v, want ErrUnknownNIC", err)
	}
	if err := l.DropRandom(ctx, sub1, "eth1", 101); err == nil {
		t.Error("DropRandom 101% succeeded")
	}
	if err := l.ClearDrops(ctx, Host{Name: "sub1"}); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("ClearDrops on a foreign host: got %v, want ErrUnknownHost", err)
	}
	if n, err := l.Dropped(ctx, sub1); err != nil || n != 0 {
		t.Fatalf("Dropped before any rule: %d, %v", n, err)
	}

	r1 := startHelper(t, l, sub1, "udprecv", "-group", g.String(), "-ifaddr", sub1.NICs[0].Addr.String())
	r2 := startHelper(t, l, sub2, "udprecv", "-group", g.String(), "-ifaddr", sub2.NICs[0].Addr.String())
	r1.waitLine(t, "ready", 10*time.Second)
	r2.waitLine(t, "ready", 10*time.Second)
	dropped := func() uint64 {
		n, err := l.Dropped(ctx, sub1)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	send := func(prefix string, count int) {
		t.Helper()
		p := startHelper(t, l, l.Pub(), "udpsend", "-group", g.String(), "-count", strconv.Itoa(count),
			"-prefix", prefix, "-interval", "200us")
		if _, err := p.wait(t, 30*time.Second); err != nil {
			t.Fatalf("udpsend: %v; %s", err, p.stderr.String())
		}
	}

	// DropAll: sub2 (control) gets everything, sub1 nothing, the counter
	// sees all of it.
	if err := l.DropAll(ctx, sub1, "eth1"); err != nil {
		t.Fatal(err)
	}
	send("all", 20)
	waitFor(t, 5*time.Second, "sub2 to receive 20 and sub1 to drop 20", func() bool {
		return r2.count(hasPrefix("all-")) == 20 && dropped() >= 20
	})
	if n := r1.count(hasPrefix("all-")); n != 0 {
		t.Fatalf("sub1 received %d datagrams through DropAll", n)
	}

	// ClearDrops restores delivery and keeps the counter.
	if err := l.ClearDrops(ctx, sub1); err != nil {
		t.Fatal(err)
	}
	base := dropped()
	send("clear", 20)
	waitFor(t, 5*time.Second, "sub1 to receive 20 after ClearDrops", func() bool {
		return r1.count(hasPrefix("clear-")) == 20
	})
	if n := dropped(); n != base {
		t.Errorf("Dropped changed from %d to %d without rules", base, n)
	}
	if n := r1.count(hasPrefix("all-")); n != 0 {
		t.Fatalf("sub1 received %d of the datagrams sent during DropAll", n)
	}

	// DropRandom 50%: about half arrive; what is missing was counted.
	if err := l.DropRandom(ctx, sub1, "eth1", 50); err != nil {
		t.Fatal(err)
	}
	const total = 400
	send("rand", total)
	waitFor(t, 10*time.Second, "sub2 to receive all and sub1's losses to be counted", func() bool {
		return r2.count(hasPrefix("rand-")) == total &&
			uint64(r1.count(hasPrefix("rand-")))+dropped()-base >= total
	})
	got := r1.count(hasPrefix("rand-"))
	if got < total/4 || got > total*3/4 { // 10 standard deviations
		t.Errorf("sub1 received %d of %d datagrams at 50%% loss", got, total)
	}
	t.Logf("50%% loss: sub1 received %d of %d; Dropped grew by %d", got, total, dropped()-base)
	if err := l.ClearDrops(ctx, sub1); err != nil {
		t.Fatal(err)
	}
}
