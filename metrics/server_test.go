package metrics

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/feedbus/feedbus/internal/metricstest"
)

func TestCheckAddress(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9464", ":9464", "localhost:0", "[::1]:9464"} {
		if err := CheckAddress(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, tc := range []struct{ addr, want string }{
		{"", "want HOST:PORT"},
		{"9464", "want HOST:PORT"},
		{"127.0.0.1", "want HOST:PORT"},
		{"127.0.0.1:", "not a number"},
		{"127.0.0.1:metrics", "not a number"},
		{"127.0.0.1:65536", "not a number"},
		{"127.0.0.1:-1", "not a number"},
	} {
		err := CheckAddress(tc.addr)
		if !errors.Is(err, ErrAddress) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want a one-line ErrAddress saying %q", tc.addr, err, tc.want)
		}
	}
}

// Serve serves the registry at /metrics until Close, which is idempotent;
// a taken port fails at once, naming it.
func TestServe(t *testing.T) {
	s, err := Serve("127.0.0.1:0", NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	fams, err := metricstest.Scrape("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Errorf("no go_goroutines in %d families", len(fams))
	}
	if _, err := Serve(s.Addr(), NewRegistry()); !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), s.Addr()) || strings.Contains(err.Error(), "\n") {
		t.Errorf("serving on a taken port: %v, want a one-line EADDRINUSE naming %s", err, s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := metricstest.Scrape("http://" + s.Addr() + "/metrics"); err == nil {
		t.Error("still serving after Close")
	}
	// The port is free again: Close waited for the listener to go.
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("the port is still held after Close: %v", err)
	}
	ln.Close()
}
