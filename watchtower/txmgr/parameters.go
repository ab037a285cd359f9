package txmgr

import (
	"errors"
	"math/big"
	"time"

	"github.com/rs/zerolog"
)

type parameters struct {
	backend          Backend
	signer           Signer
	from             string
	dryRun           bool
	log              zerolog.Logger
	maxFeeCap        *big.Int
	minTip           *big.Int
	maxTip           *big.Int
	gasMarginPercent uint64
	gasCeiling       uint64
	bumpAfterBlocks  uint64
	bumpPercent      uint64
	timeout          time.Duration
	pollInterval     time.Duration
}

// Parameter configures a Manager.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithBackend sets the execution client (required).
func WithBackend(b Backend) Parameter { return parameterFunc(func(p *parameters) { p.backend = b }) }

// WithSigner sets the account's signer. Without one the manager runs in dry-run mode.
func WithSigner(s Signer) Parameter { return parameterFunc(func(p *parameters) { p.signer = s }) }

// WithDryRun builds, estimates and logs transactions but never sends them.
func WithDryRun(dry bool) Parameter { return parameterFunc(func(p *parameters) { p.dryRun = dry }) }

// WithFromAddress sets the sender used for estimates in dry-run mode when no signer is configured.
func WithFromAddress(addr string) Parameter {
	return parameterFunc(func(p *parameters) { p.from = addr })
}

// WithLogger sets the parent logger; the manager logs through a child with module=txmgr.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithMaxFeeCap caps maxFeePerGas (wei), including after bumps (required in effect; default 100 gwei).
func WithMaxFeeCap(wei *big.Int) Parameter {
	return parameterFunc(func(p *parameters) { p.maxFeeCap = wei })
}

// WithTipBounds bounds the priority fee (wei): the node's suggestion is clamped into [min, max].
func WithTipBounds(minWei, maxWei *big.Int) Parameter {
	return parameterFunc(func(p *parameters) { p.minTip, p.maxTip = minWei, maxWei })
}

// WithGasMargin adds percent to the gas estimate (default 50, as the reference's ×1.5).
func WithGasMargin(percent uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.gasMarginPercent = percent })
}

// WithGasCeiling caps the gas limit (default 16 777 216, EIP-7825).
func WithGasCeiling(gas uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.gasCeiling = gas })
}

// WithBumpAfterBlocks replaces a transaction not mined within n blocks of its last broadcast (default 3).
func WithBumpAfterBlocks(n uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.bumpAfterBlocks = n })
}

// WithBumpPercent raises both fees by this percentage on replacement (default 20; at least 10, geth's rule).
func WithBumpPercent(percent uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.bumpPercent = percent })
}

// WithTimeout bounds how long Wait tracks one transaction (default 10 minutes).
func WithTimeout(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.timeout = d })
}

// WithPollInterval sets how often receipts and the head are polled (default 2 s).
func WithPollInterval(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.pollInterval = d })
}

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := parameters{
		log:              zerolog.Nop(),
		maxFeeCap:        big.NewInt(100_000_000_000),
		minTip:           big.NewInt(10_000_000),    // 0.01 gwei
		maxTip:           big.NewInt(5_000_000_000), // 5 gwei
		gasMarginPercent: 50,
		gasCeiling:       16_777_216,
		bumpAfterBlocks:  3,
		bumpPercent:      20,
		timeout:          10 * time.Minute,
		pollInterval:     2 * time.Second,
	}
	for _, prm := range params {
		if prm != nil {
			prm.apply(&p)
		}
	}
	switch {
	case p.backend == nil:
		return nil, errors.New("no backend specified")
	case p.maxFeeCap == nil || p.maxFeeCap.Sign() <= 0:
		return nil, errors.New("max fee cap must be positive")
	case p.minTip == nil || p.maxTip == nil || p.minTip.Sign() < 0 || p.maxTip.Cmp(p.minTip) < 0:
		return nil, errors.New("tip bounds must satisfy 0 <= min <= max")
	case p.maxTip.Cmp(p.maxFeeCap) > 0:
		return nil, errors.New("max tip exceeds max fee cap")
	case p.bumpAfterBlocks == 0:
		return nil, errors.New("bump-after-blocks must be at least 1")
	case p.bumpPercent < 10:
		return nil, errors.New("bump percent must be at least 10 (the pool's replacement rule)")
	case p.timeout <= 0:
		return nil, errors.New("timeout must be positive")
	case p.pollInterval <= 0:
		return nil, errors.New("poll interval must be positive")
	case p.gasCeiling == 0:
		return nil, errors.New("gas ceiling must be positive")
	}
	if p.signer == nil {
		p.dryRun = true
	}
	return &p, nil
}
