package bus

import (
	"fmt"
	"net"
	"net/netip"
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
)

// Endpoint is a parsed ZeroMQ endpoint. For pgm and epgm it is
// `TRANSPORT://INTERFACE;GROUP:PORT`, where INTERFACE is a name (eth1) or
// an IPv4 address; libpgm itself rejects names, so Resolve turns a name
// into the interface's address.
type Endpoint struct {
	Transport Transport
	Interface string         // as given: a name or an address (multicast only)
	Addr      netip.Addr     // the interface's IPv4 address, once resolved (multicast only)
	Device    string         // the interface's name, once resolved (multicast only)
	Group     netip.AddrPort // multicast group and port (multicast only)
	Address   string         // everything after "://" (tcp and ipc)
}

// Multicast reports whether e is a pgm or epgm endpoint.
func (e Endpoint) Multicast() bool { return e.Transport == PGM || e.Transport == EPGM }

// ParseEndpoint parses s without touching the host's interfaces.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q: want TRANSPORT://..., e.g. epgm://eth1;239.192.1.1:5555", ErrEndpoint, s)
	}
	e := Endpoint{Transport: Transport(scheme)}
	switch e.Transport {
	case TCP, IPC:
		if rest == "" {
			return Endpoint{}, fmt.Errorf("%w %q: empty address", ErrEndpoint, s)
		}
		e.Address = rest
		return e, nil
	case PGM, EPGM:
	default:
		return Endpoint{}, fmt.Errorf("%w %q: unknown transport %q (want epgm, pgm, tcp or ipc)", ErrEndpoint, s, scheme)
	}
	iface, group, ok := strings.Cut(rest, ";")
	if !ok || iface == "" {
		return Endpoint{}, fmt.Errorf("%w %q: want %s://INTERFACE;GROUP:PORT", ErrEndpoint, s, scheme)
	}
	host, portStr, err := net.SplitHostPort(group)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: group %q: want GROUP:PORT", ErrEndpoint, s, group)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return Endpoint{}, fmt.Errorf("%w %q: port %q: want 1-65535", ErrEndpoint, s, portStr)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: group %q is not an IPv4 address", ErrNotMulticast, s, host)
	}
	if !addr.Is4() || !addr.IsMulticast() {
		return Endpoint{}, fmt.Errorf("%w: %s in %q (IPv4 multicast is 224.0.0.0/4; use 239.0.0.0/8 on a private network)", ErrNotMulticast, addr, s)
	}
	e.Interface = iface
	e.Group = netip.AddrPortFrom(addr, uint16(port))
	if a, err := netip.ParseAddr(iface); err == nil {
		if !a.Is4() {
			return Endpoint{}, fmt.Errorf("%w %q: interface address %s is not IPv4", ErrInterface, s, a)
		}
		e.Addr = a
	}
	return e, nil
}

// Resolve looks up a multicast endpoint's interface on this host: a name
// becomes the interface's first IPv4 address. It fails when the interface
// does not exist, is down or has no IPv4 address. Other endpoints are
// returned unchanged.
func (e Endpoint) Resolve() (Endpoint, error) {
	if !e.Multicast() {
		return e, nil
	}
	ifi, err := findInterface(e.Interface, e.Addr)
	if err != nil {
		return Endpoint{}, err
	}
	if ifi.Flags&net.FlagUp == 0 {
		return Endpoint{}, fmt.Errorf("%w: interface %s is down", ErrInterface, ifi.Name)
	}
	e.Device = ifi.Name
	if e.Addr.IsValid() {
		return e, nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w: interface %s: %w", ErrInterface, ifi.Name, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			e.Addr = p.Addr()
			return e, nil
		}
	}
	return Endpoint{}, fmt.Errorf("%w: interface %s has no IPv4 address", ErrInterface, ifi.Name)
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

// String returns the endpoint in ZeroMQ's syntax, with a resolved
// interface address in place of its name.
func (e Endpoint) String() string {
	if !e.Multicast() {
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
		for j, o := range out {
			if (e.Multicast() && o.Multicast() && e.Group == o.Group) || (!e.Multicast() && e.String() == o.String()) {
				return nil, fmt.Errorf("%w: lines %s and %s both use %s; each line needs its own group", ErrDuplicate, LineName(j), LineName(i), groupOrAddress(e))
			}
			// libpgm binds its UDP and raw sockets to the port on every
			// address, and Linux hands such a socket every group joined on
			// that port (IP_MULTICAST_ALL): two lines on one port would
			// each carry the other's traffic and stop being independent.
			if e.Multicast() && o.Multicast() && e.Group.Port() == o.Group.Port() {
				return nil, fmt.Errorf("%w: lines %s and %s both use port %d; give each line its own port, or each would also receive the other's group",
					ErrDuplicate, LineName(j), LineName(i), e.Group.Port())
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func groupOrAddress(e Endpoint) string {
	if e.Multicast() {
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
