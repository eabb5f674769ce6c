package lab

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestInNetns checks that a thread in a host's namespace sees that host's
// network: its NICs in /proc (NetDev), its loopback for sockets, and only
// its own.
func TestInNetns(t *testing.T) {
	t.Parallel()
	l := newLab(t, Config{Name: "ltns", Net: testNet, Subscribers: 1, Lines: 1})
	pub := l.Pub()

	err := l.InNetns(pub, func() error {
		p, err := ThreadProc()
		if err != nil {
			return err
		}
		dev, err := p.NetDev()
		if err != nil {
			return err
		}
		if _, ok := dev["eth1"]; !ok || len(dev) != 2 {
			t.Errorf("NetDev in %s: %v, want lo and eth1", pub.Name, dev)
		}
		snmp, err := p.Snmp()
		if err != nil {
			return err
		}
		if snmp.Udp.InDatagrams == nil {
			t.Errorf("Snmp in %s: no Udp InDatagrams", pub.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A server on the publisher's loopback answers a DialContext client
	// and no one in the root namespace.
	var ln net.Listener
	if err := l.InNetns(pub, func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from pub\n")
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.DialContext(pub)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "hello from pub\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if c, err := new(net.Dialer).DialContext(ctx, "tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("the root namespace reached %s, the publisher's loopback", ln.Addr())
	}
	if err := l.InNetns(Host{Name: "stranger", Netns: "ltns-x"}, func() error { return nil }); err == nil {
		t.Error("InNetns ran in a host of no lab")
	}
}
