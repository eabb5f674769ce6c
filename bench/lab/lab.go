package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults and limits of Config.
const (
	DefaultSubscribers = 2
	DefaultLines       = 2
	DefaultNet         = 77
	DefaultBufMax      = 16 << 20

	// MaxSubscribers and MaxLines keep device names within IFNAMSIZ and
	// addresses within one octet.
	MaxSubscribers = 99
	MaxLines       = 9

	// GroupPort is the multicast port of line A; line L uses GroupPort+L.
	GroupPort = 5555
)

// readyTimeout bounds the wait for links to come up after Up built them.
const readyTimeout = 10 * time.Second

// Config describes a lab. Zero fields take their defaults.
type Config struct {
	// Name prefixes every namespace and switch port of the lab, e.g. "fbt1":
	// a lowercase letter followed by up to 5 lowercase letters or digits.
	// Labs with different Names coexist.
	Name string
	// Subscribers is the number of subscriber hosts (default 2, max 99).
	Subscribers int
	// Lines is the number of switches/lines, A, B, ... (default 2, max 9).
	Lines int
	// Net is the second octet of all addresses and groups (default 77):
	// line L host H gets 10.<Net>.<L+1>.<H>/24, the publisher is host 1,
	// subscriber i is host 10+i.
	Net int
	// BufMax is the net.core.rmem_max and wmem_max wanted in every lab
	// namespace (default 16 MiB). Up sets them where the kernel lets a
	// namespace change them; Lab.BufMax reports what is in effect.
	BufMax int
	// RaiseHostBufMax lets Up raise the root namespace's net.core.rmem_max
	// and wmem_max to BufMax when they are lower. On kernels where child
	// namespaces mirror those limits read-only (6.18 here), it is the only
	// way to give the lab's sockets big buffers. It is the one change Up
	// makes outside the lab's namespaces; it never lowers a limit, and Down
	// leaves the raised value in place (other labs may rely on it).
	RaiseHostBufMax bool
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)

// normalize fills in defaults and validates the Config.
func (c Config) normalize() (Config, error) {
	if !nameRE.MatchString(c.Name) {
		return c, fmt.Errorf("%w: name %q must be a lowercase letter followed by up to 5 lowercase letters or digits", ErrConfig, c.Name)
	}
	if c.Subscribers == 0 {
		c.Subscribers = DefaultSubscribers
	}
	if c.Lines == 0 {
		c.Lines = DefaultLines
	}
	if c.Net == 0 {
		c.Net = DefaultNet
	}
	if c.BufMax == 0 {
		c.BufMax = DefaultBufMax
	}
	switch {
	case c.Subscribers < 1 || c.Subscribers > MaxSubscribers:
		return c, fmt.Errorf("%w: subscribers %d not in 1..%d", ErrConfig, c.Subscribers, MaxSubscribers)
	case c.Lines < 1 || c.Lines > MaxLines:
		return c, fmt.Errorf("%w: lines %d not in 1..%d", ErrConfig, c.Lines, MaxLines)
	case c.Net < 1 || c.Net > 254:
		return c, fmt.Errorf("%w: net %d not in 1..254", ErrConfig, c.Net)
	case c.BufMax < 4096:
		return c, fmt.Errorf("%w: bufmax %d below 4096", ErrConfig, c.BufMax)
	}
	return c, nil
}

// Host is a machine of the lab: a network namespace with one NIC per line.
type Host struct {
	Name  string // "pub", "sub1", "sub2", ...
	Netns string // "<lab name>-<host name>"
	NICs  []NIC  // ordered by line: NICs[0] is line A
}

// NIC is a host's interface on one line.
type NIC struct {
	Name string     // "eth1" for line 0 (A), "eth2" for line 1 (B), ...
	Line int        // 0 for line A
	Addr netip.Addr // 10.<Net>.<Line+1>.<host number>, prefix length 24
}

// Lab is a running lab. Create it with Up or attach to one with Open.
type Lab struct {
	cfg   Config
	ip    string // path of the ip tool
	hosts []Host // publisher first, then subscribers in order
	// bufMax is the effective min(rmem_max, wmem_max) in the namespaces.
	bufMax int
	down   sync.Mutex
}

// LineName returns "A" for line 0, "B" for line 1, ...
func LineName(line int) string {
	if line >= 0 && line < 26 {
		return string(rune('A' + line))
	}
	return strconv.Itoa(line)
}

func nicName(line int) string { return "eth" + strconv.Itoa(line+1) }

// portName is the name of a host's switch port (the veth peer in <Name>-sw).
func portName(lab, host string, line int) string {
	return lab + "-" + host + "-" + strconv.Itoa(line)
}

// layout computes the deterministic hosts of a Config.
func layout(cfg Config) []Host {
	hosts := make([]Host, 0, 1+cfg.Subscribers)
	add := func(name string, hostNum int) {
		h := Host{Name: name, Netns: cfg.Name + "-" + name}
		for l := range cfg.Lines {
			h.NICs = append(h.NICs, NIC{
				Name: nicName(l),
				Line: l,
				Addr: netip.AddrFrom4([4]byte{10, byte(cfg.Net), byte(l + 1), byte(hostNum)}),
			})
		}
		hosts = append(hosts, h)
	}
	add("pub", 1)
	for i := 1; i <= cfg.Subscribers; i++ {
		add("sub"+strconv.Itoa(i), 10+i)
	}
	return hosts
}

// Up builds the lab described by cfg and returns once every link is up. It
// first removes leftovers of a lab with the same Name (including processes
// still running in them), so calling it again rebuilds the lab from
// scratch. On failure it tears down what it made and returns the error.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if err := checkRoot(); err != nil {
		return nil, err
	}
	ip, err := tool("ip")
	if err != nil {
		return nil, err
	}
	if _, err := tool("sh"); err != nil {
		return nil, err
	}
	if err := teardown(ctx, ip, cfg.Name); err != nil {
		return nil, fmt.Errorf("lab: removing leftovers of %s: %w", cfg.Name, err)
	}
	if cfg.RaiseHostBufMax {
		if err := raiseHostBufMax(cfg.BufMax); err != nil {
			return nil, err
		}
	}
	l := &Lab{cfg: cfg, ip: ip, hosts: layout(cfg)}
	if err := l.build(ctx); err != nil {
		err = fmt.Errorf("lab: building %s: %w", cfg.Name, err)
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
		defer cancel()
		if derr := teardown(tctx, ip, cfg.Name); derr != nil {
			return nil, fmt.Errorf("%w (teardown after failure also failed: %v)", err, derr)
		}
		return nil, err
	}
	return l, nil
}

func (l *Lab) switchNetns() string { return l.cfg.Name + "-sw" }

func (l *Lab) build(ctx context.Context) error {
	sw := l.switchNetns()
	all := []string{sw}
	for _, h := range l.hosts {
		all = append(all, h.Netns)
	}
	for _, ns := range all {
		if _, err := run(ctx, "", l.ip, "netns", "add", ns); err != nil {
			return err
		}
		rmem, wmem, err := l.sysctls(ctx, ns)
		if err != nil {
			return err
		}
		if l.bufMax == 0 || min(rmem, wmem) < l.bufMax {
			l.bufMax = min(rmem, wmem)
		}
	}

	var b strings.Builder
	b.WriteString("link set lo up\n")
	for line := range l.cfg.Lines {
		fmt.Fprintf(&b, "link add br%d type bridge mcast_snooping 0\n", line)
		fmt.Fprintf(&b, "link set br%d up\n", line)
	}
	if err := l.batch(ctx, sw, b.String()); err != nil {
		return err
	}

	var ports strings.Builder
	for _, h := range l.hosts {
		b.Reset()
		b.WriteString("link set lo up\n")
		for _, nic := range h.NICs {
			port := portName(l.cfg.Name, h.Name, nic.Line)
			fmt.Fprintf(&b, "link add %s type veth peer name %s netns %s\n", nic.Name, port, sw)
			fmt.Fprintf(&b, "addr add %s/24 dev %s\n", nic.Addr, nic.Name)
			fmt.Fprintf(&b, "link set %s up\n", nic.Name)
			fmt.Fprintf(&ports, "link set %s master br%d\n", port, nic.Line)
			fmt.Fprintf(&ports, "link set %s up\n", port)
		}
		fmt.Fprintf(&b, "route add 239.0.0.0/8 dev %s\n", h.NICs[0].Name)
		if err := l.batch(ctx, h.Netns, b.String()); err != nil {
			return err
		}
	}
	if err := l.batch(ctx, sw, ports.String()); err != nil {
		return err
	}
	return l.waitReady(ctx)
}

// sysctls raises net.core.rmem_max/wmem_max to BufMax where the kernel
// lets a namespace set them, turns off rp_filter and IPv6 inside ns, and
// returns the effective buffer limits there. /proc/sys/net belongs to the
// network namespace of the thread that opens it, hence the shell run by ip
// netns exec for the writes and a thread in ns for the reads. Recent
// kernels (6.18 here) show rmem_max/wmem_max in child namespaces
// read-only, mirroring the root namespace's values; those are left alone,
// because changing them would mean changing the root namespace.
// Only sysctls that the kernel makes writable inside a child namespace are
// per-namespace, so a write here never reaches the root namespace.
func (l *Lab) sysctls(ctx context.Context, ns string) (rmem, wmem int, err error) {
	script := fmt.Sprintf(`set -e
for f in /proc/sys/net/core/rmem_max /proc/sys/net/core/wmem_max; do
	if [ -w $f ]; then echo %d > $f; fi
done
echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
if [ -w /proc/sys/net/ipv6/conf/all/disable_ipv6 ]; then
	echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
	echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
fi
`, l.cfg.BufMax)
	sh, err := tool("sh")
	if err != nil {
		return 0, 0, err
	}
	if _, err := run(ctx, script, l.ip, "netns", "exec", ns, sh, "-s"); err != nil {
		return 0, 0, err
	}
	return bufMaxIn(ns)
}

// bufMaxIn reads net.core.rmem_max and wmem_max in namespace ns.
func bufMaxIn(ns string) (rmem, wmem int, err error) {
	err = inNetns(ns, func() error {
		var err error
		if rmem, err = sysctlInt("net.core.rmem_max"); err != nil {
			return err
		}
		wmem, err = sysctlInt("net.core.wmem_max")
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%w (namespace %s)", err, ns)
	}
	return rmem, wmem, nil
}

// batch runs ip commands, one per line, inside ns.
func (l *Lab) batch(ctx context.Context, ns, cmds string) error {
	_, err := run(ctx, cmds, l.ip, "-n", ns, "-batch", "-")
	return err
}

// ipLink is the part of `ip -j -d addr/link show` output we use.
type ipLink struct {
	IfName    string `json:"ifname"`
	OperState string `json:"operstate"`
	LinkInfo  *struct {
		SlaveKind string `json:"info_slave_kind"`
		SlaveData struct {
			State string `json:"state"`
		} `json:"info_slave_data"`
	} `json:"linkinfo"`
	AddrInfo []ipAddr `json:"addr_info"`
}

type ipAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
}

func (l *Lab) links(ctx context.Context, ns string, args ...string) ([]ipLink, error) {
	out, err := run(ctx, "", l.ip, append([]string{"-n", ns, "-j"}, args...)...)
	if err != nil {
		return nil, err
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parsing ip -j output of %s: %w", ns, err)
	}
	return links, nil
}

// waitReady polls until every host NIC is up and every switch port
// forwards, so callers can send as soon as Up returns.
func (l *Lab) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		pending, err := l.notReady(ctx)
		if err != nil {
			return err
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not come up: %w", pending, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// notReady names the first link that is not ready yet, or returns "".
func (l *Lab) notReady(ctx context.Context) (string, error) {
	for _, h := range l.hosts {
		links, err := l.links(ctx, h.Netns, "link", "show")
		if err != nil {
			return "", err
		}
		for _, nic := range h.NICs {
			i := slices.IndexFunc(links, func(k ipLink) bool { return k.IfName == nic.Name })
			if i < 0 || links[i].OperState != "UP" {
				return h.Name + " " + nic.Name, nil
			}
		}
	}
	links, err := l.links(ctx, l.switchNetns(), "-d", "link", "show")
	if err != nil {
		return "", err
	}
	for _, h := range l.hosts {
		for _, nic := range h.NICs {
			port := portName(l.cfg.Name, h.Name, nic.Line)
			i := slices.IndexFunc(links, func(k ipLink) bool { return k.IfName == port })
			if i < 0 || links[i].OperState != "UP" || links[i].LinkInfo == nil ||
				links[i].LinkInfo.SlaveKind != "bridge" || links[i].LinkInfo.SlaveData.State != "forwarding" {
				return "switch port " + port, nil
			}
		}
	}
	return "", nil
}

// Open attaches to the running lab called name, e.g. one made by another
// process, reconstructing its Config and hosts from the namespaces and
// addresses in the kernel. It returns an error wrapping ErrNotUp if the lab
// does not exist or is incomplete.
func Open(ctx context.Context, name string) (*Lab, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("%w: name %q must be a lowercase letter followed by up to 5 lowercase letters or digits", ErrConfig, name)
	}
	if err := checkRoot(); err != nil {
		return nil, err
	}
	ip, err := tool("ip")
	if err != nil {
		return nil, err
	}
	all, err := listNetns(ctx, ip)
	if err != nil {
		return nil, fmt.Errorf("lab: open %s: %w", name, err)
	}
	hostNs, sw := labNetns(all, name)
	if sw == "" || !slices.Contains(hostNs, name+"-pub") {
		return nil, fmt.Errorf("%w: %s (no namespaces %s-sw and %s-pub)", ErrNotUp, name, name, name)
	}
	l := &Lab{ip: ip, cfg: Config{Name: name, Subscribers: len(hostNs) - 1}}
	pubLinks, err := l.links(ctx, name+"-pub", "-4", "addr", "show")
	if err != nil {
		return nil, fmt.Errorf("lab: open %s: %w", name, err)
	}
	for _, k := range pubLinks {
		if k.IfName == "eth1" && len(k.AddrInfo) > 0 {
			if a, err := netip.ParseAddr(k.AddrInfo[0].Local); err == nil && a.Is4() {
				l.cfg.Net = int(a.As4()[1])
			}
		}
		if strings.HasPrefix(k.IfName, "eth") {
			l.cfg.Lines++
		}
	}
	if r, w, err := bufMaxIn(name + "-pub"); err == nil {
		l.bufMax = min(r, w)
	}
	l.cfg.BufMax = l.bufMax // what was asked for is not recorded; report what is
	cfg, err := l.cfg.normalize()
	if err != nil || l.cfg.Net == 0 || l.cfg.Lines == 0 {
		return nil, fmt.Errorf("%w: %s: publisher has no usable eth1 address; rebuild it with Up", ErrNotUp, name)
	}
	l.cfg = cfg
	l.hosts = layout(cfg)
	for _, h := range l.hosts {
		if !slices.Contains(hostNs, h.Netns) {
			return nil, fmt.Errorf("%w: %s: namespace %s is missing; rebuild it with Up", ErrNotUp, name, h.Netns)
		}
		links, err := l.links(ctx, h.Netns, "-4", "addr", "show")
		if err != nil {
			return nil, fmt.Errorf("lab: open %s: %w", name, err)
		}
		for _, nic := range h.NICs {
			i := slices.IndexFunc(links, func(k ipLink) bool { return k.IfName == nic.Name })
			if i < 0 || !slices.ContainsFunc(links[i].AddrInfo, func(a ipAddr) bool {
				return a.Local == nic.Addr.String() && a.PrefixLen == 24
			}) {
				return nil, fmt.Errorf("%w: %s: %s has no %s with %s/24; rebuild it with Up", ErrNotUp, name, h.Name, nic.Name, nic.Addr)
			}
		}
	}
	return l, nil
}

// Down removes the lab: it kills processes still running in its namespaces
// and deletes the namespaces, which removes their veths, bridges and
// nftables tables. It is idempotent and safe to call concurrently.
func (l *Lab) Down() error {
	l.down.Lock()
	defer l.down.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	if err := teardown(ctx, l.ip, l.cfg.Name); err != nil {
		return fmt.Errorf("lab: down %s: %w", l.cfg.Name, err)
	}
	return nil
}

// Remove removes whatever exists of the lab called name, complete or not,
// like Down; it is what a process uses that has no *Lab, e.g. feedlab down.
// Removing a lab that does not exist is not an error.
func Remove(ctx context.Context, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q must be a lowercase letter followed by up to 5 lowercase letters or digits", ErrConfig, name)
	}
	if err := checkRoot(); err != nil {
		return err
	}
	ip, err := tool("ip")
	if err != nil {
		return err
	}
	if err := teardown(ctx, ip, name); err != nil {
		return fmt.Errorf("lab: remove %s: %w", name, err)
	}
	return nil
}

// Config returns the lab's configuration with defaults filled in.
func (l *Lab) Config() Config { return l.cfg }

// BufMax returns the effective net.core.rmem_max/wmem_max (the smaller of
// the two, lowest over the lab's namespaces) as measured when the lab was
// built or opened. It is below Config().BufMax when the kernel does not let
// a namespace raise these limits: recent kernels (6.18 here) show them
// read-only in child namespaces, mirroring the root namespace's values,
// which the lab never changes. Applications that need bigger buffers can
// use SO_RCVBUFFORCE/SO_SNDBUFFORCE (CAP_NET_ADMIN), or the machine's
// administrator can raise the root namespace's limits.
func (l *Lab) BufMax() int { return l.bufMax }

// SwitchNetns returns the name of the namespace holding the bridges br0,
// br1, ... (handy for tcpdump -i br0).
func (l *Lab) SwitchNetns() string { return l.switchNetns() }

// Pub returns the publisher host.
func (l *Lab) Pub() Host { return cloneHost(l.hosts[0]) }

// Subs returns the subscriber hosts sub1, sub2, ... in order.
func (l *Lab) Subs() []Host {
	subs := make([]Host, 0, len(l.hosts)-1)
	for _, h := range l.hosts[1:] {
		subs = append(subs, cloneHost(h))
	}
	return subs
}

// Hosts returns all hosts: the publisher, then the subscribers.
func (l *Lab) Hosts() []Host {
	hosts := make([]Host, 0, len(l.hosts))
	for _, h := range l.hosts {
		hosts = append(hosts, cloneHost(h))
	}
	return hosts
}

// Host returns the host called name: "pub", "sub1", "sub2", ...
func (l *Lab) Host(name string) (Host, bool) {
	for _, h := range l.hosts {
		if h.Name == name {
			return cloneHost(h), true
		}
	}
	return Host{}, false
}

func cloneHost(h Host) Host {
	h.NICs = slices.Clone(h.NICs)
	return h
}

// member returns the lab's own copy of h, or an error if h is not one of
// the lab's hosts.
func (l *Lab) member(h Host) (Host, error) {
	for _, m := range l.hosts {
		if m.Name == h.Name && m.Netns == h.Netns {
			return m, nil
		}
	}
	return Host{}, fmt.Errorf("%w: %q (namespace %q) is not a host of lab %s", ErrUnknownHost, h.Name, h.Netns, l.cfg.Name)
}

// Group returns line's multicast group and port: 239.<Net>.<line+1>.1 on
// port 5555+line. It panics if line is not in [0, Config().Lines).
func (l *Lab) Group(line int) netip.AddrPort {
	if line < 0 || line >= l.cfg.Lines {
		panic(fmt.Sprintf("lab: line %d out of range [0,%d)", line, l.cfg.Lines))
	}
	return netip.AddrPortFrom(
		netip.AddrFrom4([4]byte{239, byte(l.cfg.Net), byte(line + 1), 1}),
		uint16(GroupPort+line))
}

// Endpoint returns the ZeroMQ multicast endpoint for host h on line, with
// the interface given by its address as libpgm requires, e.g.
// "epgm://10.77.1.1;239.77.1.1:5555" for scheme "epgm" (or "pgm").
// It panics if line is out of range or h has no NIC on it.
func (l *Lab) Endpoint(scheme string, h Host, line int) string {
	g := l.Group(line)
	return fmt.Sprintf("%s://%s;%s", scheme, h.NICs[line].Addr, g)
}

// Command returns a command that runs name inside h's namespace (via ip
// netns exec). If h is not a host of this lab, the command fails to start
// with an error wrapping ErrUnknownHost; it never runs elsewhere.
func (l *Lab) Command(ctx context.Context, h Host, name string, args ...string) *exec.Cmd {
	m, err := l.member(h)
	if err != nil {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Err = err
		return cmd
	}
	return exec.CommandContext(ctx, l.ip, append([]string{"netns", "exec", m.Netns, name}, args...)...)
}

// Exec runs name inside h's namespace and returns its combined output. The
// error names the host and the command.
func (l *Lab) Exec(ctx context.Context, h Host, name string, args ...string) ([]byte, error) {
	out, err := l.Command(ctx, h, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("lab: on %s: %s: %w%s", h.Name, cmdline(name, args), err, condense(out))
	}
	return out, nil
}

// raiseHostBufMax raises the root namespace's socket-buffer limits to want
// where they are lower. It must run in the root namespace, as Up does.
// procfs reads the limits; it has no writer, so os.WriteFile sets them.
func raiseHostBufMax(want int) error {
	for _, name := range []string{"rmem_max", "wmem_max"} {
		have, err := sysctlInt("net.core." + name)
		if err != nil {
			return err
		}
		if have >= want {
			continue
		}
		if err := os.WriteFile("/proc/sys/net/core/"+name, []byte(strconv.Itoa(want)), 0o644); err != nil {
			return fmt.Errorf("lab: raising net.core.%s from %d to %d: %w", name, have, want, err)
		}
	}
	return nil
}
