package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// DefaultListenAddress is where the server listens unless configured.
const DefaultListenAddress = "127.0.0.1:9104"

// Server serves /metrics and /healthz.
type Server struct {
	log  zerolog.Logger
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	err  error
}

type serverParameters struct {
	log          zerolog.Logger
	metrics      *Metrics
	address      string
	allowPublic  bool
	checkTimeout time.Duration
}

// ServerParameter configures NewServer.
type ServerParameter func(*serverParameters)

// WithServerLogger sets the parent logger.
func WithServerLogger(l zerolog.Logger) ServerParameter {
	return func(p *serverParameters) { p.log = l }
}

// WithMetrics sets the metric set to serve (required).
func WithMetrics(m *Metrics) ServerParameter { return func(p *serverParameters) { p.metrics = m } }

// WithListenAddress sets host:port (default 127.0.0.1:9104; port 0 picks one).
func WithListenAddress(a string) ServerParameter { return func(p *serverParameters) { p.address = a } }

// WithAllowNonLoopback permits listening on a non-loopback address (e.g.
// 0.0.0.0 inside a container); refused otherwise.
func WithAllowNonLoopback(v bool) ServerParameter {
	return func(p *serverParameters) { p.allowPublic = v }
}

// WithCheckTimeout bounds each health check (default 5 s).
func WithCheckTimeout(d time.Duration) ServerParameter {
	return func(p *serverParameters) { p.checkTimeout = d }
}

// NewServer listens at once and serves until ctx ends (then shuts down
// within 5 s). /metrics is the Prometheus exposition; /healthz answers 200
// with a JSON Report when every check passes and 503 otherwise.
func NewServer(ctx context.Context, params ...ServerParameter) (*Server, error) {
	p := &serverParameters{log: zerolog.Nop(), address: DefaultListenAddress, checkTimeout: 5 * time.Second}
	for _, f := range params {
		if f != nil {
			f(p)
		}
	}
	if p.metrics == nil {
		return nil, errors.New("problem with parameters: no metrics specified")
	}
	if p.checkTimeout <= 0 {
		return nil, errors.New("problem with parameters: check timeout must be positive")
	}
	if err := checkListenAddress(p.address, p.allowPublic); err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	m := p.metrics
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 10 * time.Second}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep := m.Health(r.Context(), p.checkTimeout)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !rep.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
	ln, err := net.Listen("tcp", p.address)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", p.address, err)
	}
	s := &Server{
		log: p.log.With().Str("service", "metrics_server").Logger(),
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			s.log.Error().Err(err).Msg("Metrics server stopped")
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(sctx); err != nil {
			_ = s.srv.Close()
		}
	}()
	s.log.Info().Str("address", ln.Addr().String()).Msg("Serving /metrics and /healthz")
	return s, nil
}

// Addr is the address actually listened on (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the error that stopped the server, if any (valid after Done).
func (s *Server) Err() error { return s.err }

// checkListenAddress refuses addresses that are not loopback unless allowed.
// "localhost" counts as loopback; an empty host means every interface.
func checkListenAddress(addr string, allowPublic bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("invalid listen address %q: no port", addr)
	}
	if allowPublic {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not loopback; allow non-loopback addresses explicitly to use it", addr)
	}
	return nil
}
