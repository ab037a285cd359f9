package execution

import (
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"
)

// DefaultMulticall3 is the canonical Multicall3 address on mainnet, Hoodi and most chains.
var DefaultMulticall3 = common.HexToAddress("0xcA11bde05977b3631167028862bE2a173976CA11")

type parameters struct {
	log          zerolog.Logger
	client       Client
	storage      common.Address
	multicall    common.Address
	batchSize    int
	timeout      time.Duration
	logWindow    uint64
	maxLookback  uint64
	eventsDir    string
	network      string
	preSaturn    bool
	networkProbe uint64
}

// Parameter configures the EL reader.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithClient sets the JSON-RPC client (ethclient.Client or a simulated backend's client). Required.
func WithClient(c Client) Parameter { return parameterFunc(func(p *parameters) { p.client = c }) }

// WithStorageAddress sets the RocketStorage address every contract address is read from. Required.
func WithStorageAddress(a common.Address) Parameter {
	return parameterFunc(func(p *parameters) { p.storage = a })
}

// WithMulticall sets the Multicall3 address (default DefaultMulticall3).
func WithMulticall(a common.Address) Parameter {
	return parameterFunc(func(p *parameters) { p.multicall = a })
}

// WithBatchSize sets the number of calls per aggregate3 request (default 300).
func WithBatchSize(n int) Parameter { return parameterFunc(func(p *parameters) { p.batchSize = n }) }

// WithTimeout bounds each JSON-RPC request (default 60 s).
func WithTimeout(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.timeout = d })
}

// WithLogWindow sets the block span of one eth_getLogs query when searching events (default 10,000).
func WithLogWindow(n uint64) Parameter { return parameterFunc(func(p *parameters) { p.logWindow = n }) }

// WithMaxLogLookback bounds how far back from the head an event search goes (default 1,000,000 blocks).
func WithMaxLogLookback(n uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.maxLookback = n })
}

// WithEventsDir sets the directory of local event files (rp-rewards-event-<network>-<index>.yaml), the
// fallback when the EL no longer serves the RewardSnapshot logs.
func WithEventsDir(d string) Parameter { return parameterFunc(func(p *parameters) { p.eventsDir = d }) }

// WithNetwork sets the network name used in event file names (default "devnet").
func WithNetwork(n string) Parameter { return parameterFunc(func(p *parameters) { p.network = n }) }

// WithPreSaturn reads the pre-Saturn stake getter (getNodeRPLStake) and skips every Saturn-only call
// (megapools, voter share, revenue shares), for protocol deployments before v1.4.
func WithPreSaturn(v bool) Parameter { return parameterFunc(func(p *parameters) { p.preSaturn = v }) }

// WithNetworkProbe makes the reader also probe getNetworkEnabled(n) for n = 1..max (default 0: only the
// reward networks nodes point at are probed).
func WithNetworkProbe(max uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.networkProbe = max })
}

func parseAndCheckParameters(params ...Parameter) (*parameters, error) {
	p := &parameters{
		log:         zerolog.Nop(),
		multicall:   DefaultMulticall3,
		batchSize:   300,
		timeout:     60 * time.Second,
		logWindow:   10_000,
		maxLookback: 1_000_000,
		network:     "devnet",
	}
	for _, prm := range params {
		if prm != nil {
			prm.apply(p)
		}
	}
	if p.client == nil {
		return nil, errors.New("no client specified")
	}
	if p.storage == (common.Address{}) {
		return nil, errors.New("no RocketStorage address specified")
	}
	if p.multicall == (common.Address{}) {
		return nil, errors.New("no Multicall3 address specified")
	}
	if p.batchSize <= 0 || p.batchSize > 5000 {
		return nil, errors.New("batch size must be in 1..5000")
	}
	if p.timeout <= 0 {
		return nil, errors.New("timeout must be positive")
	}
	if p.logWindow == 0 {
		return nil, errors.New("log window must be positive")
	}
	if p.network == "" {
		return nil, errors.New("no network name specified")
	}
	return p, nil
}
