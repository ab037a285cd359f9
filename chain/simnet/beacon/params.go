package beacon

import (
	"context"
	"errors"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
)

// ExecutionBlock is the execution-layer view of one beacon block's payload.
type ExecutionBlock struct {
	Number       uint64
	Timestamp    uint64
	FeeRecipient [20]byte
	Hash         [32]byte
	ParentHash   [32]byte
	GasLimit     uint64
	GasUsed      uint64
	// Transactions are raw (EIP-2718 encoded) transactions.
	Transactions [][]byte
}

// ExecutionProvider lets the EL side (simulated protocol) shape payloads: it
// receives the proposal facts (proposer, MEV builder and payment) and the
// block the chain would generate, and returns the one to serve. It must be
// deterministic for the chain to stay deterministic, and must not modify its
// arguments.
type ExecutionProvider interface {
	ExecutionBlock(ctx context.Context, slot phase0.Slot, proposal *BlockProposal, generated *ExecutionBlock) (*ExecutionBlock, error)
}

type parameters struct {
	log         zerolog.Logger
	scenario    *Scenario
	exec        ExecutionProvider
	clock       func() time.Time
	cacheEpochs int
	prefetch    bool
}

// Parameter configures New.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithScenario sets the scenario (required).
func WithScenario(s *Scenario) Parameter {
	return parameterFunc(func(p *parameters) { p.scenario = s })
}

// WithExecutionProvider sets the hook that shapes execution payloads.
func WithExecutionProvider(e ExecutionProvider) Parameter {
	return parameterFunc(func(p *parameters) { p.exec = e })
}

// WithClock sets the wall clock used when the scenario has no fixed head.
func WithClock(f func() time.Time) Parameter {
	return parameterFunc(func(p *parameters) { p.clock = f })
}

// WithCommitteeCache bounds the number of epochs whose committees are kept (default 8).
func WithCommitteeCache(n int) Parameter {
	return parameterFunc(func(p *parameters) { p.cacheEpochs = n })
}

// WithPrefetch shuffles epoch e+1 in the background whenever epoch e is
// computed (helps sequential block scans of large chains).
func WithPrefetch(on bool) Parameter { return parameterFunc(func(p *parameters) { p.prefetch = on }) }

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{log: zerolog.Nop(), clock: time.Now, cacheEpochs: 8}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	if p.scenario == nil {
		return nil, errors.New("no scenario specified")
	}
	if p.clock == nil {
		return nil, errors.New("no clock specified")
	}
	if p.cacheEpochs < 1 {
		return nil, errors.New("committee cache must hold at least one epoch")
	}
	return p, nil
}
