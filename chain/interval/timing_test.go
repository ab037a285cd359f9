package interval_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/rewards"
)

// Hand-built chain for the timing rules (rewards-rules §2), genesis G, 12 s slots:
// claimIntervalTimeStart = G + 1200 (slot 100), intervalTime = 3840 s (320 slots).
const genesis = 1_000_000

type fakeCL struct {
	head      phase0.Slot
	finalized phase0.Epoch
	// blocks by slot: EL number (0 = block without payload); absent = empty slot.
	blocks map[phase0.Slot]uint64
	asked  []string
}

func (f *fakeCL) Genesis(context.Context) (*apiv1.Genesis, error) {
	return &apiv1.Genesis{GenesisTime: time.Unix(genesis, 0)}, nil
}

func (f *fakeCL) SpecValues(context.Context) (map[string]any, error) {
	return map[string]any{"SECONDS_PER_SLOT": 12 * time.Second, "SLOTS_PER_EPOCH": uint64(32)}, nil
}

func (f *fakeCL) Header(context.Context, string) (*apiv1.BeaconBlockHeader, error) {
	return &apiv1.BeaconBlockHeader{Header: &phase0.SignedBeaconBlockHeader{Message: &phase0.BeaconBlockHeader{Slot: f.head}}}, nil
}

func (f *fakeCL) FinalizedEpoch(context.Context) (phase0.Epoch, error) { return f.finalized, nil }

func (f *fakeCL) block(s phase0.Slot) *beacon.Block {
	n, ok := f.blocks[s]
	if !ok {
		return nil
	}
	return &beacon.Block{Slot: s, HasPayload: n != 0, ExecutionBlockNumber: n}
}

func (f *fakeCL) SnapshotBlock(_ context.Context, s phase0.Slot, maxBack uint64) (*beacon.Block, error) {
	for back := uint64(0); back <= maxBack; back++ {
		if b := f.block(s - phase0.Slot(back)); b != nil && b.HasPayload {
			return b, nil
		}
	}
	return nil, errors.New("no block")
}

func (f *fakeCL) FirstBlockFrom(_ context.Context, s phase0.Slot, maxFwd uint64) (*beacon.Block, error) {
	for fwd := uint64(0); fwd <= maxFwd; fwd++ {
		if b := f.block(s + phase0.Slot(fwd)); b != nil {
			return b, nil
		}
	}
	return nil, errors.New("no block")
}

func (f *fakeCL) ValidatorsByPubkey(_ context.Context, state string, _ []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error) {
	f.asked = append(f.asked, state)
	return map[phase0.ValidatorIndex]*apiv1.Validator{}, nil
}

type fakeEL struct {
	index  uint64
	events map[uint64]*execution.RewardEvent
	read   []uint64
}

func (f *fakeEL) Header(_ context.Context, n *big.Int) (*types.Header, error) {
	if n == nil {
		return &types.Header{Number: big.NewInt(9999), Time: 1}, nil
	}
	return &types.Header{Number: n, Time: 2_000_000 + n.Uint64()}, nil // EL time = 2,000,000 + number
}

func (f *fakeEL) ChainID(context.Context) (uint64, error) { return 1337, nil }

func (f *fakeEL) IntervalInfo(context.Context, uint64) (*execution.IntervalInfo, error) {
	return &execution.IntervalInfo{RewardIndex: f.index, ClaimIntervalTimeStart: genesis + 1200, IntervalTime: 3840}, nil
}

func (f *fakeEL) ReadSnapshot(_ context.Context, block uint64) (*rewards.Snapshot, error) {
	f.read = append(f.read, block)
	return &rewards.Snapshot{Version: 1, Index: f.index, IntervalTime: 3840, ClaimIntervalTimeStart: genesis + 1200,
		PendingRPL: rewards.WeiFromUint64(1e18), RPLPrice: rewards.WeiFromUint64(1e16), SmoothingPoolBalance: rewards.WeiFromUint64(0),
		TrustedNodePerc: rewards.WeiFromUint64(1e17), // one oDAO member, so the tree has a leaf
		OracleDAO:       []rewards.ODAOMember{{Address: rewards.Address{1}, JoinedTime: 1}}, Nodes: []rewards.Node{{Address: rewards.Address{1}, RegistrationTime: 1}}}, nil
}

func (f *fakeEL) RewardSnapshotEvent(_ context.Context, i uint64) (*execution.RewardEvent, error) {
	ev, ok := f.events[i]
	if !ok {
		return nil, execution.ErrEventNotFound
	}
	return ev, nil
}

// emptyScanner returns an empty duty record for the interval it is asked for.
type emptyScanner struct{ iv scan.Interval }

func (e *emptyScanner) ScanDuties(_ context.Context, iv scan.Interval, _ phase0.Slot, _ []phase0.ValidatorIndex, counts func(a, b, c uint64)) (*scan.Result, error) {
	e.iv = iv
	rec := rewards.NewDutyRecordBuilder(iv.Index, iv.StartSlot, iv.EndSlot).Build()
	return &scan.Result{Record: rec}, nil
}

func newFakeGenerator(t *testing.T, cl *fakeCL, el interval.ELReader, sc *emptyScanner) *interval.Generator {
	t.Helper()
	g, err := interval.New(context.Background(), interval.WithBeacon(cl), interval.WithExecution(el), interval.WithScanner(sc), interval.WithSearchLimits(64, 64))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Open interval 5 with two intervals passed (a missed submission):
// head slot 1000 → stateTime G + 12000; passed = (12000 − 1200) / 3840 = 2; end = G + 1200 + 7680 = G + 8880;
// target slot = ceil(8880 / 12) = 740 (epoch 23); snapshot slot 767; needs finalized >= 24.
// Slots 766 and 767 are empty: the snapshot block is 765 (EL 5000). Previous consensus block 90 → start slot
// (90/32 + 1) × 32 = 96, which is empty; the first block is 97 (EL 4400).
func TestTimingOpenIntervalTwoPassed(t *testing.T) {
	cl := &fakeCL{head: 1000, finalized: 24, blocks: map[phase0.Slot]uint64{97: 4400, 765: 5000, 764: 4999}}
	el := &fakeEL{index: 5, events: map[uint64]*execution.RewardEvent{4: {Index: 4, ConsensusBlock: 90, ExecutionBlock: 4300}}}
	sc := &emptyScanner{}
	out, err := newFakeGenerator(t, cl, el, sc).Generate(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	want := interval.Timing{Index: 5, IntervalsPassed: 2, ConsensusStartSlot: 96, SnapshotSlot: 767, ConsensusStartBlock: 97, ConsensusEndBlock: 765,
		ExecutionStartBlock: 4400, ExecutionEndBlock: 5000, ELStartTime: 2_004_400, ELEndTime: 2_005_000}
	if out.Timing != want {
		t.Fatalf("timing %+v\nwant   %+v", out.Timing, want)
	}
	if len(el.read) != 1 || el.read[0] != 5000 || len(cl.asked) != 1 || cl.asked[0] != "765" {
		t.Fatalf("EL read at %v, beacon statuses at %v; want EL 5000 and state 765", el.read, cl.asked)
	}
	if sc.iv.StartSlot != 97 || sc.iv.EndSlot != 765 || !sc.iv.Withdrawals { // devnet v11: bonus window always open
		t.Fatalf("scan interval %+v", sc.iv)
	}
	s := out.Snapshot
	if s.Network != "devnet" || s.ChainID != 1337 || s.GenesisTime != genesis || s.IntervalsPassed != 2 || s.ELEndTime != 2_005_000 || s.SnapshotSlot != 767 {
		t.Fatalf("snapshot header %+v", s)
	}
	if out.Canonical != nil || out.Previous == nil || out.Previous.Index != 4 {
		t.Fatalf("canonical %v previous %v", out.Canonical, out.Previous)
	}

	// One epoch less finality: not finalized. Head at slot 150: (1800 − 1200) / 3840 = 0 intervals: not due.
	cl.finalized = 23
	if _, err := newFakeGenerator(t, cl, el, sc).Generate(context.Background(), 5); !errors.Is(err, interval.ErrNotFinalized) {
		t.Fatalf("finalized 23: %v", err)
	}
	cl.finalized, cl.head = 24, 150
	if _, err := newFakeGenerator(t, cl, el, sc).Generate(context.Background(), 5); !errors.Is(err, interval.ErrNotDue) {
		t.Fatalf("head 150: %v", err)
	}
}

// Pre-merge start block: the first block has no payload, so the start EL block is the previous execution block + 1.
// The previous event missing is an error naming the interval.
func TestTimingPreMergeStartAndMissingPrevious(t *testing.T) {
	cl := &fakeCL{head: 1000, finalized: 24, blocks: map[phase0.Slot]uint64{96: 0, 767: 5000}}
	el := &fakeEL{index: 5, events: map[uint64]*execution.RewardEvent{4: {Index: 4, ConsensusBlock: 95, ExecutionBlock: 4300}}}
	out, err := newFakeGenerator(t, cl, el, &emptyScanner{}).Generate(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if out.Timing.ConsensusStartBlock != 96 || out.Timing.ExecutionStartBlock != 4301 || out.Timing.ConsensusEndBlock != 767 {
		t.Fatalf("timing %+v", out.Timing)
	}
	el.events = nil
	if _, err := newFakeGenerator(t, cl, el, &emptyScanner{}).Generate(context.Background(), 5); !errors.Is(err, execution.ErrEventNotFound) || !strings.Contains(err.Error(), "previous interval 4") {
		t.Fatalf("missing previous event: %v", err)
	}
}

// An executed interval takes its blocks and intervalsPassed from the event and checks them against the chain.
func TestTimingExecutedIntervalFromEvent(t *testing.T) {
	cl := &fakeCL{head: 5000, finalized: 150, blocks: map[phase0.Slot]uint64{97: 4400, 765: 5000}}
	el := &fakeEL{index: 6, events: map[uint64]*execution.RewardEvent{
		4: {Index: 4, ConsensusBlock: 90, ExecutionBlock: 4300},
		5: {Index: 5, ConsensusBlock: 765, ExecutionBlock: 5000, IntervalsPassed: 2, IntervalEndTime: genesis + 8880},
	}}
	el2 := *el
	el2.index = 5 // the rewards pool's index at the snapshot block
	g := newFakeGenerator(t, cl, &fakeELAt{fakeEL: &el2, head: 6}, &emptyScanner{})
	out, err := g.Generate(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if out.Timing.SnapshotSlot != 767 || out.Timing.ConsensusEndBlock != 765 || out.Timing.IntervalsPassed != 2 || out.Canonical == nil {
		t.Fatalf("timing %+v canonical %v", out.Timing, out.Canonical)
	}
	// The event's EL block must be the one the beacon block carries.
	el2.events[5] = &execution.RewardEvent{Index: 5, ConsensusBlock: 765, ExecutionBlock: 5001, IntervalsPassed: 2, IntervalEndTime: genesis + 8880}
	if _, err := g.Generate(context.Background(), 5); err == nil || !strings.Contains(err.Error(), "carries EL block 5000") {
		t.Fatalf("inconsistent event: %v", err)
	}
}

// fakeELAt answers IntervalInfo at the head with a later index than the snapshot's.
type fakeELAt struct {
	*fakeEL
	head uint64
}

func (f *fakeELAt) IntervalInfo(ctx context.Context, block uint64) (*execution.IntervalInfo, error) {
	ii, _ := f.fakeEL.IntervalInfo(ctx, block)
	if block == 9999 {
		ii.RewardIndex = f.head
	}
	return ii, nil
}
