package interval_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/rewards"
)

// Interval ends (testdata/e2e.yaml: 1536 s intervals from genesis, 12 s slots): interval i ends at slot
// 128 (i+1), in epoch 4 (i+1), so its snapshot slot is the epoch's last: 159, 287, 415. Interval 0 pays no
// Smoothing Pool ETH by rule (§4.1), so intervals 1 and 2 carry the income.
var snapshotSlots = [3]uint64{159, 287, 415}

const headSlot = 512 // the beacon chain's fixed head

type simnet struct {
	s     *scenario.Scenario
	el    *scenario.ELNode
	net   *scenario.Network
	link  *scenario.Link
	chain *simbeacon.Chain
	urls  []string
}

// newSimnet seeds the scenario before the beacon genesis on a slot-aligned EL node, links it to a simulated
// beacon chain (10 % missed slots, 10 % late inclusions) and serves that chain on three loopback servers.
func newSimnet(t *testing.T, fork string) *simnet {
	t.Helper()
	ctx := context.Background()
	s, err := scenario.Load("testdata/e2e.yaml")
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
	bs := net.BeaconScenario(simbeacon.Scenario{Seed: 11, ValidatorCount: 256, HeadSlot: headSlot, MissedSlotRate: 0.1,
		LateInclusionRate: 0.1, ELGenesisBlock: genesisBlock, ChainID: scenario.ELChainID, Fork: fork})
	chain, err := simbeacon.New(ctx, simbeacon.WithScenario(bs), simbeacon.WithExecutionProvider(link))
	if err != nil {
		t.Fatalf("beacon chain: %v", err)
	}
	link.Attach(chain)
	sn := &simnet{s: s, el: el, net: net, link: link, chain: chain}
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
		sn.urls = append(sn.urls, srv.URL())
	}
	return sn
}

func (sn *simnet) advance(t *testing.T, slot uint64) {
	t.Helper()
	if err := sn.link.Advance(context.Background(), phase0.Slot(slot)); err != nil {
		t.Fatalf("advance to slot %d: %v", slot, err)
	}
}

func (sn *simnet) transactor(t *testing.T, a scenario.Account) *bind.TransactOpts {
	t.Helper()
	o, err := bind.NewKeyedTransactorWithChainID(a.Key, big.NewInt(scenario.ELChainID))
	if err != nil {
		t.Fatal(err)
	}
	o.GasLimit = 3_000_000
	return o
}

// pay puts ETH transfers into the EL pool: they land in the next linked block.
func (sn *simnet) payPool(t *testing.T, wei *big.Int, voterShare bool) {
	t.Helper()
	o := sn.transactor(t, sn.net.Guardian)
	o.Value = wei
	var err error
	if voterShare {
		_, err = sn.net.Deployment.RewardsPool.Receive(o)
	} else {
		_, err = sn.net.Deployment.SmoothingPool.Receive(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (sn *simnet) lastBlockAtOrBefore(slot uint64) uint64 {
	for ; slot > 0 && !sn.chain.HasBlock(phase0.Slot(slot)); slot-- {
	}
	return slot
}

func (sn *simnet) firstBlockFrom(slot uint64) uint64 {
	for !sn.chain.HasBlock(phase0.Slot(slot)) {
		slot++
	}
	return slot
}

// expected assembles the interval independently of the generator: boundaries from the chain model, the EL part
// of the snapshot from the EL reader (checked against the seed in chain/execution), beacon statuses from the
// model, and the duty record from the model's inclusion oracle; then rewards.Compute.
func (sn *simnet) expected(t *testing.T, index, consensusStartSlot, snapshotSlot, intervalsPassed uint64, ruleset int) (*interval.Timing, *rewards.Result, *rewards.Files) {
	t.Helper()
	ctx := context.Background()
	end := sn.lastBlockAtOrBefore(snapshotSlot)
	start := sn.firstBlockFrom(consensusStartSlot)
	tm := &interval.Timing{Index: index, IntervalsPassed: intervalsPassed, ConsensusStartSlot: consensusStartSlot, SnapshotSlot: snapshotSlot,
		ConsensusStartBlock: start, ConsensusEndBlock: end,
		ExecutionStartBlock: sn.chain.ELBlockNumber(phase0.Slot(start)), ExecutionEndBlock: sn.chain.ELBlockNumber(phase0.Slot(end)),
		ELStartTime: sn.s.SlotTime(start), ELEndTime: sn.s.SlotTime(end)}
	el, err := execution.New(ctx, execution.WithClient(sn.el.Client()), execution.WithStorageAddress(sn.net.Deployment.StorageAddress),
		execution.WithMulticall(sn.net.Deployment.Multicall))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := el.ReadSnapshot(ctx, tm.ExecutionEndBlock)
	if err != nil {
		t.Fatal(err)
	}
	snap.Network, snap.ChainID, snap.GenesisTime, snap.SecondsPerSlot, snap.SlotsPerEpoch = "devnet", scenario.ELChainID, sn.s.GenesisTime, 12, 32
	snap.IntervalsPassed, snap.ConsensusStartSlot, snap.SnapshotSlot = intervalsPassed, consensusStartSlot, snapshotSlot
	snap.ConsensusStartBlock, snap.ConsensusEndBlock, snap.ExecutionStartBlock, snap.ExecutionEndBlock = start, end, tm.ExecutionStartBlock, tm.ExecutionEndBlock
	snap.ELStartTime, snap.ELEndTime = tm.ELStartTime, tm.ELEndTime
	isProto := map[phase0.ValidatorIndex]bool{}
	for _, pk := range execution.ProtocolPubkeys(snap) {
		idx, ok := sn.chain.ValidatorByPubkey(phase0.BLSPubKey(pk))
		if !ok {
			continue
		}
		v := sn.chain.APIValidator(idx, phase0.Epoch(end/32))
		snap.Validators = append(snap.Validators, rewards.BeaconValidator{Pubkey: pk, Index: uint64(idx), Status: v.Status.String(),
			ActivationEpoch: uint64(v.Validator.ActivationEpoch), ExitEpoch: uint64(v.Validator.ExitEpoch), WithdrawableEpoch: uint64(v.Validator.WithdrawableEpoch)})
		isProto[idx] = true
	}
	if len(isProto) != 7 {
		t.Fatalf("%d protocol validators on the beacon chain, want 7", len(isProto))
	}
	bld := rewards.NewDutyRecordBuilder(index, start, end)
	for e := start / 32; e <= end/32; e++ {
		ec, err := sn.chain.Committees(phase0.Epoch(e))
		if err != nil {
			t.Fatal(err)
		}
		ec.ForEach(func(s phase0.Slot, _ phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
			for _, v := range members {
				if !isProto[v] {
					continue
				}
				b, ok, err := sn.chain.Inclusion(v, s)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					b = 0
				}
				if err := bld.AddDuty(uint64(v), uint64(s), uint64(b)); err != nil {
					t.Fatal(err)
				}
			}
		})
		for s := e * 32; s < e*32+32 && ruleset >= 10; s++ {
			if !sn.chain.HasBlock(phase0.Slot(s)) {
				continue
			}
			for _, w := range sn.chain.Withdrawals(phase0.Slot(s)) {
				if isProto[w.ValidatorIndex] {
					bld.AddWithdrawal(rewards.Withdrawal{Slot: s, ValidatorIndex: uint64(w.ValidatorIndex), AmountGwei: uint64(w.Amount)})
				}
			}
		}
	}
	res, err := rewards.Compute(snap.Canonical(), bld.Build(), rewards.WithRuleset(ruleset))
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
func (sn *simnet) vote(t *testing.T, tm *interval.Timing, res *rewards.Result, files *rewards.Files) {
	t.Helper()
	s := interval.SubmissionOf(tm, res, files)
	sub := bindings.RewardSubmission{RewardIndex: new(big.Int).SetUint64(s.RewardIndex), ExecutionBlock: new(big.Int).SetUint64(s.ExecutionBlock),
		ConsensusBlock: new(big.Int).SetUint64(s.ConsensusBlock), MerkleRoot: s.MerkleRoot, IntervalsPassed: new(big.Int).SetUint64(s.IntervalsPassed),
		SmoothingPoolETH: s.SmoothingPoolETH, TreasuryRPL: s.TreasuryRPL, TreasuryETH: s.TreasuryETH, UserETH: s.UserETH,
		TrustedNodeRPL: s.TrustedNodeRPL, NodeRPL: s.NodeRPL, NodeETH: s.NodeETH}
	for _, m := range sn.net.Members[:2] {
		if _, err := sn.net.Deployment.RewardsPool.SubmitRewardSnapshot(sn.transactor(t, m), sub); err != nil {
			t.Fatalf("vote for interval %d: %v", s.RewardIndex, err)
		}
	}
}

// build drives the network through three intervals, each agreed by the oDAO on the independently computed
// result: Smoothing Pool income and voter share arrive during intervals 1 and 2, the guardian sets the pending RPL
// of each interval after the previous one executed (the simnet mints no inflation). check runs for each interval
// once its votes are in and the chain is 80 slots past its snapshot: the in-process EL keeps state for the last
// 128 blocks only (not an archive node), so each interval is generated while its snapshot state is available.
func build(t *testing.T, fork string, rulesets [3]int, check func(sn *simnet, index int64, root common.Hash)) {
	sn := newSimnet(t, fork)
	income := map[uint64]func(){
		180: func() { sn.payPool(t, big.NewInt(5e17), false) }, // 0.5 ETH in interval 1
		200: func() { sn.payPool(t, big.NewInt(5e16), true) },  // 0.05 ETH voter share
		330: func() { sn.payPool(t, big.NewInt(3e17), false) }, // 0.3 ETH in interval 2
	}
	slot := uint64(0)
	advanceTo := func(target uint64) {
		for s := slot + 1; s <= target; s++ {
			if f, ok := income[s]; ok {
				sn.advance(t, s-1)
				f()
			}
		}
		sn.advance(t, target)
		slot = target
	}
	start := uint64(0)
	for i, snapSlot := range snapshotSlots {
		advanceTo(snapSlot + 12)
		tm, res, f := sn.expected(t, uint64(i), start, snapSlot, 1, rulesets[i])
		if i > 0 && (res.Totals.TotalSmoothingPoolETH.Sign() == 0 || res.SuccessfulAttestations == 0) {
			t.Fatalf("degenerate interval %d: SP %s, attestations %d", i, res.Totals.TotalSmoothingPoolETH, res.SuccessfulAttestations)
		}
		sn.vote(t, tm, res, f)
		advanceTo(snapSlot + 14)
		if _, err := sn.net.Deployment.RewardsPool.SimSetPendingRPLRewards(sn.transactor(t, sn.net.Guardian), new(big.Int).Mul(big.NewInt(8000), big.NewInt(1e18))); err != nil {
			t.Fatal(err)
		}
		advanceTo(snapSlot + 80)
		check(sn, int64(i), f.Root)
		start = (tm.ConsensusEndBlock/32 + 1) * 32
	}
}

type runConfig struct {
	urls        []string
	concurrency int
	committees  string
	ruleset     int
	storePath   string
	progress    *[]interval.Progress
}

func (sn *simnet) generator(t *testing.T, rc runConfig) *interval.Generator {
	t.Helper()
	ctx := context.Background()
	if rc.progress == nil {
		rc.progress = new([]interval.Progress)
	}
	ec, err := ethclient.Dial(sn.el.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	el, err := execution.New(ctx, execution.WithClient(ec), execution.WithStorageAddress(sn.net.Deployment.StorageAddress),
		execution.WithMulticall(sn.net.Deployment.Multicall), execution.WithBatchSize(50))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := beacon.New(ctx, beacon.WithAddresses(rc.urls...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	sc, err := interval.NewBeaconScanner(cl, interval.ScannerConfig{Committees: rc.committees, Concurrency: rc.concurrency, StorePath: rc.storePath})
	if err != nil {
		t.Fatal(err)
	}
	g, err := interval.New(ctx, interval.WithExecution(el), interval.WithBeacon(cl), interval.WithScanner(sc), interval.WithRuleset(rc.ruleset),
		interval.WithProgress(func(p interval.Progress) { *rc.progress = append(*rc.progress, p) }, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (sn *simnet) generate(t *testing.T, index int64, rc runConfig) *interval.Output {
	t.Helper()
	var progress []interval.Progress
	rc.progress = &progress
	out, err := sn.generator(t, rc).Generate(context.Background(), index)
	if err != nil {
		t.Fatalf("generate interval %d: %v", index, err)
	}
	if len(progress) == 0 || progress[len(progress)-1].EpochsDone != progress[len(progress)-1].Epochs {
		t.Fatalf("progress reports %+v, want a final report with every epoch done", progress)
	}
	return out
}

func checkAgreed(t *testing.T, out *interval.Output, root common.Hash, what string) {
	t.Helper()
	if out.Files.Root != root {
		t.Fatalf("%s: root %s, the oDAO agreed on %s", what, out.Files.Root.Hex(), root.Hex())
	}
	if !out.Matches() || out.Canonical.MerkleRoot != root {
		t.Fatalf("%s: does not match the canonical event: %v", what, out.Differences)
	}
}

// v11 (Electra): the pipeline reproduces the roots the oDAO agreed on for every interval, identically with
// 1 and 3 beacon nodes, concurrency 1 and 16, committees computed locally, from the API and cross-checked.
func TestIntervalReproducesAgreedRootV11(t *testing.T) {
	build(t, "electra", [3]int{11, 11, 11}, func(sn *simnet, index int64, root common.Hash) {
		runs := []runConfig{
			{urls: sn.urls[:1], concurrency: 1, committees: scan.CommitteesLocal},
			{urls: sn.urls, concurrency: 16, committees: scan.CommitteesAPI},
			{urls: sn.urls, concurrency: 1, committees: scan.CommitteesChecked, storePath: filepath.Join(t.TempDir(), "scan.db")},
		}
		if index != 1 {
			runs = runs[1:2]
		}
		var outs []*interval.Output
		for _, rc := range runs {
			out := sn.generate(t, index, rc)
			checkAgreed(t, out, root, fmt.Sprintf("interval %d", index))
			if out.Result.Ruleset != 11 {
				t.Fatalf("interval %d: ruleset %d", index, out.Result.Ruleset)
			}
			if index == 0 && out.Previous != nil || index > 0 && (out.Previous == nil || out.Timing.ConsensusStartSlot != (out.Previous.ConsensusBlock/32+1)*32) {
				t.Fatalf("interval %d start %d from previous %+v", index, out.Timing.ConsensusStartSlot, out.Previous)
			}
			if out.Scan.RecordDigest != outs0(outs, out).Scan.RecordDigest {
				t.Fatalf("interval %d: duty record digests differ between runs", index)
			}
			outs = append(outs, out)
		}
		if index == 2 {
			sn.checkOpenInterval(t)
		}
		if index != 1 {
			return
		}
		// The files are written next to each other and decode back to the same inputs.
		dir := t.TempDir()
		written, err := outs[0].Write(dir, "devnet")
		if err != nil {
			t.Fatal(err)
		}
		if len(written) != 8 { // json, ssz, performance, snapshot, duties, digests, events 0 and 1
			t.Fatalf("wrote %v", written)
		}
		f, err := os.Open(filepath.Join(dir, interval.SnapshotFileName("1337", 1)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		snap, err := rewards.DecodeSnapshot(f)
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := snap.Digest()
		d2, _ := outs[0].Snapshot.Digest()
		if d1 != d2 {
			t.Fatalf("snapshot file digest %s, generated %s", d1, d2)
		}
	})
}

func outs0(outs []*interval.Output, cur *interval.Output) *interval.Output {
	if len(outs) == 0 {
		return cur
	}
	return outs[0]
}

// Deneb blocks and states: a v10 interval (with the bonus's withdrawals) and a v8 interval reproduce the roots.
func TestIntervalReproducesAgreedRootDenebV10V8(t *testing.T) {
	build(t, "deneb", [3]int{10, 10, 8}, func(sn *simnet, index int64, root common.Hash) {
		switch index {
		case 1:
			checkAgreed(t, sn.generate(t, 1, runConfig{urls: sn.urls, concurrency: 4, ruleset: 10}), root, "v10 interval 1")
		case 2:
			out := sn.generate(t, 2, runConfig{urls: sn.urls[1:2], concurrency: 16, committees: scan.CommitteesAPI, ruleset: 8})
			checkAgreed(t, out, root, "v8 interval 2")
			if out.Result.WritesSSZ() {
				t.Fatal("v8 writes an SSZ file")
			}
		}
	})
}

// checkOpenInterval: after interval 2 executed, interval 3 (slots 384..) is open. Its end (slot 512 = the beacon
// head) has passed but epoch 17 is not finalized (finalized = head epoch 16 - 2): generation refuses with
// ErrNotFinalized. A dry run ends at the last slot before the finalized epoch 14 (slot 447) and starts after
// interval 2's snapshot block. Future intervals are refused.
func (sn *simnet) checkOpenInterval(t *testing.T) {
	ctx := context.Background()
	sn.advance(t, headSlot)
	g := sn.generator(t, runConfig{urls: sn.urls, concurrency: 4})
	if _, err := g.Generate(ctx, 3); !errors.Is(err, interval.ErrNotFinalized) {
		t.Fatalf("open interval 3: %v, want ErrNotFinalized", err)
	}
	if _, err := g.Generate(ctx, 4); err == nil || !strings.Contains(err.Error(), "current interval is 3") {
		t.Fatalf("future interval 4: %v", err)
	}
	if _, err := g.Generate(ctx, -2); err == nil {
		t.Fatal("index -2 accepted")
	}
	out, err := g.Generate(ctx, interval.DryRun)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	want := interval.Timing{Index: 3, IntervalsPassed: 1, ConsensusStartSlot: (out.Previous.ConsensusBlock/32 + 1) * 32, SnapshotSlot: 447}
	got := out.Timing
	if got.Index != want.Index || got.IntervalsPassed != 1 || got.ConsensusStartSlot != want.ConsensusStartSlot || got.SnapshotSlot != 447 ||
		got.ConsensusEndBlock != sn.lastBlockAtOrBefore(447) || got.ConsensusStartBlock != sn.firstBlockFrom(want.ConsensusStartSlot) || out.Canonical != nil {
		t.Fatalf("dry run timing %+v (canonical %v)", got, out.Canonical)
	}
	if got.ExecutionEndBlock != sn.chain.ELBlockNumber(phase0.Slot(got.ConsensusEndBlock)) || got.ELEndTime != sn.s.SlotTime(got.ConsensusEndBlock) {
		t.Fatalf("dry run EL end %d at %d", got.ExecutionEndBlock, got.ELEndTime)
	}
}
