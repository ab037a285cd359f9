// Package simtest is a simulated Rocket Pool network for end-to-end tests of interval generation: the scenario
// of e2e.yaml seeded before the beacon genesis on an in-process slot-aligned EL node, linked to a simulated beacon
// chain served on three loopback servers, driven through three reward intervals that the oDAO agrees on.
package simtest

import (
	"context"
	_ "embed"
	"math/big"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/rewards"
)

//go:embed e2e.yaml
var scenarioYAML []byte

// Interval ends (testdata/e2e.yaml: 1536 s intervals from genesis, 12 s slots): interval i ends at slot
// 128 (i+1), in epoch 4 (i+1), so its snapshot slot is the epoch's last: 159, 287, 415. Interval 0 pays no
// Smoothing Pool ETH by rule (§4.1), so intervals 1 and 2 carry the income.
var SnapshotSlots = [3]uint64{159, 287, 415}

// HeadSlot is the last slot the tests advance to. The beacon chain's head follows the link: its clock is the time
// of the last slot the EL has produced, so finality (head epoch - 2) advances with the network.
const HeadSlot = 576

type Net struct {
	Scenario *scenario.Scenario
	EL       *scenario.ELNode
	Network  *scenario.Network
	Link     *scenario.Link
	Chain    *simbeacon.Chain
	// URLs of three beacon API servers on loopback serving Chain.
	URLs []string
}

// Option changes the simulated network.
type Option func(*options)

type options struct{ validators uint64 }

// WithValidators sets the beacon registry size (default 256).
func WithValidators(n uint64) Option { return func(o *options) { o.validators = n } }

// New seeds the scenario before the beacon genesis on a slot-aligned EL node, links it to a simulated beacon
// chain (10 % missed slots, 10 % late inclusions) and serves that chain on three loopback servers.
func New(t testing.TB, fork string, opts ...Option) *Net {
	t.Helper()
	o := options{validators: 256}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	s, err := scenario.Parse(scenarioYAML)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	el, err := scenario.NewELNode(scenario.ELNodeConfig{Alloc: alloc, GenesisTime: s.GenesisTime, SecondsPerSlot: s.SecondsPerSlot, PreGenesisSlots: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { el.Close() })
	net, err := scenario.Seed(ctx, el.Client(), s, big.NewInt(scenario.ELChainID), el.Commit)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	genesisBlock, err := el.SealGenesis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link, err := scenario.NewLink(el)
	if err != nil {
		t.Fatal(err)
	}
	bs := net.BeaconScenario(simbeacon.Scenario{Seed: 11, ValidatorCount: o.validators, MissedSlotRate: 0.1,
		LateInclusionRate: 0.1, ELGenesisBlock: genesisBlock, ChainID: scenario.ELChainID, Fork: fork})
	chain, err := simbeacon.New(ctx, simbeacon.WithScenario(bs), simbeacon.WithExecutionProvider(link),
		simbeacon.WithClock(func() time.Time { return time.Unix(int64(s.SlotTime(uint64(link.LastSlot()))), 0) }))
	if err != nil {
		t.Fatalf("beacon chain: %v", err)
	}
	link.Attach(chain)
	sn := &Net{Scenario: s, EL: el, Network: net, Link: link, Chain: chain}
	for i := 0; i < 3; i++ {
		srv, err := simbeacon.NewServer(ctx, simbeacon.WithChain(chain), simbeacon.WithListenAddress("127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Stop(c)
		})
		sn.URLs = append(sn.URLs, srv.URL())
	}
	return sn
}

func (sn *Net) Advance(t testing.TB, slot uint64) {
	t.Helper()
	if err := sn.Link.Advance(context.Background(), phase0.Slot(slot)); err != nil {
		t.Fatalf("advance to slot %d: %v", slot, err)
	}
}

func (sn *Net) Transactor(t testing.TB, a scenario.Account) *bind.TransactOpts {
	t.Helper()
	o, err := bind.NewKeyedTransactorWithChainID(a.Key, big.NewInt(scenario.ELChainID))
	if err != nil {
		t.Fatal(err)
	}
	o.GasLimit = 3_000_000
	return o
}

// pay puts ETH transfers into the EL pool: they land in the next linked block.
func (sn *Net) PayPool(t testing.TB, wei *big.Int, voterShare bool) {
	t.Helper()
	o := sn.Transactor(t, sn.Network.Guardian)
	o.Value = wei
	var err error
	if voterShare {
		_, err = sn.Network.Deployment.RewardsPool.Receive(o)
	} else {
		_, err = sn.Network.Deployment.SmoothingPool.Receive(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (sn *Net) LastBlockAtOrBefore(slot uint64) uint64 {
	for ; slot > 0 && !sn.Chain.HasBlock(phase0.Slot(slot)); slot-- {
	}
	return slot
}

func (sn *Net) FirstBlockFrom(slot uint64) uint64 {
	for !sn.Chain.HasBlock(phase0.Slot(slot)) {
		slot++
	}
	return slot
}

// expected assembles the interval independently of the generator: boundaries from the chain model, the EL part
// of the snapshot from the EL reader (checked against the seed in chain/execution), beacon statuses from the
// model, and the duty record from the model's inclusion oracle; then rewards.Compute.
func (sn *Net) Expected(t testing.TB, index, consensusStartSlot, snapshotSlot, intervalsPassed uint64, ruleset int) (*interval.Timing, *rewards.Result, *rewards.Files) {
	t.Helper()
	ctx := context.Background()
	end := sn.LastBlockAtOrBefore(snapshotSlot)
	start := sn.FirstBlockFrom(consensusStartSlot)
	tm := &interval.Timing{Index: index, IntervalsPassed: intervalsPassed, ConsensusStartSlot: consensusStartSlot, SnapshotSlot: snapshotSlot,
		ConsensusStartBlock: start, ConsensusEndBlock: end,
		ExecutionStartBlock: sn.Chain.ELBlockNumber(phase0.Slot(start)), ExecutionEndBlock: sn.Chain.ELBlockNumber(phase0.Slot(end)),
		ELStartTime: sn.Scenario.SlotTime(start), ELEndTime: sn.Scenario.SlotTime(end)}
	el, err := execution.New(ctx, execution.WithClient(sn.EL.Client()), execution.WithStorageAddress(sn.Network.Deployment.StorageAddress),
		execution.WithMulticall(sn.Network.Deployment.Multicall))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := el.ReadSnapshot(ctx, tm.ExecutionEndBlock)
	if err != nil {
		t.Fatal(err)
	}
	snap.Network, snap.ChainID, snap.GenesisTime, snap.SecondsPerSlot, snap.SlotsPerEpoch = "devnet", scenario.ELChainID, sn.Scenario.GenesisTime, 12, 32
	snap.IntervalsPassed, snap.ConsensusStartSlot, snap.SnapshotSlot = intervalsPassed, consensusStartSlot, snapshotSlot
	snap.ConsensusStartBlock, snap.ConsensusEndBlock, snap.ExecutionStartBlock, snap.ExecutionEndBlock = start, end, tm.ExecutionStartBlock, tm.ExecutionEndBlock
	snap.ELStartTime, snap.ELEndTime = tm.ELStartTime, tm.ELEndTime
	isProto := map[phase0.ValidatorIndex]bool{}
	for _, pk := range execution.ProtocolPubkeys(snap) {
		idx, ok := sn.Chain.ValidatorByPubkey(phase0.BLSPubKey(pk))
		if !ok {
			continue
		}
		v := sn.Chain.APIValidator(idx, phase0.Epoch(end/32))
		snap.Validators = append(snap.Validators, rewards.BeaconValidator{Pubkey: pk, Index: uint64(idx), Status: v.Status.String(),
			ActivationEpoch: uint64(v.Validator.ActivationEpoch), ExitEpoch: uint64(v.Validator.ExitEpoch), WithdrawableEpoch: uint64(v.Validator.WithdrawableEpoch)})
		isProto[idx] = true
	}
	if len(isProto) != 7 {
		t.Fatalf("%d protocol validators on the beacon chain, want 7", len(isProto))
	}
	protocol := make([]phase0.ValidatorIndex, 0, len(isProto))
	for v := range isProto {
		protocol = append(protocol, v)
	}
	duties, err := sn.Chain.DutyRecord(index, start, end, protocol, ruleset >= 10)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rewards.Compute(snap.Canonical(), duties, rewards.WithRuleset(ruleset))
	if err != nil {
		t.Fatalf("expected result of interval %d: %v", index, err)
	}
	files, err := res.Files()
	if err != nil {
		t.Fatal(err)
	}
	return tm, res, files
}

// vote makes two of the three members submit the expected result (2/3 >= 51 %: executed with the second vote).
func (sn *Net) Vote(t testing.TB, tm *interval.Timing, res *rewards.Result, files *rewards.Files) {
	t.Helper()
	s := interval.SubmissionOf(tm, res, files)
	sub := bindings.RewardSubmission{RewardIndex: new(big.Int).SetUint64(s.RewardIndex), ExecutionBlock: new(big.Int).SetUint64(s.ExecutionBlock),
		ConsensusBlock: new(big.Int).SetUint64(s.ConsensusBlock), MerkleRoot: s.MerkleRoot, IntervalsPassed: new(big.Int).SetUint64(s.IntervalsPassed),
		SmoothingPoolETH: s.SmoothingPoolETH, TreasuryRPL: s.TreasuryRPL, TreasuryETH: s.TreasuryETH, UserETH: s.UserETH,
		TrustedNodeRPL: s.TrustedNodeRPL, NodeRPL: s.NodeRPL, NodeETH: s.NodeETH}
	for _, m := range sn.Network.Members[:2] {
		if _, err := sn.Network.Deployment.RewardsPool.SubmitRewardSnapshot(sn.Transactor(t, m), sub); err != nil {
			t.Fatalf("vote for interval %d: %v", s.RewardIndex, err)
		}
	}
}

// Hooks run at three points of each interval i (0, 1, 2).
type Hooks struct {
	// Unfinalized: 12 slots after the snapshot slot; the interval has ended but the epoch after its target is
	// not finalized.
	Unfinalized func(sn *Net, index int64)
	// Open: 70 slots after the snapshot slot (the epoch after the target is finalized), before the oDAO votes;
	// expected is the independently computed root.
	Open func(sn *Net, index int64, expected common.Hash)
	// Executed: 100 slots after the snapshot slot, after two of three members voted expected and it executed.
	Executed func(sn *Net, index int64, root common.Hash)
	// Epoch, if set, runs at the first slot of every epoch the network advances through (a daemon's tick).
	Epoch func(sn *Net, slot uint64)
}

// Build drives the network through three intervals, each agreed by the oDAO on the independently computed
// result: Smoothing Pool income and voter share arrive during intervals 1 and 2, the guardian sets the pending RPL
// of each interval after the previous one executed (the simnet mints no inflation). The in-process EL keeps state
// for the last 128 blocks only (it is not an archive node), so the hooks run while the snapshot state is recent.
func Build(t testing.TB, fork string, rulesets [3]int, h Hooks, opts ...Option) {
	t.Helper()
	sn := New(t, fork, opts...)
	income := map[uint64]func(){
		180: func() { sn.PayPool(t, big.NewInt(5e17), false) }, // 0.5 ETH in interval 1
		200: func() { sn.PayPool(t, big.NewInt(5e16), true) },  // 0.05 ETH voter share
		330: func() { sn.PayPool(t, big.NewInt(3e17), false) }, // 0.3 ETH in interval 2
	}
	slot := uint64(0)
	advanceTo := func(target uint64) {
		for s := slot + 1; s <= target; s++ {
			if f, ok := income[s]; ok {
				sn.Advance(t, s-1)
				f()
			}
			if h.Epoch != nil && s%32 == 0 {
				sn.Advance(t, s)
				h.Epoch(sn, s)
			}
		}
		sn.Advance(t, target)
		slot = target
	}
	start := uint64(0)
	for i, snapSlot := range SnapshotSlots {
		advanceTo(snapSlot + 12)
		if h.Unfinalized != nil {
			h.Unfinalized(sn, int64(i))
		}
		advanceTo(snapSlot + 70)
		tm, res, f := sn.Expected(t, uint64(i), start, snapSlot, 1, rulesets[i])
		if i > 0 && (res.Totals.TotalSmoothingPoolETH.Sign() == 0 || res.SuccessfulAttestations == 0) {
			t.Fatalf("degenerate interval %d: SP %s, attestations %d", i, res.Totals.TotalSmoothingPoolETH, res.SuccessfulAttestations)
		}
		if h.Open != nil {
			h.Open(sn, int64(i), f.Root)
		}
		sn.Vote(t, tm, res, f)
		advanceTo(snapSlot + 72)
		if _, err := sn.Network.Deployment.RewardsPool.SimSetPendingRPLRewards(sn.Transactor(t, sn.Network.Guardian), new(big.Int).Mul(big.NewInt(8000), big.NewInt(1e18))); err != nil {
			t.Fatal(err)
		}
		advanceTo(snapSlot + 100)
		if h.Executed != nil {
			h.Executed(sn, int64(i), f.Root)
		}
		start = (tm.ConsensusEndBlock/32 + 1) * 32
	}
}
