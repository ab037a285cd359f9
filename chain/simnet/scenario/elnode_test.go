package scenario_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// The scenario runs on an in-process EL node over HTTP on loopback with one block per slot at the slot's
// timestamp: seeding, timed events and an oDAO consensus, read back by an external ethclient.
func TestScenarioOnSlotAlignedELNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	s := loadExample(t)
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	el, err := scenario.NewELNode(scenario.ELNodeConfig{Alloc: alloc, GenesisTime: s.GenesisTime, SecondsPerSlot: s.SecondsPerSlot})
	if err != nil {
		t.Fatalf("start EL node: %v", err)
	}
	defer el.Close()
	if !strings.HasPrefix(el.URL(), "http://127.0.0.1:") {
		t.Fatalf("EL endpoint %s is not on loopback", el.URL())
	}
	client := el.Client()
	chainID := big.NewInt(scenario.ELChainID)

	net, err := scenario.Seed(ctx, client, s, chainID, el.Commit)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	seededSlots := el.LastSlot()
	if seededSlots == 0 || seededSlots > 16 {
		t.Fatalf("seeding used %d slots, want 1..16", seededSlots)
	}

	// Drive slots up to 66 (interval 0 ends at slot 64 = 768 s), applying timed events in the slot they fall due.
	for el.LastSlot() < 66 {
		slot := el.LastSlot() + 1
		due, ok := net.NextEventTime()
		if ok && due <= s.SlotTime(slot) {
			// Mined into this slot via el.Commit (a transaction the pool promotes late goes into the next one).
			if _, err := net.ApplyUntil(ctx, s.SlotTime(slot)); err != nil {
				t.Fatalf("apply events at slot %d: %v", slot, err)
			}
			continue
		}
		root := common.BigToHash(big.NewInt(int64(slot)))
		h, err := el.ProduceSlot(ctx, slot, root)
		if err != nil {
			t.Fatalf("produce slot %d: %v", slot, err)
		}
		if h.ParentBeaconRoot == nil || *h.ParentBeaconRoot != root {
			t.Fatalf("slot %d: parent beacon root %v, want %x", slot, h.ParentBeaconRoot, root)
		}
	}

	// One EL block per slot, each at its slot's timestamp: block k is slot k here (no skipped slots).
	head, err := client.BlockNumber(ctx)
	if err != nil || head != el.LastSlot() || head < 66 {
		t.Fatalf("head block %d (%v), want the last slot %d >= 66", head, err, el.LastSlot())
	}
	for _, k := range []uint64{0, 1, seededSlots, 30, head} {
		h, err := client.HeaderByNumber(ctx, new(big.Int).SetUint64(k))
		if err != nil {
			t.Fatal(err)
		}
		if want := s.GenesisTime + 12*k; h.Time != want {
			t.Fatalf("block %d time %d, want %d", k, h.Time, want)
		}
	}
	// A skipped slot leaves a gap in time, not in block numbers; the past is refused.
	skipTo := head + 2
	h, err := el.ProduceSlot(ctx, skipTo, common.Hash{})
	if err != nil || h.Number.Uint64() != head+1 || h.Time != s.GenesisTime+skipTo*12 {
		t.Fatalf("slot %d after a skip: %v (%v)", skipTo, h, err)
	}
	if _, err := el.ProduceSlot(ctx, skipTo, common.Hash{}); err == nil {
		t.Fatalf("produced slot %d twice", skipTo)
	}

	// The Smoothing Pool holds the income due by slot 66 (792 s): 0.1 + 0.25 + 0.05 = 0.4 ETH (next is at 900 s).
	d := net.Deployment
	sp, err := client.BalanceAt(ctx, d.Addresses[contracts.NameSmoothingPool], nil)
	if err != nil || sp.String() != "400000000000000000" {
		t.Fatalf("smoothing pool = %v (%v), want 0.4 ETH", sp, err)
	}

	// Two of three members vote over HTTP; each vote is mined in the next slot.
	sub := bindings.RewardSubmission{
		RewardIndex: big.NewInt(0), ExecutionBlock: big.NewInt(64), ConsensusBlock: big.NewInt(64),
		MerkleRoot: common.HexToHash("0xabcd"), IntervalsPassed: big.NewInt(1), SmoothingPoolETH: sp,
		TreasuryRPL: big.NewInt(0), TreasuryETH: big.NewInt(0), UserETH: sp,
		TrustedNodeRPL: []*big.Int{big.NewInt(0)}, NodeRPL: []*big.Int{big.NewInt(0)}, NodeETH: []*big.Int{big.NewInt(0)},
	}
	for i := 0; i < 2; i++ {
		o, err := bind.NewKeyedTransactorWithChainID(net.Members[i].Key, chainID)
		if err != nil {
			t.Fatal(err)
		}
		o.Context = ctx
		tx, err := d.RewardsPool.SubmitRewardSnapshot(o, sub)
		if err != nil {
			t.Fatalf("vote %d: %v", i, err)
		}
		el.Commit()
		r, err := client.TransactionReceipt(ctx, tx.Hash())
		for tries := 0; err != nil && tries < 4; tries++ {
			el.Commit() // promoted late by the pool: next slot
			r, err = client.TransactionReceipt(ctx, tx.Hash())
		}
		if err != nil || r.Status != 1 {
			t.Fatalf("vote %d receipt: %v %v", i, r, err)
		}
	}
	it, err := d.RewardsPool.FilterRewardSnapshot(&bind.FilterOpts{Context: ctx}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() {
		t.Fatalf("no RewardSnapshot log (%v)", it.Error())
	}
	ev := it.Event
	if ev.Submission.MerkleRoot != sub.MerkleRoot || ev.IntervalStartTime.Uint64() != s.GenesisTime || ev.IntervalEndTime.Uint64() != s.GenesisTime+768 {
		t.Fatalf("RewardSnapshot root %x start %s end %s", ev.Submission.MerkleRoot, ev.IntervalStartTime, ev.IntervalEndTime)
	}
	blk, err := client.HeaderByNumber(ctx, new(big.Int).SetUint64(ev.Raw.BlockNumber))
	if err != nil || ev.Time.Uint64() != blk.Time {
		t.Fatalf("event time %s, block time %v (%v)", ev.Time, blk, err)
	}
}
