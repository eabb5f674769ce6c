package bus

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    Endpoint
		wantErr error
		errText string // part of the error's text
	}{
		{in: "tcp://127.0.0.1:5555", want: Endpoint{Transport: TCP, Host: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"), Port: 5555, Address: "127.0.0.1:5555"}},
		{in: "tcp://*:5555", want: Endpoint{Transport: TCP, Host: "*", Port: 5555, Address: "*:5555"}},
		{in: "tcp://localhost:5555", want: Endpoint{Transport: TCP, Host: "localhost", Port: 5555, Address: "localhost:5555"}},
		{in: "tcp://eth0:1", want: Endpoint{Transport: TCP, Host: "eth0", Port: 1, Address: "eth0:1"}},
		{in: "tcp://127.0.0.1", wantErr: ErrEndpoint, errText: `"tcp://127.0.0.1": no port; want tcp://HOST:PORT`},
		{in: "tcp://localhost", wantErr: ErrEndpoint, errText: "no port"},
		{in: "tcp://127.0.0.1:", wantErr: ErrEndpoint, errText: `port "": want 1-65535`},
		{in: "tcp://127.0.0.1:0", wantErr: ErrEndpoint, errText: `port "0": want 1-65535`},
		{in: "tcp://127.0.0.1:65536", wantErr: ErrEndpoint, errText: `port "65536": want 1-65535`},
		{in: "tcp://127.0.0.1:http", wantErr: ErrEndpoint, errText: `port "http": want 1-65535`},
		{in: "tcp://*:*", wantErr: ErrEndpoint, errText: `port "*": want 1-65535`},
		{in: "tcp://:5555", wantErr: ErrEndpoint, errText: "no host"},
		{in: "tcp://", wantErr: ErrEndpoint, errText: "empty address"},
		{in: "tcp://[::1]:5555", wantErr: ErrEndpoint, errText: "::1 is not an IPv4 address"},
		{in: "tcp://::1:5555", wantErr: ErrEndpoint, errText: "want tcp://HOST:PORT"},
		{in: "ipc:///tmp/feed", want: Endpoint{Transport: IPC, Address: "/tmp/feed"}},
		{in: "ipc://", wantErr: ErrEndpoint, errText: "empty path"},
		{in: "epgm://eth1;239.192.1.1:5555", want: Endpoint{Transport: EPGM, Interface: "eth1", Group: netip.MustParseAddrPort("239.192.1.1:5555")}},
		{in: "pgm://10.0.0.1;239.192.1.1:5555", want: Endpoint{Transport: PGM, Interface: "10.0.0.1", Addr: netip.MustParseAddr("10.0.0.1"), Group: netip.MustParseAddrPort("239.192.1.1:5555")}},
		{in: "epgm://eth1;239.192.1.1:0", wantErr: ErrEndpoint, errText: `port "0"`},
		{in: "epgm://eth1;239.192.1.1", wantErr: ErrEndpoint, errText: "want GROUP:PORT"},
		{in: "epgm://eth1;10.0.0.1:5555", wantErr: ErrNotMulticast},
		{in: "udp://1.2.3.4:5", wantErr: ErrEndpoint, errText: "want udp://INTERFACE;GROUP:PORT"},
		{in: "udp://eth1;239.192.1.1:5555", want: Endpoint{Transport: UDP, Interface: "eth1", Group: netip.MustParseAddrPort("239.192.1.1:5555")}},
		{in: "udp://eth1;10.0.0.1:5555", wantErr: ErrNotMulticast},
		{in: "sctp://1.2.3.4:5", wantErr: ErrEndpoint, errText: "unknown transport"},
		{in: "127.0.0.1:5555", wantErr: ErrEndpoint, errText: "want TRANSPORT://"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEndpoint(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("ParseEndpoint(%q) = %+v, %v; want an error wrapping %v containing %q", tt.in, got, err, tt.wantErr, tt.errText)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseEndpoint(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestResolveEndpointTCP(t *testing.T) {
	lo := loopback(t)
	tests := []struct {
		in      string
		want    string // String() once resolved
		device  string
		wantErr error
	}{
		{in: "tcp://*:5555", want: "tcp://*:5555"},
		{in: "tcp://127.0.0.1:5555", want: "tcp://127.0.0.1:5555"},
		{in: "tcp://localhost:5555", want: "tcp://127.0.0.1:5555"}, // /etc/hosts
		{in: "tcp://" + lo.Name + ":6000", want: "tcp://127.0.0.1:6000", device: lo.Name},
		{in: "tcp://no-such-host.invalid:5555", wantErr: ErrEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseEndpoint(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Resolve()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %+v, %v; want an error wrapping %v", tt.in, r, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), `"no-such-host.invalid" is neither an interface here nor a host name`) {
					t.Errorf("error does not name the host: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.in, err)
			}
			if r.String() != tt.want || r.Device != tt.device || r.Port != e.Port {
				t.Errorf("Resolve(%q) = %s (device %q, port %d), want %s (device %q, port %d)", tt.in, r, r.Device, r.Port, tt.want, tt.device, e.Port)
			}
		})
	}
}

// loopback returns the host's loopback interface, whose IPv4 address is
// 127.0.0.1 wherever the tests run.
func loopback(t *testing.T) net.Interface {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 || ifi.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == netip.MustParseAddr("127.0.0.1") {
				return ifi
			}
		}
	}
	t.Skip("no loopback interface with 127.0.0.1")
	return net.Interface{}
}

func TestParseLinesEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr error
		errText string
	}{
		{name: "host name resolved", in: []string{"tcp://localhost:5555", "tcp://127.0.0.1:5556"}, want: []string{"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"}},
		{name: "bind all", in: []string{"tcp://*:5555"}, want: []string{"tcp://*:5555"}},
		{name: "same address by name and number", in: []string{"tcp://localhost:5555", "tcp://127.0.0.1:5555"}, wantErr: ErrDuplicate, errText: "lines A and B both use tcp://127.0.0.1:5555"},
		{name: "no port", in: []string{"tcp://127.0.0.1"}, wantErr: ErrEndpoint, errText: "no port"},
		{name: "unknown host", in: []string{"tcp://127.0.0.1:5555", "tcp://no-such-host.invalid:5555"}, wantErr: ErrEndpoint, errText: "line B (tcp://no-such-host.invalid:5555): bus: bad endpoint: "},
		{name: "none", wantErr: ErrEndpoint, errText: "no line endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := ParseLines(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("ParseLines(%q) = %v, %v; want an error wrapping %v containing %q", tt.in, lines, err, tt.wantErr, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range lines {
				got = append(got, e.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("ParseLines(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// udp:// lines cannot share a subscriber with ZeroMQ's: their frames come
// through rings, not sockets.
func TestParseLinesNoMixedUDP(t *testing.T) {
	_, err := ParseLines([]string{"udp://lo;239.255.1.1:5000", "ipc:///tmp/x"})
	if !errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), "cannot be mixed") {
		t.Fatalf("%v, want an error that says udp:// lines cannot be mixed", err)
	}
}
