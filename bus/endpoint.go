package bus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Transport is the ZeroMQ transport of an endpoint.
type Transport string

// Transports feedbus speaks.
const (
	EPGM Transport = "epgm" // PGM encapsulated in UDP; any user
	PGM  Transport = "pgm"  // raw PGM over IP; needs CAP_NET_RAW
	TCP  Transport = "tcp"  // for hosts without multicast
	IPC  Transport = "ipc"  // same host, Unix domain socket
	// UDP is plain UDP multicast, one datagram a frame, without ZeroMQ
	// (exchange style): udp://INTERFACE;GROUP:PORT.
	UDP Transport = "udp"
)

// Endpoint is a parsed ZeroMQ endpoint. For pgm and epgm it is
// `TRANSPORT://INTERFACE;GROUP:PORT`, where INTERFACE is a name (eth1) or
// an IPv4 address; libpgm itself rejects names, so Resolve turns a name
// into the interface's address. For tcp it is `tcp://HOST:PORT`, where HOST
// is * (a publisher binds every interface), an IPv4 address, an interface
// name or a host name; libzmq accepts interface names only when binding
// and host names only when connecting, so Resolve turns both into an
// address.
type Endpoint struct {
	Transport Transport
	Interface string         // as given: a name or an address (multicast only)
	Host      string         // as given: *, an address, an interface or a host name (tcp only)
	Addr      netip.Addr     // the interface's (multicast) or the host's (tcp) IPv4 address, once resolved; invalid for tcp://*
	Device    string         // the interface's name, once resolved (multicast, and tcp given an interface name)
	Group     netip.AddrPort // multicast group and port (multicast only)
	Port      uint16         // the port (tcp only)
	Address   string         // everything after "://" (tcp and ipc); for tcp ADDRESS:PORT once resolved
}

// Multicast reports whether e is a pgm or epgm endpoint: multicast
// through libzmq and OpenPGM.
func (e Endpoint) Multicast() bool { return e.Transport == PGM || e.Transport == EPGM }

// IsUDP reports whether e is a udp:// line.
func (e Endpoint) IsUDP() bool { return e.Transport == UDP }

// grouped reports whether e names a multicast group: pgm, epgm or udp.
func (e Endpoint) grouped() bool { return e.Multicast() || e.IsUDP() }

// ParseEndpoint parses s without touching the host's interfaces.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q: want TRANSPORT://..., e.g. epgm://eth1;239.192.1.1:5555", ErrEndpoint, s)
	}
	e := Endpoint{Transport: Transport(scheme)}
	switch e.Transport {
	case IPC:
		if rest == "" {
			return Endpoint{}, fmt.Errorf("%w %q: empty path; want ipc://PATH", ErrEndpoint, s)
		}
		e.Address = rest
		return e, nil
	case TCP:
		return parseTCP(s, rest)
	case PGM, EPGM, UDP:
	default:
		return Endpoint{}, fmt.Errorf("%w %q: unknown transport %q (want epgm, pgm, udp, tcp or ipc)", ErrEndpoint, s, scheme)
	}
	iface, group, ok := strings.Cut(rest, ";")
	if !ok || iface == "" {
		return Endpoint{}, fmt.Errorf("%w %q: want %s://INTERFACE;GROUP:PORT", ErrEndpoint, s, scheme)
	}
	host, portStr, err := net.SplitHostPort(group)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: group %q: want GROUP:PORT", ErrEndpoint, s, group)
	}
	port, err := parsePort(s, portStr)
	if err != nil {
		return Endpoint{}, err
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: group %q is not an IPv4 address", ErrNotMulticast, s, host)
	}
	if !addr.Is4() || !addr.IsMulticast() {
		return Endpoint{}, fmt.Errorf("%w: %s in %q (IPv4 multicast is 224.0.0.0/4; use 239.0.0.0/8 on a private network)", ErrNotMulticast, addr, s)
	}
	e.Interface = iface
	e.Group = netip.AddrPortFrom(addr, port)
	if a, err := netip.ParseAddr(iface); err == nil {
		if !a.Is4() {
			return Endpoint{}, fmt.Errorf("%w %q: interface address %s is not IPv4", ErrInterface, s, a)
		}
		e.Addr = a
	}
	return e, nil
}

// parseTCP parses the HOST:PORT of tcp endpoint s. The port is required:
// libzmq would take a missing one as an invalid argument and * as a port
// chosen at random, which no subscriber could find.
func parseTCP(s, hostPort string) (Endpoint, error) {
	const want = "want tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555 (or tcp://*:5555 to bind every interface)"
	if hostPort == "" {
		return Endpoint{}, fmt.Errorf("%w %q: empty address; %s", ErrEndpoint, s, want)
	}
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		if !strings.Contains(hostPort, ":") {
			return Endpoint{}, fmt.Errorf("%w %q: no port; %s", ErrEndpoint, s, want)
		}
		return Endpoint{}, fmt.Errorf("%w %q: %s", ErrEndpoint, s, want)
	}
	if host == "" {
		return Endpoint{}, fmt.Errorf("%w %q: no host; %s", ErrEndpoint, s, want)
	}
	port, err := parsePort(s, portStr)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Transport: TCP, Host: host, Port: port, Address: hostPort}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return Endpoint{}, fmt.Errorf("%w %q: %s is not an IPv4 address (feedbus speaks IPv4 only)", ErrEndpoint, s, a)
		}
		e.Addr = a
	}
	return e, nil
}

// parsePort parses the port of endpoint s: a number from 1 to 65535.
func parsePort(s, port string) (uint16, error) {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w %q: port %q: want 1-65535", ErrEndpoint, s, port)
	}
	return uint16(n), nil
}

// Resolve looks up a multicast endpoint's interface on this host: a name
// becomes the interface's first IPv4 address. It fails when the interface
// does not exist, is down or has no IPv4 address. A tcp endpoint's host,
// unless it is * or an address, becomes the IPv4 address of the interface
// of that name or else of the host name, looked up in DNS (or
// /etc/hosts); a name with neither fails with ErrEndpoint. ipc endpoints
// are returned unchanged.
func (e Endpoint) Resolve() (Endpoint, error) {
	switch {
	case e.Transport == TCP:
		return e.resolveTCP()
	case !e.grouped():
		return e, nil
	}
	ifi, err := findInterface(e.Interface, e.Addr)
	if err != nil {
		return Endpoint{}, err
	}
	if e.Addr, err = interfaceAddr(ifi, e.Addr); err != nil {
		return Endpoint{}, err
	}
	e.Device = ifi.Name
	return e, nil
}

// resolveTCP resolves a tcp endpoint's host; see Resolve.
func (e Endpoint) resolveTCP() (Endpoint, error) {
	if e.Host == "*" || e.Addr.IsValid() {
		return e, nil
	}
	if ifi, err := net.InterfaceByName(e.Host); err == nil {
		if e.Addr, err = interfaceAddr(ifi, netip.Addr{}); err != nil {
			return Endpoint{}, err
		}
		e.Device = ifi.Name
	} else {
		addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", e.Host)
		if err != nil || len(addrs) == 0 {
			return Endpoint{}, fmt.Errorf("%w: %q is neither an interface here nor a host name with an IPv4 address%s", ErrEndpoint, e.Host, lookupReason(err))
		}
		e.Addr = addrs[0].Unmap()
	}
	e.Address = netip.AddrPortFrom(e.Addr, e.Port).String()
	return e, nil
}

// lookupReason says why a host name lookup failed, unless it is simply
// not found (the message says that already).
func lookupReason(err error) string {
	var dnsErr *net.DNSError
	if err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return ""
	}
	return ": " + err.Error()
}

// interfaceAddr checks that ifi is up and returns addr, or when addr is
// not set the interface's first IPv4 address.
func interfaceAddr(ifi *net.Interface, addr netip.Addr) (netip.Addr, error) {
	if ifi.Flags&net.FlagUp == 0 {
		return netip.Addr{}, fmt.Errorf("%w: interface %s is down", ErrInterface, ifi.Name)
	}
	if addr.IsValid() {
		return addr, nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: interface %s: %w", ErrInterface, ifi.Name, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: interface %s has no IPv4 address", ErrInterface, ifi.Name)
}

// findInterface finds the interface by name, or by address when addr is set.
func findInterface(name string, addr netip.Addr) (*net.Interface, error) {
	if !addr.IsValid() {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("%w: no interface named %q on this host", ErrInterface, name)
		}
		return ifi, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("%w: listing interfaces: %w", ErrInterface, err)
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == addr {
				return &ifs[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: no interface on this host has address %s", ErrInterface, addr)
}

// RemoveSocketFile removes the file of an ipc:// endpoint that a socket
// bound: libzmq 4.3 leaves it behind when the socket closes, even after
// zmq_unbind, so each run would leave one. It does nothing for other
// transports, for Linux's abstract names (ipc://@name), or for a file that
// is already gone. Call it only after the binding socket has closed.
func (e Endpoint) RemoveSocketFile() error {
	if e.Transport != IPC || strings.HasPrefix(e.Address, "@") {
		return nil
	}
	if err := os.Remove(e.Address); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: removing the socket file: %w", e, err)
	}
	return nil
}

// String returns the endpoint in ZeroMQ's syntax, with a resolved
// interface address in place of its name.
func (e Endpoint) String() string {
	if !e.grouped() {
		return string(e.Transport) + "://" + e.Address
	}
	iface := e.Interface
	if e.Addr.IsValid() {
		iface = e.Addr.String()
	}
	return fmt.Sprintf("%s://%s;%s", e.Transport, iface, e.Group)
}

// ParseLines parses, resolves and checks a set of line endpoints: at least
// one, and no two on the same multicast group and port or the same address.
func ParseLines(endpoints []string) ([]Endpoint, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("%w: no line endpoint given", ErrEndpoint)
	}
	out := make([]Endpoint, 0, len(endpoints))
	for i, s := range endpoints {
		e, err := ParseEndpoint(s)
		if err != nil {
			return nil, err
		}
		if e, err = e.Resolve(); err != nil {
			return nil, fmt.Errorf("line %s (%s): %w", LineName(i), s, err)
		}
		if len(out) > 0 && e.IsUDP() != out[0].IsUDP() {
			return nil, fmt.Errorf("%w: line %s is %s and line A %s: udp:// lines cannot be mixed with ZeroMQ's", ErrEndpoint, LineName(i), e.Transport, out[0].Transport)
		}
		for j, o := range out {
			if (e.grouped() && o.grouped() && e.Group == o.Group) || (!e.grouped() && e.String() == o.String()) {
				return nil, fmt.Errorf("%w: lines %s and %s both use %s; each line needs its own group", ErrDuplicate, LineName(j), LineName(i), groupOrAddress(e))
			}
			// libpgm binds its UDP and raw sockets to the port on every
			// address, and Linux hands such a socket every group joined on
			// that port (IP_MULTICAST_ALL): two lines on one port would
			// each carry the other's traffic and stop being independent.
			if e.grouped() && o.grouped() && e.Group.Port() == o.Group.Port() {
				return nil, fmt.Errorf("%w: lines %s and %s both use port %d; give each line its own port, or each would also receive the other's group",
					ErrDuplicate, LineName(j), LineName(i), e.Group.Port())
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func groupOrAddress(e Endpoint) string {
	if e.grouped() {
		return e.Group.String()
	}
	return e.String()
}

// LineName names line i as exchanges do: A, B, C...
func LineName(i int) string {
	if i >= 0 && i < 26 {
		return string(rune('A' + i))
	}
	return "L" + strconv.Itoa(i)
}
