// Package beacon is the consensus-layer reader: go-eth2-client over one or
// more beacon nodes, with requests spread over the nodes (least in flight
// first), retries with backoff that fail over to the next node, block
// verification against headers, and per-endpoint Prometheus metrics.
package beacon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/rs/zerolog"
)

// ErrNotFound is returned for unknown blocks or states (a 404); for a slot
// without a block Block returns (nil, nil) instead.
var ErrNotFound = errors.New("not found")

// ErrMismatch marks data that contradicts itself or its header (wrong data).
var ErrMismatch = errors.New("data mismatch")

// errPermanent marks errors no retry can fix (bad request).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// client is the subset of go-eth2-client the reader uses.
type client interface {
	eth2client.Service
	eth2client.GenesisProvider
	eth2client.SpecProvider
	eth2client.FinalityProvider
	eth2client.ValidatorsProvider
	eth2client.BeaconStateProvider
	eth2client.BeaconCommitteesProvider
	eth2client.BeaconBlockHeadersProvider
	eth2client.SignedBeaconBlockProvider
}

type endpoint struct {
	name     string
	base     string
	client   client
	http     *http.Client
	inflight atomic.Int64
	failures atomic.Int64 // consecutive failed attempts
}

// Service reads the consensus layer from one or more beacon nodes.
type Service struct {
	log      zerolog.Logger
	p        *parameters
	eps      []*endpoint
	m        *metrics
	rr       atomic.Uint64
	accept   string
	attempts int
}

// New connects to the configured beacon nodes. Nodes that are down at start
// are tried again on use (delayed start).
func New(ctx context.Context, params ...Parameter) (*Service, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	m, err := newMetrics(p.registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{
		log:      p.log.With().Str("service", "beacon").Logger(),
		p:        p,
		m:        m,
		accept:   "application/octet-stream;q=1,application/json;q=0.9",
		attempts: p.attempts,
	}
	if p.enforceJSON {
		s.accept = "application/json"
	}
	for _, addr := range p.addresses {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = p.maxIdleConns
		tr.MaxIdleConnsPerHost = p.maxIdleConns
		hc := &http.Client{Transport: tr, Timeout: p.timeout}
		svc, err := eth2http.New(ctx,
			eth2http.WithAddress(addr),
			eth2http.WithTimeout(p.timeout),
			eth2http.WithLogLevel(zerolog.Disabled),
			eth2http.WithEnforceJSON(p.enforceJSON),
			eth2http.WithAllowDelayedStart(true),
			eth2http.WithHTTPClient(hc),
			eth2http.WithIndexChunkSize(p.indexChunk),
		)
		if err != nil {
			return nil, fmt.Errorf("connect to beacon node %s: %w", redact(addr), err)
		}
		c, ok := svc.(client)
		if !ok {
			return nil, fmt.Errorf("beacon client for %s lacks required providers", redact(addr))
		}
		s.eps = append(s.eps, &endpoint{name: redact(addr), base: strings.TrimRight(addr, "/"), client: c, http: hc})
	}
	s.log.Debug().Int("endpoints", len(s.eps)).Msg("beacon reader ready")
	return s, nil
}

// redact strips credentials and paths from an address for logs and labels.
func redact(addr string) string {
	if i := strings.Index(addr, "://"); i >= 0 {
		rest := addr[i+3:]
		if j := strings.LastIndex(rest, "@"); j >= 0 {
			rest = rest[j+1:]
		}
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			rest = rest[:j]
		}
		return addr[:i+3] + rest
	}
	return addr
}

// Endpoints lists the endpoint labels in configuration order.
func (s *Service) Endpoints() []string {
	out := make([]string, len(s.eps))
	for i, e := range s.eps {
		out[i] = e.name
	}
	return out
}

// pick returns the index of the endpoint to try first: fewest consecutive
// failures, then fewest requests in flight, ties rotated.
func (s *Service) pick() int {
	n := len(s.eps)
	start := int(s.rr.Add(1) % uint64(n))
	best := start
	for k := 1; k < n; k++ {
		i := (start + k) % n
		a, b := s.eps[i], s.eps[best]
		fa, fb := min(a.failures.Load(), 3), min(b.failures.Load(), 3)
		if fa < fb || (fa == fb && a.inflight.Load() < b.inflight.Load()) {
			best = i
		}
	}
	return best
}

func classify(err error) error {
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case apiErr.StatusCode == http.StatusBadRequest:
			return &permanentError{err}
		}
	}
	return err
}

func (s *Service) backoff(attempt int) time.Duration {
	d := s.p.backoffMin << min(attempt, 20)
	if d > s.p.backoffMax || d <= 0 {
		d = s.p.backoffMax
	}
	return d
}

// once runs fn on ep, classifies the error and records metrics and health.
func (s *Service) once(ctx context.Context, op string, ep *endpoint, fn func(ctx context.Context, ep *endpoint) error) error {
	ep.inflight.Add(1)
	t0 := time.Now()
	err := classify(fn(ctx, ep))
	ep.inflight.Add(-1)
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		result = "not_found"
	case errors.Is(err, ErrMismatch):
		result = "mismatch"
	default:
		result = "error"
	}
	if s.m != nil {
		s.m.requests.WithLabelValues(ep.name, op, result).Inc()
		s.m.duration.WithLabelValues(ep.name, op).Observe(time.Since(t0).Seconds())
	}
	if err == nil || errors.Is(err, ErrNotFound) {
		ep.failures.Store(0)
	} else if ctx.Err() == nil {
		ep.failures.Add(1)
	}
	return err
}

// call runs fn on an endpoint, retrying on other endpoints with backoff.
// ErrNotFound and permanent errors end the call at once.
func (s *Service) call(ctx context.Context, op string, fn func(ctx context.Context, ep *endpoint) error) error {
	var errs []error
	first := s.pick()
	for attempt := range s.attempts {
		ep := s.eps[(first+attempt)%len(s.eps)]
		err := s.once(ctx, op, ep, fn)
		if err == nil || errors.Is(err, ErrNotFound) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("%s on %s: %w", op, ep.name, err)
		}
		errs = append(errs, fmt.Errorf("attempt %d on %s: %w", attempt+1, ep.name, err))
		if attempt == s.attempts-1 {
			break
		}
		if s.m != nil {
			s.m.failover.WithLabelValues(ep.name, op).Inc()
		}
		s.log.Debug().Err(err).Str("endpoint", ep.name).Str("operation", op).Int("attempt", attempt+1).Msg("retrying")
		t := time.NewTimer(s.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
	return fmt.Errorf("%s failed after %d attempts: %w", op, s.attempts, errors.Join(errs...))
}

// Close drops the idle keep-alive connections to every node.
func (s *Service) Close() {
	for _, ep := range s.eps {
		ep.http.CloseIdleConnections()
	}
}
