package megapool

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type parameters struct {
	logger        zerolog.Logger
	protocol      Protocol
	beacon        Beacon
	sender        TxSender
	registerer    prometheus.Registerer
	reportOnly    bool
	stateID       string
	slotsPerEpoch uint64
	batchSize     int
	staleAfter    uint64
}

// Parameter configures a Watcher.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger (the watcher logs through a child with service=megapool).
func WithLogger(l zerolog.Logger) Parameter {
	return parameterFunc(func(p *parameters) { p.logger = l })
}

// WithProtocol sets the execution-layer reader (required; see NewChainReader).
func WithProtocol(pr Protocol) Parameter {
	return parameterFunc(func(p *parameters) { p.protocol = pr })
}

// WithBeacon sets the consensus-layer reader (required; chain/beacon.Service).
func WithBeacon(b Beacon) Parameter { return parameterFunc(func(p *parameters) { p.beacon = b }) }

// WithTxSender sets the transaction manager (required unless report-only).
func WithTxSender(s TxSender) Parameter { return parameterFunc(func(p *parameters) { p.sender = s }) }

// WithRegisterer registers the watcher's metrics (optional).
func WithRegisterer(r prometheus.Registerer) Parameter {
	return parameterFunc(func(p *parameters) { p.registerer = r })
}

// WithReportOnly detects, tracks and logs but never sends a transaction.
func WithReportOnly(v bool) Parameter { return parameterFunc(func(p *parameters) { p.reportOnly = v }) }

// WithStateID sets the beacon state the decision uses ("head" by default; "finalized" is safer against
// reorgs but later). Its block's slot fixes the decision epoch, and the validators are read at that slot.
func WithStateID(id string) Parameter { return parameterFunc(func(p *parameters) { p.stateID = id }) }

// WithSlotsPerEpoch sets SLOTS_PER_EPOCH (default 32).
func WithSlotsPerEpoch(n uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.slotsPerEpoch = n })
}

// WithBatchSize caps the validator ids per challengeExit (default and maximum 50).
func WithBatchSize(n int) Parameter { return parameterFunc(func(p *parameters) { p.batchSize = n }) }

// WithStaleAfter raises an alert for a lock unresolved for this many epochs (default 225 ≈ 24 h; 0 = only
// the withdrawable-epoch alert).
func WithStaleAfter(epochs uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.staleAfter = epochs })
}

func parseParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{logger: zerolog.Nop(), stateID: "head", slotsPerEpoch: 32, batchSize: MaxChallengesPerTx, staleAfter: 225}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	if p.protocol == nil {
		return nil, errors.New("no protocol reader")
	}
	if p.beacon == nil {
		return nil, errors.New("no beacon reader")
	}
	if p.sender == nil && !p.reportOnly {
		return nil, errors.New("no transaction sender (or enable report-only)")
	}
	if p.slotsPerEpoch == 0 {
		return nil, errors.New("slots per epoch is zero")
	}
	if p.batchSize <= 0 || p.batchSize > MaxChallengesPerTx {
		return nil, errors.New("batch size must be within 1..50")
	}
	if p.stateID == "" {
		return nil, errors.New("empty beacon state id")
	}
	return p, nil
}
