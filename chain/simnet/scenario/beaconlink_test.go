package scenario_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// Seeding happens in pre-genesis EL blocks; from beacon slot 0 on, every beacon block's execution payload is a
// real EL block at the slot's timestamp whose parent beacon root is the previous beacon block's root.
func TestBeaconPayloadsAreELBlocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	s := loadExample(t)
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	el, err := scenario.NewELNode(scenario.ELNodeConfig{Alloc: alloc, GenesisTime: s.GenesisTime, SecondsPerSlot: s.SecondsPerSlot, PreGenesisSlots: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	net, err := scenario.Seed(ctx, el.Client(), s, big.NewInt(scenario.ELChainID), el.Commit)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if el.GenesisSealed() {
		t.Fatal("seeding reached the beacon genesis slot")
	}
	genesisBlock, err := el.SealGenesis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gh, err := el.Client().HeaderByNumber(ctx, new(big.Int).SetUint64(genesisBlock))
	if err != nil || gh.Time != s.GenesisTime {
		t.Fatalf("EL block of slot 0 at %v (%v), want the genesis time %d", gh, err, s.GenesisTime)
	}

	link, err := scenario.NewLink(el)
	if err != nil {
		t.Fatal(err)
	}
	const head = 40
	bs := net.BeaconScenario(beacon.Scenario{Seed: 7, ValidatorCount: 256, HeadSlot: head, MissedSlotRate: 0.15, ELGenesisBlock: genesisBlock, ChainID: scenario.ELChainID})
	// Bob opts into the Smoothing Pool at 1700000400 (slot 33.3): force his proposals at slots 20 and 36.
	bobKey := "0xb1" + strings.Repeat("0", 90) + "0001"
	for i := range bs.ProtocolValidators {
		if bs.ProtocolValidators[i].Pubkey == bobKey {
			bs.ProtocolValidators[i].Proposals = []beacon.Proposal{{Slot: 20, Kind: beacon.ProposalLocal}, {Slot: 36, Kind: beacon.ProposalLocal}}
		}
	}
	chain, err := beacon.New(ctx, beacon.WithScenario(bs), beacon.WithExecutionProvider(link))
	if err != nil {
		t.Fatalf("beacon chain: %v", err)
	}
	link.Attach(chain)
	link.SetFeeRecipients(net.FeeRecipientAt)
	if err := link.Advance(ctx, head); err != nil {
		t.Fatalf("advance: %v", err)
	}

	prevBlockSlot := phase0.Slot(0)
	missed := 0
	for slot := phase0.Slot(1); slot <= head; slot++ {
		if chain.Missed(slot) {
			missed++
			continue
		}
		blk, err := chain.Block(ctx, slot)
		if err != nil {
			t.Fatalf("beacon block %d: %v", slot, err)
		}
		hash, err := blk.ExecutionBlockHash()
		if err != nil {
			t.Fatal(err)
		}
		number, err := blk.ExecutionBlockNumber()
		if err != nil {
			t.Fatal(err)
		}
		if want := chain.ELBlockNumber(slot); number != want {
			t.Fatalf("slot %d payload number %d, chain says %d", slot, number, want)
		}
		h, err := el.Client().HeaderByNumber(ctx, new(big.Int).SetUint64(number))
		if err != nil {
			t.Fatalf("EL block %d: %v", number, err)
		}
		if common.Hash(hash) != h.Hash() {
			t.Fatalf("slot %d payload hash %x, EL block %d hash %x", slot, hash, number, h.Hash())
		}
		if h.Time != s.SlotTime(uint64(slot)) {
			t.Fatalf("EL block %d time %d, slot %d time %d", number, h.Time, slot, s.SlotTime(uint64(slot)))
		}
		if h.ParentBeaconRoot == nil || *h.ParentBeaconRoot != common.Hash(chain.BlockRoot(prevBlockSlot)) {
			t.Fatalf("EL block %d parent beacon root %v, want root of slot %d", number, h.ParentBeaconRoot, prevBlockSlot)
		}
		prevBlockSlot = slot
	}
	// Bob's blocks pay his fee distributor before his opt-in and the Smoothing Pool after it.
	for slot, want := range map[phase0.Slot]common.Address{20: net.FeeDistributors["bob"], 36: net.Deployment.Addresses[contracts.NameSmoothingPool]} {
		h, err := el.Client().HeaderByNumber(ctx, new(big.Int).SetUint64(chain.ELBlockNumber(slot)))
		if err != nil {
			t.Fatal(err)
		}
		if h.Coinbase != want {
			t.Fatalf("slot %d (bob) coinbase %s, want %s", slot, h.Coinbase.Hex(), want.Hex())
		}
	}
	if missed == 0 {
		t.Fatal("no missed slot in 40 at a 15 % rate: the skip path was not exercised")
	}
	// One EL block per beacon block: the last payload number is the genesis block + the blocks after slot 0.
	last, err := el.Client().BlockNumber(ctx)
	if err != nil || last != genesisBlock+uint64(head-missed) {
		t.Fatalf("EL head %d (%v), want %d + %d blocks", last, err, genesisBlock, head-missed)
	}
	// Sweep withdrawals credit real balances on the EL: the withdrawals of the last block are in its body.
	lb, err := el.Client().BlockByNumber(ctx, new(big.Int).SetUint64(last))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(lb.Withdrawals()), len(chain.Withdrawals(prevBlockSlot)); got != want || got == 0 {
		t.Fatalf("EL block %d has %d withdrawals, beacon slot %d has %d", last, got, prevBlockSlot, want)
	}
	w := lb.Withdrawals()[0]
	bal, err := el.Client().BalanceAt(ctx, w.Address, new(big.Int).SetUint64(last))
	if err != nil || bal.Sign() == 0 {
		t.Fatalf("withdrawal address %s balance %v (%v) after a %d gwei withdrawal", w.Address.Hex(), bal, err, w.Amount)
	}
}
