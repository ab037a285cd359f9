package beacon

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type parameters struct {
	log            zerolog.Logger
	addresses      []string
	timeout        time.Duration
	attempts       int
	backoffMin     time.Duration
	backoffMax     time.Duration
	registerer     prometheus.Registerer
	verifyBlocks   bool
	enforceJSON    bool
	indexChunk     int
	maxIdleConns   int
	confirmMissing bool
}

// Parameter configures New.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithAddresses sets the beacon node URLs (at least one; required).
func WithAddresses(a ...string) Parameter {
	return parameterFunc(func(p *parameters) { p.addresses = append([]string(nil), a...) })
}

// WithTimeout bounds each single request (default 60 s).
func WithTimeout(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.timeout = d })
}

// WithAttempts sets the total number of tries of one call across endpoints (default 6).
func WithAttempts(n int) Parameter { return parameterFunc(func(p *parameters) { p.attempts = n }) }

// WithBackoff sets the first and the largest pause between tries (default 50 ms, 2 s).
func WithBackoff(minimum, maximum time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.backoffMin, p.backoffMax = minimum, maximum })
}

// WithRegisterer registers the per-endpoint metrics on r (nil: no metrics).
func WithRegisterer(r prometheus.Registerer) Parameter {
	return parameterFunc(func(p *parameters) { p.registerer = r })
}

// WithVerifyBlocks checks every block against its header (slot, proposer,
// parent and state root, hash-tree-root of the body) before use (default true).
func WithVerifyBlocks(v bool) Parameter {
	return parameterFunc(func(p *parameters) { p.verifyBlocks = v })
}

// WithConfirmMissing asks the other nodes before taking a slot as empty
// (default true; only matters with several nodes).
func WithConfirmMissing(v bool) Parameter {
	return parameterFunc(func(p *parameters) { p.confirmMissing = v })
}

// WithEnforceJSON asks for JSON instead of SSZ (the reference's access
// pattern; for comparisons only).
func WithEnforceJSON(v bool) Parameter {
	return parameterFunc(func(p *parameters) { p.enforceJSON = v })
}

// WithIndexChunkSize sets the number of validator ids per POST (default 600).
func WithIndexChunkSize(n int) Parameter {
	return parameterFunc(func(p *parameters) { p.indexChunk = n })
}

// WithMaxIdleConnsPerEndpoint sizes the keep-alive pool per node (default 64).
func WithMaxIdleConnsPerEndpoint(n int) Parameter {
	return parameterFunc(func(p *parameters) { p.maxIdleConns = n })
}

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{
		log:            zerolog.Nop(),
		timeout:        60 * time.Second,
		attempts:       6,
		backoffMin:     50 * time.Millisecond,
		backoffMax:     2 * time.Second,
		verifyBlocks:   true,
		indexChunk:     600,
		maxIdleConns:   64,
		confirmMissing: true,
	}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	if len(p.addresses) == 0 {
		return nil, errors.New("no beacon node addresses specified")
	}
	seen := map[string]bool{}
	for _, a := range p.addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid beacon node address %q", a)
		}
		if seen[a] {
			return nil, fmt.Errorf("beacon node address %q given twice", a)
		}
		seen[a] = true
	}
	if p.timeout <= 0 {
		return nil, errors.New("timeout must be positive")
	}
	if p.attempts < 1 || p.attempts > 100 {
		return nil, fmt.Errorf("attempts %d not within 1..100", p.attempts)
	}
	if p.backoffMin < 0 || p.backoffMax < p.backoffMin {
		return nil, errors.New("backoff must satisfy 0 <= min <= max")
	}
	if p.indexChunk < 1 {
		return nil, errors.New("index chunk size must be positive")
	}
	if p.maxIdleConns < 1 {
		return nil, errors.New("max idle connections must be positive")
	}
	return p, nil
}
