package scenario_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// The two-interval scenario runs in compressed time in-process; external clients (ethclient over HTTP and
// go-eth2-client over the Beacon API) read consistent state, and the oDAO closes interval 0 mid-run.
func TestRunTwoIntervalsInProcess(t *testing.T) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	s := loadExample(t)
	r, err := scenario.Start(ctx, scenario.RunConfig{
		Scenario:         s,
		SlotsPerSecond:   100,
		Intervals:        2,
		Beacon:           beacon.Scenario{Seed: 3, ValidatorCount: 512, MissedSlotRate: 0.05},
		KeystoreDir:      t.TempDir(),
		KeystorePassword: "simnet",
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer r.Close()
	if len(r.Keystores) != 3 {
		t.Fatalf("%d keystores, want 3", len(r.Keystores))
	}
	sum := r.Summary()
	for _, want := range []string{r.EL.URL(), r.Server.URL(), r.Net.Deployment.StorageAddress.Hex(), r.Keystores[2], "current interval:    0"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("summary lacks %q:\n%s", want, sum)
		}
	}
	// Interval 1 ends at 1536 s = slot 128; the run stops 4 epochs (32 slots) later.
	if r.StopSlot() != 160 {
		t.Fatalf("stop slot %d, want 160", r.StopSlot())
	}

	el, err := ethclient.DialContext(ctx, r.EL.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	cl, err := eth2http.New(ctx, eth2http.WithAddress(r.Server.URL()), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("go-eth2-client: %v", err)
	}
	gen, err := cl.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{})
	if err != nil || gen.Data.GenesisTime.Unix() != int64(s.GenesisTime) {
		t.Fatalf("beacon genesis %v (%v), want %d", gen, err, s.GenesisTime)
	}

	// Mid-run, once interval 0 (ends at slot 64) is behind, two members vote for a snapshot of it.
	d := r.Net.Deployment
	voted := false
	var voteErr error
	err = r.Run(ctx, func(head phase0.Slot) {
		if voted || head < 72 {
			return
		}
		voted = true
		sp, err := el.BalanceAt(ctx, d.Addresses[contracts.NameSmoothingPool], nil)
		if err != nil {
			voteErr = err
			return
		}
		sub := bindings.RewardSubmission{
			RewardIndex: big.NewInt(0), ExecutionBlock: big.NewInt(1), ConsensusBlock: big.NewInt(64),
			MerkleRoot: common.HexToHash("0x5157"), IntervalsPassed: big.NewInt(1), SmoothingPoolETH: sp,
			TreasuryRPL: big.NewInt(0), TreasuryETH: big.NewInt(0), UserETH: sp,
			TrustedNodeRPL: []*big.Int{big.NewInt(0)}, NodeRPL: []*big.Int{big.NewInt(0)}, NodeETH: []*big.Int{big.NewInt(0)},
		}
		pool, err := bindings.NewRocketRewardsPool(d.Addresses[contracts.NameRewardsPool], el)
		if err != nil {
			voteErr = err
			return
		}
		for i := 0; i < 2; i++ {
			o, err := bind.NewKeyedTransactorWithChainID(r.Net.Members[i].Key, big.NewInt(scenario.ELChainID))
			if err != nil {
				voteErr = err
				return
			}
			o.Context = ctx
			o.GasLimit = 1_000_000 // both votes go into the next slot's block; no estimate against the other
			if _, err := pool.SubmitRewardSnapshot(o, sub); err != nil {
				voteErr = err
				return
			}
		}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if voteErr != nil {
		t.Fatalf("vote: %v", voteErr)
	}
	if head := r.HeadSlot(); head < 160 {
		t.Fatalf("run stopped at slot %d, want 160", head)
	}
	if got := r.CurrentInterval(); got != 2 {
		t.Fatalf("current interval %d at slot 160 (1920 s), want 2", got)
	}
	idx, err := d.RewardsPool.GetRewardIndex(&bind.CallOpts{Context: ctx})
	if err != nil || idx.Int64() != 1 {
		t.Fatalf("reward index %v (%v), want 1 after the votes", idx, err)
	}

	// The beacon head's payload is the EL block with the same number and hash, at the head slot's time.
	resp, err := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: "head"})
	if err != nil {
		t.Fatalf("beacon head block: %v", err)
	}
	slot, _ := resp.Data.Slot()
	number, _ := resp.Data.ExecutionBlockNumber()
	hash, _ := resp.Data.ExecutionBlockHash()
	h, err := el.HeaderByNumber(ctx, new(big.Int).SetUint64(number))
	if err != nil {
		t.Fatalf("EL block %d: %v", number, err)
	}
	if h.Hash() != common.Hash(hash) || h.Time != s.SlotTime(uint64(slot)) {
		t.Fatalf("head slot %d payload %d/%x, EL block %x at %d", slot, number, hash, h.Hash(), h.Time)
	}
	elHead, err := el.BlockNumber(ctx)
	if err != nil || elHead != number {
		t.Fatalf("EL head %d (%v), beacon head payload %d", elHead, err, number)
	}
	// Timed events all applied (the last is at 1300 s, slot 109).
	if got := r.Net.PendingEvents(); got != 0 {
		t.Fatalf("%d timed events not applied", got)
	}
	if wall := time.Since(started); wall > time.Minute {
		t.Fatalf("2-interval run took %s, want under a minute", wall)
	}
	t.Logf("2 intervals (160 slots) in %s", time.Since(started))
}
