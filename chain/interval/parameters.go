package interval

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
)

type parameters struct {
	log          zerolog.Logger
	el           ELReader
	cl           Beacon
	scanner      DutyScanner
	network      string
	ruleset      int
	maxBack      uint64
	maxForward   uint64
	progress     func(Progress)
	progressTick time.Duration
}

// Parameter configures a Generator.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithExecution sets the EL reader (chain/execution.Service). Required.
func WithExecution(el ELReader) Parameter { return parameterFunc(func(p *parameters) { p.el = el }) }

// WithBeacon sets the CL reader (chain/beacon.Service). Required.
func WithBeacon(cl Beacon) Parameter { return parameterFunc(func(p *parameters) { p.cl = cl }) }

// WithScanner sets the attestation scanner (NewBeaconScanner). Required.
func WithScanner(s DutyScanner) Parameter {
	return parameterFunc(func(p *parameters) { p.scanner = s })
}

// WithNetwork sets the network name: mainnet, testnet or devnet (default devnet). It selects the ruleset.
func WithNetwork(n string) Parameter { return parameterFunc(func(p *parameters) { p.network = n }) }

// WithRuleset forces a ruleset (8, 10 or 11) instead of the one network and index select.
func WithRuleset(r int) Parameter { return parameterFunc(func(p *parameters) { p.ruleset = r }) }

// WithSearchLimits bounds the walk back from the snapshot slot and forward from the start slot (default 1024 slots each).
func WithSearchLimits(back, forward uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.maxBack, p.maxForward = back, forward })
}

// WithProgress receives scan progress about every tick (default 1 s) and once at the end.
func WithProgress(fn func(Progress), tick time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.progress, p.progressTick = fn, tick })
}

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{log: zerolog.Nop(), network: "devnet", maxBack: 1024, maxForward: 1024, progressTick: time.Second}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	switch {
	case p.el == nil:
		return nil, errors.New("no execution reader specified")
	case p.cl == nil:
		return nil, errors.New("no beacon reader specified")
	case p.scanner == nil:
		return nil, errors.New("no duty scanner specified")
	case p.network != "mainnet" && p.network != "testnet" && p.network != "devnet":
		return nil, errors.New("network must be mainnet, testnet or devnet")
	case p.ruleset != 0 && p.ruleset != 8 && p.ruleset != 10 && p.ruleset != 11:
		return nil, errors.New("ruleset must be 8, 10 or 11")
	case p.progressTick <= 0:
		return nil, errors.New("progress tick must be positive")
	}
	return p, nil
}
