package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ErrAddress marks an address Serve cannot listen on as written.
var ErrAddress = errors.New("bad address")

// Server serves /metrics over HTTP.
type Server struct {
	http      *http.Server
	addr      string
	done      chan struct{} // closed when Serve's goroutine has returned
	serveErr  error         // read once done is closed
	closeOnce sync.Once
	closeErr  error
}

// Timeouts of the HTTP server: a scraper that stalls cannot hold a
// connection, and Close does not wait on a scrape for long.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	closeTimeout      = 2 * time.Second
)

// CheckAddress reports whether addr is a HOST:PORT that Serve can try:
// HOST an IP address, a host name or empty (every interface), PORT a
// number of 0 (any free port) to 65535. Whether the port is free shows
// only when Serve listens.
func CheckAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics: %w %q: want HOST:PORT, e.g. 127.0.0.1:9464", ErrAddress, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("metrics: %w %q: port %q is not a number from 0 to 65535", ErrAddress, addr, port)
	}
	return nil
}

// Serve listens on addr (TCP, HOST:PORT) and serves g's metrics at
// /metrics, in the Prometheus text format (or in what the scraper asks
// for). It returns once it listens: an address that is taken, or that
// does not resolve, fails here.
func Serve(addr string, g prometheus.Gatherer) (*Server, error) {
	if err := CheckAddress(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err) // names the address and the cause
	}
	mux := http.NewServeMux()
	// ContinueOnError: one failing collector must not blank the others.
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	s := &Server{
		http: &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("metrics: serving %s: %w", s.addr, err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on, a port 0 resolved.
func (s *Server) Addr() string { return s.addr }

// Close stops listening, lets a scrape in progress finish (for up to
// two seconds), and waits for the server's goroutine. It returns the
// server's error, if it failed, and is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if err != nil {
			err = errors.Join(fmt.Errorf("metrics: closing %s: %w", s.addr, err), s.http.Close())
		}
		<-s.done
		s.closeErr = errors.Join(err, s.serveErr)
	})
	return s.closeErr
}
