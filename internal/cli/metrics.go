package cli

import (
	"flag"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedbus/feedbus/metrics"
)

// Metrics is the --metrics flag and, once started, the server of
// /metrics. With no address every method does nothing.
type Metrics struct {
	Addr string
	reg  *prometheus.Registry
	srv  *metrics.Server
}

// Register adds --metrics to fs.
func (m *Metrics) Register(fs *flag.FlagSet) {
	fs.StringVar(&m.Addr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (port 0: a free port, printed at the start; empty = off)")
}

// Check validates the address's form, as a usage error.
func (m *Metrics) Check() error {
	if m.Addr == "" {
		return nil
	}
	if err := metrics.CheckAddress(m.Addr); err != nil {
		return UsageError{Err: err}
	}
	return nil
}

// Start listens and serves the Go and process metrics at once, so that a
// taken port fails the run before anything else opens; Add adds the
// program's own. It says where on stderr, as prog.
func (m *Metrics) Start(prog string, stderr io.Writer) error {
	if m.Addr == "" {
		return nil
	}
	reg := metrics.NewRegistry()
	srv, err := metrics.Serve(m.Addr, reg)
	if err != nil {
		// A taken port or an unknown host, like a bad endpoint: the
		// configuration is at fault, and nothing has started.
		return UsageError{Err: err}
	}
	m.reg, m.srv = reg, srv
	fmt.Fprintf(stderr, "%s: metrics on http://%s/metrics\n", prog, srv.Addr())
	return nil
}

// Add registers collectors, each returned with its constructor's error
// (a collector constructor's two results can be passed straight in).
func (m *Metrics) Add(c prometheus.Collector, err error) error {
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if m.reg == nil {
		return nil
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close stops the server and waits for it; idempotent.
func (m *Metrics) Close() error {
	if m.srv == nil {
		return nil
	}
	return m.srv.Close()
}
