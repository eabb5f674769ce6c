package main

import (
	"errors"
	"io"
	"testing"

	"github.com/feedbus/feedbus/internal/cli"
)

func TestParseFlagsKeepsToTheGroup(t *testing.T) {
	c, err := parseFlags([]string{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1", "-rate", "10000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.group.String() != "239.79.1.1:5555" || c.iface.String() != "10.79.1.1" || c.rate != 10000 || c.batch != 64 || c.sndbuf != 8<<20 || c.hops != 1 {
		t.Errorf("config %+v", c)
	}
	for _, args := range [][]string{
		{"-mode", "send", "-iface", "10.79.1.1"},                               // no group
		{"-mode", "send", "-group", "10.79.1.255:5555", "-iface", "10.79.1.1"}, // not multicast
		{"-mode", "send", "-group", "224.0.0.1:5555", "-iface", "10.79.1.1"},   // multicast, but not 239/8
		{"-mode", "send", "-group", "239.79.1.1", "-iface", "10.79.1.1"},       // no port
		{"-mode", "send", "-group", "239.79.1.1:0", "-iface", "10.79.1.1"},     // port 0
		{"-mode", "send", "-group", "239.79.1.1:5555"},                         // no iface
		{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "::1"},        // not IPv4
		{"-mode", "both", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1"},
		{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1", "-size", "19"},
		{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1", "-size", "1473"},
		{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1", "-rate", "-1"},
		{"-mode", "send", "-group", "239.79.1.1:5555", "-iface", "10.79.1.1", "-batch", "0"},
	} {
		_, err := parseFlags(args, io.Discard)
		var ue cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}
