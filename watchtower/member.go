// Package watchtower assembles one oDAO member's watchtower: EL and beacon readers, the interval generator
// with its resumable scan store, the transaction manager, the rewards duty and its persisted state, all under
// one data directory; and a scheduler that starts and stops services in order.
package watchtower

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/watchtower/pin"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// TxConfig configures the transaction manager.
type TxConfig struct {
	MaxFeeCap       *big.Int // wei; default 100 gwei
	BumpAfterBlocks uint64   // default 3
	BumpPercent     uint64   // default 20
	Timeout         time.Duration
	PollInterval    time.Duration
}

// MemberConfig is everything one member needs.
type MemberConfig struct {
	Name       string
	ELURL      string
	BeaconURLs []string
	// Storage is the RocketStorage address; Multicall the Multicall3 address.
	Storage, Multicall common.Address
	Network            string // mainnet, testnet, devnet (default devnet)
	Ruleset            int    // 0: by network and index
	DataDir            string // duty state (duty.db) and scan store (scan.db)
	OutDir             string // rewards files, one directory per interval (default DataDir/rewards)
	// Keystore and PasswordFile select the signing key; without them the member runs in dry-run mode.
	Keystore, PasswordFile string
	// From is the member address in dry-run mode (for membership and estimates).
	From         string
	GenerateOnly bool
	// CatchUp generates the previous interval when it was executed before this member generated it.
	CatchUp bool
	// ScanAheadEvery scans the running interval's finalized epochs into the scan store whenever this many new
	// epochs were finalized, so the end of the interval only has its last epochs left (0: off).
	ScanAheadEvery uint64
	Tx             TxConfig
	Log            zerolog.Logger
	// GenerateGate, if set, wraps every interval generation (the simulation pauses its chain meanwhile).
	GenerateGate func(func() error) error
	Observers    []rewardsduty.Observer
	Hooks        rewardsduty.Hooks
	TxObservers  []txmgr.Observer
	// Registerer receives the beacon reader's metrics; ELHTTPClient carries EL requests (metrics transport).
	Registerer   prometheus.Registerer
	ELHTTPClient *http.Client
	// Pins, if set, receives every written file for pinning (never blocks the duty).
	Pins *pin.Queue
	// Progress, if set, receives the scan progress of each generation (about once a second).
	Progress func(interval.Progress)
	// WrapSender, if set, wraps the transaction manager as the rewards duty sees it (the simulation uses it
	// to run members in lockstep with its chain).
	WrapSender func(rewardsduty.Sender) rewardsduty.Sender
}

// Member is one running member's services.
type Member struct {
	Name  string
	Duty  *rewardsduty.Duty
	State *rewardsduty.State
	Tx    *txmgr.Manager
	Cfg   MemberConfig
	// EL and Beacon are the member's connections, shared with the other duties; Execution is the batched EL
	// reader over EL.
	EL        *ethclient.Client
	Execution *execution.Service
	Beacon    *beacon.Service

	closers []func()
}

type gatedGenerator struct {
	g    *interval.Generator
	gate func(func() error) error
}

func (g gatedGenerator) Generate(ctx context.Context, index int64) (*interval.Output, error) {
	return gated(g.gate, func() (*interval.Output, error) { return g.g.Generate(ctx, index) })
}

// ScanAhead implements rewardsduty.AheadScanner, inside the gate like Generate.
func (g gatedGenerator) ScanAhead(ctx context.Context, minNew uint64) (*interval.Ahead, error) {
	return gated(g.gate, func() (*interval.Ahead, error) { return g.g.ScanAhead(ctx, minNew) })
}

// gated runs fn inside gate, when there is one.
func gated[T any](gate func(func() error) error, fn func() (T, error)) (T, error) {
	if gate == nil {
		return fn()
	}
	var out T
	err := gate(func() error {
		var err error
		out, err = fn()
		return err
	})
	return out, err
}

// NewMember connects and builds a member. Close releases it.
func NewMember(ctx context.Context, cfg MemberConfig) (m *Member, err error) {
	switch {
	case cfg.ELURL == "":
		return nil, errors.New("member: no execution client URL")
	case len(cfg.BeaconURLs) == 0:
		return nil, errors.New("member: no beacon node URL")
	case cfg.Storage == (common.Address{}):
		return nil, errors.New("member: no RocketStorage address")
	case cfg.DataDir == "":
		return nil, errors.New("member: no data directory")
	}
	if cfg.Network == "" {
		cfg.Network = "devnet"
	}
	if cfg.OutDir == "" {
		cfg.OutDir = filepath.Join(cfg.DataDir, "rewards")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	log := cfg.Log.With().Str("member", cfg.Name).Logger()
	m = &Member{Name: cfg.Name, Cfg: cfg}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	var rpcOpts []rpc.ClientOption
	if cfg.ELHTTPClient != nil {
		rpcOpts = append(rpcOpts, rpc.WithHTTPClient(cfg.ELHTTPClient))
	}
	rc, err := rpc.DialOptions(ctx, cfg.ELURL, rpcOpts...)
	if err != nil {
		return nil, fmt.Errorf("dial execution client: %w", err)
	}
	ec := ethclient.NewClient(rc)
	m.EL = ec
	m.closers = append(m.closers, ec.Close)
	elOpts := []execution.Parameter{execution.WithClient(ec), execution.WithStorageAddress(cfg.Storage),
		execution.WithLogger(log), execution.WithNetwork(cfg.Network)}
	if cfg.Multicall != (common.Address{}) {
		elOpts = append(elOpts, execution.WithMulticall(cfg.Multicall))
	}
	el, err := execution.New(ctx, elOpts...)
	if err != nil {
		return nil, fmt.Errorf("execution reader: %w", err)
	}
	m.Execution = el
	clOpts := []beacon.Parameter{beacon.WithAddresses(cfg.BeaconURLs...), beacon.WithLogger(log)}
	if cfg.Registerer != nil {
		clOpts = append(clOpts, beacon.WithRegisterer(cfg.Registerer))
	}
	cl, err := beacon.New(ctx, clOpts...)
	if err != nil {
		return nil, fmt.Errorf("beacon reader: %w", err)
	}
	m.Beacon = cl
	m.closers = append(m.closers, cl.Close)
	sc, err := interval.NewBeaconScanner(cl, interval.ScannerConfig{StorePath: filepath.Join(cfg.DataDir, "scan.db"), Logger: log})
	if err != nil {
		return nil, err
	}
	genOpts := []interval.Parameter{interval.WithExecution(el), interval.WithBeacon(cl), interval.WithScanner(sc),
		interval.WithNetwork(cfg.Network), interval.WithRuleset(cfg.Ruleset), interval.WithLogger(log)}
	if cfg.Progress != nil {
		genOpts = append(genOpts, interval.WithProgress(cfg.Progress, time.Second))
	}
	gen, err := interval.New(ctx, genOpts...)
	if err != nil {
		return nil, fmt.Errorf("interval generator: %w", err)
	}
	var signer txmgr.Signer
	if cfg.Keystore != "" {
		if signer, err = txmgr.LoadKeystoreSigner(cfg.Keystore, cfg.PasswordFile); err != nil {
			return nil, err
		}
	}
	txParams := []txmgr.Parameter{txmgr.WithBackend(ec), txmgr.WithLogger(log), txmgr.WithFromAddress(cfg.From)}
	if signer != nil {
		txParams = append(txParams, txmgr.WithSigner(signer))
	}
	if cfg.Tx.MaxFeeCap != nil {
		txParams = append(txParams, txmgr.WithMaxFeeCap(cfg.Tx.MaxFeeCap))
	}
	if cfg.Tx.BumpAfterBlocks != 0 {
		txParams = append(txParams, txmgr.WithBumpAfterBlocks(cfg.Tx.BumpAfterBlocks))
	}
	if cfg.Tx.BumpPercent != 0 {
		txParams = append(txParams, txmgr.WithBumpPercent(cfg.Tx.BumpPercent))
	}
	if cfg.Tx.Timeout != 0 {
		txParams = append(txParams, txmgr.WithTimeout(cfg.Tx.Timeout))
	}
	if cfg.Tx.PollInterval != 0 {
		txParams = append(txParams, txmgr.WithPollInterval(cfg.Tx.PollInterval))
	}
	if m.Tx, err = txmgr.New(ctx, txParams...); err != nil {
		return nil, err
	}
	for _, o := range cfg.TxObservers {
		m.Tx.AddObserver(o)
	}
	contracts, err := rewardsduty.NewContracts(ctx, ec, cfg.Storage)
	if err != nil {
		return nil, err
	}
	if m.State, err = rewardsduty.OpenState(filepath.Join(cfg.DataDir, "duty.db")); err != nil {
		return nil, err
	}
	st := m.State
	m.closers = append(m.closers, func() { _ = st.Close() })
	hooks := cfg.Hooks
	if cfg.Pins != nil {
		q, prev := cfg.Pins, hooks.AfterFiles
		hooks.AfterFiles = func(index uint64, files []string) {
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err == nil {
					_, err = q.Submit(filepath.Base(f), data)
				}
				if err != nil {
					log.Warn().Err(err).Str("file", f).Msg("not queued for pinning")
				}
			}
			if prev != nil {
				prev(index, files)
			}
		}
	}
	var sender rewardsduty.Sender = m.Tx
	if cfg.WrapSender != nil {
		sender = cfg.WrapSender(sender)
	}
	params := []rewardsduty.Parameter{rewardsduty.WithLogger(log), rewardsduty.WithGenerator(gatedGenerator{g: gen, gate: cfg.GenerateGate}),
		rewardsduty.WithProtocol(contracts), rewardsduty.WithSender(sender), rewardsduty.WithState(m.State),
		rewardsduty.WithOutputDir(cfg.OutDir), rewardsduty.WithNetwork(cfg.Network), rewardsduty.WithGenerateOnly(cfg.GenerateOnly),
		rewardsduty.WithHooks(hooks), rewardsduty.WithCatchUp(cfg.CatchUp), rewardsduty.WithScanAhead(cfg.ScanAheadEvery)}
	for _, o := range cfg.Observers {
		params = append(params, rewardsduty.WithObserver(o))
	}
	if m.Tx.Address() != (common.Address{}) {
		params = append(params, rewardsduty.WithMember(m.Tx.Address()))
	}
	if m.Duty, err = rewardsduty.New(ctx, params...); err != nil {
		return nil, err
	}
	return m, nil
}

// Close releases the member's connections and databases (in reverse order of opening).
func (m *Member) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}

// Service is something the scheduler starts and stops.
type Service struct {
	Name string
	// Run blocks until ctx ends (or fails).
	Run func(ctx context.Context) error
}

// Scheduler runs services: started in the given order, each under its own context; stopped in reverse order
// when ctx ends or one of them fails.
type Scheduler struct {
	Log zerolog.Logger
	// StopTimeout bounds how long each service may take to stop (default 10 s).
	StopTimeout time.Duration
}

// Run starts every service and returns the first service error (nil on a clean stop).
func (s *Scheduler) Run(ctx context.Context, services ...Service) error {
	if s.StopTimeout == 0 {
		s.StopTimeout = 10 * time.Second
	}
	type running struct {
		name   string
		cancel context.CancelFunc
		done   chan struct{}
	}
	failed := make(chan error, len(services))
	var started []running
	var errMu sync.Mutex
	var firstErr error
	for _, svc := range services {
		sctx, cancel := context.WithCancel(context.Background())
		r := running{name: svc.Name, cancel: cancel, done: make(chan struct{})}
		go func(svc Service) {
			defer close(r.done)
			err := svc.Run(sctx)
			if err != nil && sctx.Err() == nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("service %s: %w", svc.Name, err)
				}
				errMu.Unlock()
				failed <- err
			}
		}(svc)
		s.Log.Info().Str("service", svc.Name).Msg("started")
		started = append(started, r)
	}
	select {
	case <-ctx.Done():
	case <-failed:
	}
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		r.cancel()
		select {
		case <-r.done:
			s.Log.Info().Str("service", r.name).Msg("stopped")
		case <-time.After(s.StopTimeout):
			s.Log.Warn().Str("service", r.name).Msg("did not stop in time")
		}
	}
	errMu.Lock()
	defer errMu.Unlock()
	return firstErr
}
