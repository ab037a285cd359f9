package scan

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type parameters struct {
	log              zerolog.Logger
	committees       CommitteesProvider
	blocks           BlockProvider
	store            Store
	concurrency      int
	blockConcurrency int
	fullBlocks       bool
	registerer       prometheus.Registerer
}

// Parameter configures New.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithCommittees sets the committees source (required).
func WithCommittees(c CommitteesProvider) Parameter {
	return parameterFunc(func(p *parameters) { p.committees = c })
}

// WithBlocks sets the block source (required).
func WithBlocks(b BlockProvider) Parameter {
	return parameterFunc(func(p *parameters) { p.blocks = b })
}

// WithStore sets the crash-safe store (default: in memory, no resume).
func WithStore(s Store) Parameter { return parameterFunc(func(p *parameters) { p.store = s }) }

// WithConcurrency sets the number of epochs processed at once (default 4).
func WithConcurrency(n int) Parameter {
	return parameterFunc(func(p *parameters) { p.concurrency = n })
}

// WithBlockConcurrency sets the block requests in flight per epoch (default 8).
func WithBlockConcurrency(n int) Parameter {
	return parameterFunc(func(p *parameters) { p.blockConcurrency = n })
}

// WithFullBlocks fetches full blocks even when no withdrawals are needed
// (the reference's access pattern; for comparisons).
func WithFullBlocks(v bool) Parameter { return parameterFunc(func(p *parameters) { p.fullBlocks = v }) }

// WithRegisterer registers the scanner's metrics on r (nil: none).
func WithRegisterer(r prometheus.Registerer) Parameter {
	return parameterFunc(func(p *parameters) { p.registerer = r })
}

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{log: zerolog.Nop(), concurrency: 4, blockConcurrency: 8}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	switch {
	case p.committees == nil:
		return nil, errors.New("no committees provider specified")
	case p.blocks == nil:
		return nil, errors.New("no block provider specified")
	case p.concurrency < 1 || p.concurrency > 1024:
		return nil, errors.New("concurrency must be within 1..1024")
	case p.blockConcurrency < 1 || p.blockConcurrency > 1024:
		return nil, errors.New("block concurrency must be within 1..1024")
	}
	if p.store == nil {
		p.store = newMemStore()
	}
	return p, nil
}
