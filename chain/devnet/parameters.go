package devnet

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
)

type parameters struct {
	log            zerolog.Logger
	bins           *Binaries
	root           string
	dir            string
	validators     int
	offline        int
	secondsPerSlot uint64
	genesisDelay   time.Duration
	startTimeout   time.Duration
	setup          func(*Genesis) (*Setup, error)
	detached       bool
}

// Parameter configures New.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithBinaries sets the client binaries (Build). Required.
func WithBinaries(b *Binaries) Parameter { return parameterFunc(func(p *parameters) { p.bins = b }) }

// WithRepoRoot sets the repository root holding deploy/devnet (default: RepoRoot()).
func WithRepoRoot(dir string) Parameter { return parameterFunc(func(p *parameters) { p.root = dir }) }

// WithDir sets the directory for config, genesis, data and logs (it must be empty or absent). Required.
func WithDir(dir string) Parameter { return parameterFunc(func(p *parameters) { p.dir = dir }) }

// WithValidators sets the number of interop validators in the genesis (default 64).
func WithValidators(n int) Parameter { return parameterFunc(func(p *parameters) { p.validators = n }) }

// WithOffline leaves the last n interop validators out of the validator client (default 0): they never
// attest or propose, so their duties are missed and their slots empty.
func WithOffline(n int) Parameter { return parameterFunc(func(p *parameters) { p.offline = n }) }

// WithSecondsPerSlot sets the slot time (default 2; Prysm v7.1.2 needs at least 2).
func WithSecondsPerSlot(s uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.secondsPerSlot = s })
}

// WithGenesisDelay sets how far in the future the genesis is placed (default 30 s): time for genesis
// generation, the setup hook and the clients' start.
func WithGenesisDelay(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.genesisDelay = d })
}

// WithStartTimeout bounds the wait for geth's JSON-RPC and the beacon node's REST API (default 2 min).
func WithStartTimeout(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.startTimeout = d })
}

// WithSetup sets a hook called once the interop keys and the genesis time are known, before the final
// genesis is written and before any client starts: it returns extra EL accounts and per-key fee recipients.
func WithSetup(fn func(*Genesis) (*Setup, error)) Parameter {
	return parameterFunc(func(p *parameters) { p.setup = fn })
}

// WithDetached starts the clients in their own process group so they outlive this process (for
// deploy/devnet/start.sh); stop them later by the PIDs in <dir>/pids. Default: attached — the kernel kills
// them if this process dies.
func WithDetached(v bool) Parameter { return parameterFunc(func(p *parameters) { p.detached = v }) }

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{log: zerolog.Nop(), validators: 64, secondsPerSlot: 2, genesisDelay: 30 * time.Second, startTimeout: 2 * time.Minute}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	switch {
	case p.bins == nil:
		return nil, errors.New("no binaries specified")
	case p.dir == "":
		return nil, errors.New("no directory specified")
	case p.validators < 64:
		// MIN_GENESIS_ACTIVE_VALIDATOR_COUNT and one full committee per slot of 32-slot epochs.
		return nil, errors.New("validators must be at least 64")
	case p.offline < 0 || p.offline*3 >= p.validators:
		return nil, errors.New("offline validators must be fewer than a third (the chain must finalize)")
	case p.secondsPerSlot < 2 || p.secondsPerSlot > 12:
		return nil, errors.New("seconds per slot must be within 2..12")
	case p.genesisDelay < 5*time.Second:
		return nil, errors.New("genesis delay must be at least 5 s")
	case p.startTimeout <= 0:
		return nil, errors.New("start timeout must be positive")
	}
	if err := p.bins.check(); err != nil {
		return nil, err
	}
	return p, nil
}
