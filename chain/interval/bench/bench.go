// Package bench is the mainnet-scale harness for treegen's beacon-chain part:
// a simulated beacon node (chain/simnet/beacon) with a mainnet-shaped
// scenario, and the scan of one reward interval through the client path
// treegen uses (chain/beacon over HTTP, chain/interval.BeaconScanner), or
// through the reference implementation's access pattern (baseline).
//
// The server and the client are meant to run as two processes (see
// cmd/mainnetbench and deploy/bench/mainnet.sh); they share nothing but the
// loopback socket. The Go benchmark in this package runs both in one process
// at a small scale so it finishes in seconds.
package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/chain/shuffle"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// Shape is the size of the simulated chain and interval.
type Shape struct {
	// Validators in the registry (mainnet: ~1.1M).
	Validators uint64
	// Protocol validators scanned (mainnet: ~45k), spread evenly over the registry.
	Protocol uint64
	// StartEpoch is the interval's first epoch; Epochs its length (mainnet: 6,300).
	StartEpoch, Epochs uint64
	// Seed of the simulated chain.
	Seed uint64
}

// Mainnet is the shape of issue 6's acceptance benchmark.
var Mainnet = Shape{Validators: 1_100_000, Protocol: 45_000, StartEpoch: 10, Epochs: 6300, Seed: 1}

// SlotsPerEpoch is the mainnet value used by every scenario here.
const SlotsPerEpoch = 32

// Interval is the scan interval of the shape: consensusStartBlock is the first
// slot of StartEpoch, consensusEndBlock the last slot of StartEpoch+Epochs-1.
// The scan reads the blocks of Epochs+1 epochs.
func (s Shape) Interval() scan.Interval {
	return scan.Interval{Index: 1, StartSlot: s.StartEpoch * SlotsPerEpoch, EndSlot: (s.StartEpoch+s.Epochs)*SlotsPerEpoch - 1}
}

// HeadSlot is a head far enough beyond the interval's last block epoch
// (end epoch + 1) that every block of it exists and is finalized.
func (s Shape) HeadSlot() uint64 { return (s.StartEpoch+s.Epochs+4)*SlotsPerEpoch + 1 }

// Validate rejects shapes the harness cannot run.
func (s Shape) Validate() error {
	switch {
	case s.Validators < 2*SlotsPerEpoch:
		return fmt.Errorf("shape: %d validators is too few", s.Validators)
	case s.Protocol == 0 || s.Protocol >= s.Validators:
		return fmt.Errorf("shape: protocol validators %d must be within 1..%d", s.Protocol, s.Validators-1)
	case s.StartEpoch < 1:
		return errors.New("shape: start epoch must be at least 1")
	case s.Epochs == 0:
		return errors.New("shape: zero epochs")
	}
	return nil
}

// Scenario is the mainnet-shaped simulated chain: Electra, 32 slots per
// epoch, 99 % participation, 1 % missed slots, 2 % late inclusions, 40 % MEV
// blocks. Protocol validators are not scripted in the server: they are
// ordinary validators that the client selects (see ProtocolIndices), so the
// server's work is that of a real node.
func (s Shape) Scenario() *simbeacon.Scenario {
	p := 0.99
	return &simbeacon.Scenario{
		Seed: s.Seed, GenesisTime: 1_606_824_023, SecondsPerSlot: 12, SlotsPerEpoch: SlotsPerEpoch,
		ValidatorCount: s.Validators, HeadSlot: s.HeadSlot(), Fork: simbeacon.ForkElectra,
		Participation: &p, MissedSlotRate: 0.01, LateInclusionRate: 0.02, MEVRate: 0.4, ChainID: 1,
	}
}

// ProtocolIndices are Protocol indices spread evenly: (k+1)*N/(n+1).
func (s Shape) ProtocolIndices() []phase0.ValidatorIndex {
	out := make([]phase0.ValidatorIndex, 0, s.Protocol)
	for k := range s.Protocol {
		out = append(out, phase0.ValidatorIndex((k+1)*s.Validators/(s.Protocol+1)))
	}
	return out
}

// NewChain builds the simulated chain of the shape (prefetching the next
// epoch's committees, as the `watchtower simnet beacon` command does).
func NewChain(ctx context.Context, s Shape, log zerolog.Logger) (*simbeacon.Chain, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return simbeacon.New(ctx, simbeacon.WithScenario(s.Scenario()), simbeacon.WithLogger(log), simbeacon.WithPrefetch(true))
}

// StoreRange is the slot range PrepareStore covers: from the interval's first
// slot to the head, or, with limitEpochs > 0, to the end of the epochs a scan
// limited to limitEpochs reads (block epochs, the tail search after them).
func (s Shape) StoreRange(limitEpochs uint64) (from, to phase0.Slot) {
	from, to = phase0.Slot(s.StartEpoch*SlotsPerEpoch), phase0.Slot(s.HeadSlot())
	if limitEpochs > 0 && limitEpochs < s.Epochs {
		to = min(to, phase0.Slot((s.StartEpoch+limitEpochs+3)*SlotsPerEpoch-1))
	}
	return from, to
}

// PrepareConfig configures PrepareStore.
type PrepareConfig struct {
	// Dir receives the block store.
	Dir string
	// LimitEpochs as in RunConfig (0 = the whole interval).
	LimitEpochs uint64
	// Workers generating blocks (default 1).
	Workers int
	// Reuse keeps a store already in Dir when it opens for this shape and
	// covers the range (sampled blocks regenerated and compared).
	Reuse bool
	// Progress, when not nil, receives slots done and the total.
	Progress simbeacon.PrepareProgress
	Logger   zerolog.Logger
}

// PrepareStore generates the blocks of the shape's chain once into a block
// store (chain/simnet/beacon.PrepareBlockStore), so the server answers block
// and header requests from disk as a real node does. reused reports that an
// existing store was kept.
func PrepareStore(ctx context.Context, s Shape, cfg PrepareConfig) (reused bool, err error) {
	if cfg.Dir == "" {
		return false, errors.New("prepare: no store directory")
	}
	chain, err := NewChain(ctx, s, cfg.Logger)
	if err != nil {
		return false, fmt.Errorf("build simulated chain: %w", err)
	}
	from, to := s.StoreRange(cfg.LimitEpochs)
	if cfg.Reuse {
		if bs, err := simbeacon.OpenBlockStore(ctx, chain, cfg.Dir, 3); err == nil {
			f, l := bs.Range()
			bs.Close()
			if f <= from && l >= to {
				return true, nil
			}
		}
	}
	workers := max(cfg.Workers, 1)
	if err := simbeacon.PrepareBlockStore(ctx, chain, cfg.Dir, from, to, workers, cfg.Progress); err != nil {
		return false, err
	}
	return false, nil
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// Addr is the loopback listen address.
	Addr string
	// StoreDir, when set, is a block store from PrepareStore to serve blocks
	// and headers from; empty = generate every block on request.
	StoreDir string
	Logger   zerolog.Logger
	// Ready, when not nil, receives the server's URL once it listens.
	Ready func(url string)
}

// Serve serves the shape's chain until ctx ends.
func Serve(ctx context.Context, s Shape, cfg ServeConfig) error {
	chain, err := NewChain(ctx, s, cfg.Logger)
	if err != nil {
		return fmt.Errorf("build simulated chain: %w", err)
	}
	params := []simbeacon.ServerParameter{simbeacon.WithChain(chain), simbeacon.WithListenAddress(cfg.Addr), simbeacon.WithServerLogger(cfg.Logger)}
	if cfg.StoreDir != "" {
		bs, err := simbeacon.OpenBlockStore(ctx, chain, cfg.StoreDir, 3)
		if err != nil {
			return err
		}
		defer bs.Close()
		params = append(params, simbeacon.WithBlockStore(bs))
	}
	srv, err := simbeacon.NewServer(ctx, params...)
	if err != nil {
		return fmt.Errorf("start simulated beacon server: %w", err)
	}
	if cfg.Ready != nil {
		cfg.Ready(srv.URL())
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Stop(stop)
}

// Modes.
const (
	// ModeOptimized is treegen's path: interval.BeaconScanner with committees
	// shuffled locally from ONE state, blinded SSZ blocks verified against
	// headers, several epochs in flight.
	ModeOptimized = "optimized"
	// ModeBaseline is the reference implementation's access pattern:
	// committees from the API (JSON) for every epoch, full JSON blocks,
	// 33 requests in flight (an epoch's 32 blocks and one committees
	// request), epochs one after another.
	ModeBaseline = "baseline"
)

// RunConfig configures Run.
type RunConfig struct {
	// URL of the beacon node.
	URL string
	// Shape of the chain; Epochs may be cut down by LimitEpochs.
	Shape Shape
	// Mode is ModeOptimized or ModeBaseline.
	Mode string
	// LimitEpochs, when > 0, scans only the first LimitEpochs epochs of the
	// interval (the committees still come from the full interval's end state
	// in optimized mode, as treegen does).
	LimitEpochs uint64
	// Concurrency and BlockConcurrency of the optimized mode (0 = treegen's defaults).
	Concurrency, BlockConcurrency int
	// Progress, when not nil, receives the block epochs done so far.
	Progress func(done, blocks uint64)
	// Logger of the client.
	Logger zerolog.Logger
}

// Report is what Run measured.
type Report struct {
	Mode         string
	Epochs       uint64 // block epochs scanned (interval epochs + 1)
	Blocks       uint64 // blocks fetched
	Validators   int    // protocol validators in the record
	Wall         time.Duration
	RecordDigest string
}

// EpochsPerSecond of the run.
func (r *Report) EpochsPerSecond() float64 { return float64(r.Epochs) / r.Wall.Seconds() }

// BlocksPerSecond of the run.
func (r *Report) BlocksPerSecond() float64 { return float64(r.Blocks) / r.Wall.Seconds() }

// Run scans the interval of cfg.Shape against the beacon node at cfg.URL.
func Run(ctx context.Context, cfg RunConfig) (*Report, error) {
	if err := cfg.Shape.Validate(); err != nil {
		return nil, err
	}
	iv := cfg.Shape.Interval()
	stateSlot := phase0.Slot(iv.EndSlot)
	if cfg.LimitEpochs > 0 && cfg.LimitEpochs < cfg.Shape.Epochs {
		iv.EndSlot = (cfg.Shape.StartEpoch+cfg.LimitEpochs)*SlotsPerEpoch - 1
		if cfg.Mode == ModeBaseline {
			stateSlot = phase0.Slot(iv.EndSlot)
		}
	}
	protocol := cfg.Shape.ProtocolIndices()
	t0 := time.Now()
	var (
		res    *scan.Result
		blocks uint64
	)
	switch cfg.Mode {
	case ModeOptimized, "":
		cfg.Mode = ModeOptimized
		svc, err := beacon.New(ctx, beacon.WithAddresses(cfg.URL), beacon.WithRegisterer(prometheus.NewRegistry()),
			beacon.WithLogger(cfg.Logger), beacon.WithTimeout(5*time.Minute))
		if err != nil {
			return nil, fmt.Errorf("create beacon client: %w", err)
		}
		defer svc.Close()
		sc, err := interval.NewBeaconScanner(svc, interval.ScannerConfig{Committees: scan.CommitteesLocal,
			Concurrency: cfg.Concurrency, BlockConcurrency: cfg.BlockConcurrency, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		res, err = sc.ScanDuties(ctx, iv, stateSlot, protocol, func(scanned, _, b uint64) {
			blocks = b
			if cfg.Progress != nil {
				cfg.Progress(scanned, b)
			}
		})
		if err != nil {
			return nil, err
		}
	case ModeBaseline:
		svc, err := beacon.New(ctx, beacon.WithAddresses(cfg.URL), beacon.WithRegisterer(prometheus.NewRegistry()),
			beacon.WithLogger(cfg.Logger), beacon.WithTimeout(5*time.Minute),
			beacon.WithVerifyBlocks(false), beacon.WithEnforceJSON(true))
		if err != nil {
			return nil, fmt.Errorf("create beacon client: %w", err)
		}
		defer svc.Close()
		api, err := scan.CommitteesFromBeacon(ctx, svc, stateSlot, scan.CommitteesAPI)
		if err != nil {
			return nil, err
		}
		_, _, lastEpoch, err := scan.EpochRange(iv.StartSlot, iv.EndSlot, SlotsPerEpoch)
		if err != nil {
			return nil, err
		}
		cp := newAheadCommittees(ctx, api, phase0.Epoch(lastEpoch))
		defer cp.close()
		reg := prometheus.NewRegistry()
		sc, err := scan.New(ctx, scan.WithCommittees(cp), scan.WithBlocks(svc), scan.WithConcurrency(1),
			scan.WithBlockConcurrency(33), scan.WithFullBlocks(true), scan.WithRegisterer(reg), scan.WithLogger(cfg.Logger))
		if err != nil {
			return nil, fmt.Errorf("create scanner: %w", err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					s, b := counters(reg)
					if cfg.Progress != nil {
						cfg.Progress(s, b)
					}
				}
			}
		}()
		res, err = sc.Scan(ctx, iv, protocol)
		close(stop)
		<-done
		if err != nil {
			return nil, fmt.Errorf("scan interval: %w", err)
		}
		_, blocks = counters(reg)
	default:
		return nil, fmt.Errorf("unknown mode %q (want %s or %s)", cfg.Mode, ModeOptimized, ModeBaseline)
	}
	return &Report{
		Mode: cfg.Mode, Epochs: iv.EndSlot/SlotsPerEpoch + 2 - iv.StartSlot/SlotsPerEpoch, Blocks: blocks,
		Validators: len(res.Record.Validators), Wall: time.Since(t0), RecordDigest: res.RecordDigest,
	}, nil
}

// counters reads the scanner's epochs-scanned and blocks counters.
func counters(reg *prometheus.Registry) (scanned, blocks uint64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 || mf.GetMetric()[0].GetCounter() == nil {
			continue
		}
		v := uint64(mf.GetMetric()[0].GetCounter().GetValue())
		switch mf.GetName() {
		case "watchtower_scan_epochs_scanned_total":
			scanned = v
		case "watchtower_scan_blocks_total":
			blocks = v
		}
	}
	return scanned, blocks
}

// aheadCommittees keeps one committees request in flight beside the block
// requests, as the reference does: its per-epoch errgroup fetches the
// epoch's committees (JSON) together with the epoch's 32 blocks. The scanner
// asks for an epoch's committees before fetching its blocks, so fetching
// epoch e+1's committees when e's are taken gives the same overlap — one
// committees request alongside each epoch's block requests — without
// changing the scanner.
type aheadCommittees struct {
	inner  scan.CommitteesProvider
	last   phase0.Epoch
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ahead  map[phase0.Epoch]*aheadResult
}

type aheadResult struct {
	done chan struct{}
	ec   *shuffle.EpochCommittees
	err  error
}

func newAheadCommittees(ctx context.Context, inner scan.CommitteesProvider, last phase0.Epoch) *aheadCommittees {
	ctx, cancel := context.WithCancel(ctx)
	return &aheadCommittees{inner: inner, last: last, ctx: ctx, cancel: cancel, ahead: map[phase0.Epoch]*aheadResult{}}
}

// EpochCommittees implements scan.CommitteesProvider.
func (a *aheadCommittees) EpochCommittees(ctx context.Context, e phase0.Epoch) (*shuffle.EpochCommittees, error) {
	a.mu.Lock()
	r := a.ahead[e]
	delete(a.ahead, e)
	if next := e + 1; next <= a.last && a.ahead[next] == nil {
		n := &aheadResult{done: make(chan struct{})}
		a.ahead[next] = n
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer close(n.done)
			n.ec, n.err = a.inner.EpochCommittees(a.ctx, next)
		}()
	}
	a.mu.Unlock()
	if r == nil {
		return a.inner.EpochCommittees(ctx, e)
	}
	select {
	case <-r.done:
		return r.ec, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops a request still in flight and waits for it.
func (a *aheadCommittees) close() {
	a.cancel()
	a.wg.Wait()
}
