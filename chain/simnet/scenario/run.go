package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// RunConfig configures an in-process simulated network (the engine of `watchtower simnet up`).
type RunConfig struct {
	Scenario *Scenario
	// SlotsPerSecond compresses time: chain slots advanced per wall-clock second (default 1).
	SlotsPerSecond float64
	// Intervals stops the run once the end of this many rewards intervals (counted from the scenario's first
	// interval) is 4 epochs old, so that the snapshot epoch is finalized; 0 runs until the context ends.
	Intervals uint64
	// Beacon holds the beacon-only settings (validator count, rates, fork, seed); timing, protocol validators,
	// EL genesis block and chain id are filled in. ValidatorCount defaults to 1024.
	Beacon beacon.Scenario
	// ELPort and BeaconAddress choose the loopback listeners (0 / "" pick free ports).
	ELPort        int
	BeaconAddress string
	// PreGenesisSlots reserves EL blocks for seeding before the beacon genesis (default 64).
	PreGenesisSlots uint64
	// KeystoreDir, if set, receives one keystore per oDAO member, encrypted with KeystorePassword.
	KeystoreDir      string
	KeystorePassword string
	Log              zerolog.Logger
}

// Runner is a running simulated network: a slot-aligned EL node, the seeded protocol and a beacon chain whose
// execution payloads are the EL blocks, both served on loopback.
type Runner struct {
	EL        *ELNode
	Net       *Network
	Chain     *beacon.Chain
	Server    *beacon.Server
	Link      *Link
	Keystores []string

	cfg     RunConfig
	log     zerolog.Logger
	simTime atomic.Uint64 // the beacon clock (Unix seconds)
	stopAt  phase0.Slot   // 0: no stop
	errMu   sync.Mutex
	err     error
}

// Start builds the network: EL node, deployment and seeding (pre-genesis), EL genesis block, beacon chain and
// its API server. The chain then stands at slot 0 until Run advances it.
func Start(ctx context.Context, cfg RunConfig) (*Runner, error) {
	s := cfg.Scenario
	if s == nil {
		return nil, errors.New("simnet: no scenario")
	}
	if cfg.SlotsPerSecond <= 0 {
		cfg.SlotsPerSecond = 1
	}
	if cfg.PreGenesisSlots == 0 {
		cfg.PreGenesisSlots = 64
	}
	if cfg.Beacon.ValidatorCount == 0 {
		cfg.Beacon.ValidatorCount = 1024
	}
	r := &Runner{cfg: cfg, log: cfg.Log.With().Str("service", "simnet").Logger()}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		return nil, err
	}
	el, err := NewELNode(ELNodeConfig{Alloc: alloc, GenesisTime: s.GenesisTime, SecondsPerSlot: s.SecondsPerSlot, HTTPPort: cfg.ELPort, PreGenesisSlots: cfg.PreGenesisSlots})
	if err != nil {
		return nil, err
	}
	r.EL = el
	fail := func(err error) (*Runner, error) {
		r.Close()
		return nil, err
	}
	net, err := Seed(ctx, el.Client(), s, big.NewInt(ELChainID), el.Commit)
	if err != nil {
		if cerr := el.CommitErr(); cerr != nil {
			err = fmt.Errorf("%w (%v)", err, cerr)
		}
		return fail(fmt.Errorf("simnet: %w", err))
	}
	r.Net = net
	// Timed events due by the genesis go into the pre-genesis blocks too.
	if _, err := net.ApplyUntil(ctx, s.GenesisTime); err != nil {
		return fail(fmt.Errorf("simnet: events before genesis: %w", err))
	}
	genesisBlock, err := el.SealGenesis(ctx)
	if err != nil {
		return fail(fmt.Errorf("simnet: %w (raise PreGenesisSlots)", err))
	}
	link, err := NewLink(el)
	if err != nil {
		return fail(err)
	}
	r.Link = link
	bs := cfg.Beacon
	bs.HeadSlot = 0 // follow the simulated clock
	bs.ELGenesisBlock = genesisBlock
	bs.ChainID = ELChainID
	r.simTime.Store(s.GenesisTime)
	chain, err := beacon.New(ctx,
		beacon.WithScenario(net.BeaconScenario(bs)),
		beacon.WithExecutionProvider(link),
		beacon.WithClock(func() time.Time { return time.Unix(int64(r.simTime.Load()), 0) }),
		beacon.WithLogger(cfg.Log),
	)
	if err != nil {
		return fail(fmt.Errorf("simnet: beacon chain: %w", err))
	}
	link.Attach(chain)
	link.SetFeeRecipients(net.FeeRecipientAt)
	r.Chain = chain
	// After genesis, a commit (for timed events) is the next slot's block.
	net.SetCommit(func() {
		next := link.LastSlot() + 1
		if err := link.Advance(ctx, next); err != nil {
			r.setErr(fmt.Errorf("simnet: advance to slot %d: %w", next, err))
		}
	})
	addr := cfg.BeaconAddress
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv, err := beacon.NewServer(ctx, beacon.WithChain(chain), beacon.WithListenAddress(addr), beacon.WithServerLogger(cfg.Log))
	if err != nil {
		return fail(fmt.Errorf("simnet: beacon server: %w", err))
	}
	r.Server = srv
	if cfg.KeystoreDir != "" {
		if r.Keystores, err = s.WriteKeystores(cfg.KeystoreDir, cfg.KeystorePassword); err != nil {
			return fail(err)
		}
	}
	if cfg.Intervals > 0 {
		end := *s.Rewards.IntervalStart + cfg.Intervals*s.Rewards.IntervalSeconds
		endSlot := uint64(0)
		if end > s.GenesisTime {
			endSlot = (end - s.GenesisTime + s.SecondsPerSlot - 1) / s.SecondsPerSlot
		}
		r.stopAt = phase0.Slot(endSlot + 4*s.SlotsPerEpoch)
	}
	return r, nil
}

func (r *Runner) setErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *Runner) takeErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// HeadSlot is the beacon head (the simulated clock's slot).
func (r *Runner) HeadSlot() phase0.Slot { return r.Chain.HeadSlot() }

// StopSlot is the slot at which Run returns (0: none).
func (r *Runner) StopSlot() phase0.Slot { return r.stopAt }

// CurrentInterval is the rewards interval the head slot's time falls in (counted from the scenario's first
// interval and its reward index).
func (r *Runner) CurrentInterval() uint64 {
	s := r.Net.Scenario
	t := s.SlotTime(uint64(r.HeadSlot()))
	start := *s.Rewards.IntervalStart
	if t < start {
		return s.Rewards.RewardIndex
	}
	return s.Rewards.RewardIndex + (t-start)/s.Rewards.IntervalSeconds
}

// Step advances the network by one slot: timed events due by the slot's time are sent, the slot's EL block is
// produced (if the beacon slot has a block) and the beacon clock moves to the slot.
func (r *Runner) Step(ctx context.Context) error {
	s := r.Net.Scenario
	slot := r.HeadSlot() + 1
	if last := r.Link.LastSlot(); last >= slot {
		slot = last // events already pushed the EL to this slot
	}
	if _, err := r.Net.ApplyUntil(ctx, s.SlotTime(uint64(slot))); err != nil {
		return fmt.Errorf("simnet: events of slot %d: %w", slot, err)
	}
	if err := r.takeErr(); err != nil {
		return err
	}
	if last := r.Link.LastSlot(); last > slot {
		slot = last
	}
	if err := r.Link.Advance(ctx, slot); err != nil {
		return fmt.Errorf("simnet: %w", err)
	}
	r.simTime.Store(s.SlotTime(uint64(slot)))
	return nil
}

// Run advances one slot every 1/SlotsPerSecond seconds until the stop slot (RunConfig.Intervals) or the end
// of ctx. onSlot, if set, is called after each slot.
func (r *Runner) Run(ctx context.Context, onSlot func(phase0.Slot)) error {
	period := time.Duration(float64(time.Second) / r.cfg.SlotsPerSecond)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		if r.stopAt != 0 && r.HeadSlot() >= r.stopAt {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		if err := r.Step(ctx); err != nil {
			return err
		}
		if onSlot != nil {
			onSlot(r.HeadSlot())
		}
	}
}

// Close stops the servers and the EL node.
func (r *Runner) Close() {
	if r.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.Server.Stop(ctx)
		cancel()
	}
	if r.EL != nil {
		_ = r.EL.Close()
	}
}

// Summary describes the endpoints and accounts for people and tools connecting to the network.
func (r *Runner) Summary() string {
	var b strings.Builder
	s := r.Net.Scenario
	fmt.Fprintf(&b, "scenario:            %s\n", s.Name)
	fmt.Fprintf(&b, "execution JSON-RPC:  %s (chain id %d)\n", r.EL.URL(), ELChainID)
	fmt.Fprintf(&b, "beacon API:          %s\n", r.Server.URL())
	fmt.Fprintf(&b, "genesis time:        %d (%d s slots, %d slots per epoch)\n", s.GenesisTime, s.SecondsPerSlot, s.SlotsPerEpoch)
	fmt.Fprintf(&b, "RocketStorage:       %s\n", r.Net.Deployment.StorageAddress.Hex())
	fmt.Fprintf(&b, "Multicall3:          %s\n", r.Net.Deployment.Multicall.Hex())
	fmt.Fprintf(&b, "head slot:           %d\n", r.HeadSlot())
	fmt.Fprintf(&b, "current interval:    %d (interval length %d s)\n", r.CurrentInterval(), s.Rewards.IntervalSeconds)
	if r.stopAt != 0 {
		fmt.Fprintf(&b, "stops at slot:       %d\n", r.stopAt)
	}
	for i, m := range r.Net.Members {
		line := fmt.Sprintf("oDAO member %-8s %s", s.ODAO[i].Name+":", m.Address.Hex())
		if i < len(r.Keystores) {
			line += "  keystore " + r.Keystores[i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
