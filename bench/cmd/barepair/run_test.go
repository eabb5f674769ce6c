package main

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/feedbus/feedbus/internal/cli"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-mode", "pub", "-endpoint", "epgm://10.79.1.1;239.79.1.1:5555", "-rate", "10000", "-pgm-rate", "20000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.rate != 10000 || c.pgmRate != 20000 || c.size != 64 {
		t.Errorf("rate %v pgm-rate %d size %d", c.rate, c.pgmRate, c.size)
	}
	o, err := c.options()
	if err != nil || o.Rate != 20000 {
		t.Errorf("options: rate %d, %v", o.Rate, err)
	}
	c, err = parseFlags([]string{"-mode", "sub", "-endpoint", "epgm://10.79.1.11;239.79.1.1:5555", "-hlog", "x.hlog", "-expected-interval", "100us"}, io.Discard)
	if err != nil || c.hlog != "x.hlog" || c.expected != 100*time.Microsecond || c.status != time.Second {
		t.Errorf("sub: %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"-mode", "pub", "-endpoint", "tcp://127.0.0.1:5555", "-size", "15"}, // no room for the send time
		{"-mode", "pub", "-endpoint", "tcp://127.0.0.1:5555", "-rate", "-1"},
		{"-mode", "sub", "-endpoint", "tcp://127.0.0.1:5555", "-expected-interval", "-1s"},
	} {
		_, err := parseFlags(args, io.Discard)
		var ue cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}
