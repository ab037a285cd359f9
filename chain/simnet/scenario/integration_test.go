//go:build integration

package scenario_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/gethtest"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// The two-interval scenario seeded on geth --dev; the oDAO reaches consensus over JSON-RPC and an external
// client reads the executed snapshot from the logs.
func TestScenarioOnGethDev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, dev := gethtest.StartDev(t, ctx)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := loadExample(t)
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	for addr := range alloc {
		gethtest.Fund(t, ctx, client, dev, addr, new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
	}
	start := time.Now()
	net, err := scenario.Seed(ctx, client, s, chainID, nil)
	if err != nil {
		t.Fatalf("seed on geth --dev: %v", err)
	}
	if _, err := net.ApplyUntil(ctx, 1700000768); err != nil {
		t.Fatalf("apply events: %v", err)
	}
	t.Logf("deployed and seeded in %s", time.Since(start))

	d := net.Deployment
	call := &bind.CallOpts{Context: ctx}
	spBal, err := client.BalanceAt(ctx, d.Addresses[contracts.NameSmoothingPool], nil)
	if err != nil || spBal.String() != "400000000000000000" { // 0.1 + 0.25 + 0.05 ETH paid by t = 1700000768
		t.Fatalf("smoothing pool = %v (%v), want 0.4 ETH", spBal, err)
	}
	sub := bindings.RewardSubmission{
		RewardIndex: big.NewInt(0), ExecutionBlock: big.NewInt(1), ConsensusBlock: big.NewInt(64),
		MerkleRoot: common.HexToHash("0x01"), IntervalsPassed: big.NewInt(1), SmoothingPoolETH: spBal,
		TreasuryRPL: big.NewInt(0), TreasuryETH: big.NewInt(0), UserETH: spBal,
		TrustedNodeRPL: []*big.Int{big.NewInt(0)}, NodeRPL: []*big.Int{big.NewInt(0)}, NodeETH: []*big.Int{big.NewInt(0)},
	}
	vote := func(i int) error {
		o, err := bind.NewKeyedTransactorWithChainID(net.Members[i].Key, chainID)
		if err != nil {
			return err
		}
		o.Context = ctx
		tx, err := d.RewardsPool.SubmitRewardSnapshot(o, sub)
		if err != nil {
			return err
		}
		r, err := bind.WaitMined(ctx, client, tx)
		if err != nil {
			return err
		}
		if r.Status != 1 {
			return fmt.Errorf("vote of member %d reverted", i)
		}
		return nil
	}
	if err := vote(0); err != nil {
		t.Fatal(err)
	}
	if err := vote(0); err == nil || !strings.Contains(err.Error(), "Duplicate submission from node") {
		t.Fatalf("duplicate vote: %v, want a revert", err)
	}
	if idx, _ := d.RewardsPool.GetRewardIndex(call); idx.Sign() != 0 {
		t.Fatal("executed with 1 of 3 votes")
	}
	if err := vote(1); err != nil { // 2/3 >= 0.51
		t.Fatal(err)
	}
	it, err := d.RewardsPool.FilterRewardSnapshot(&bind.FilterOpts{Start: 0, Context: ctx}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() {
		t.Fatalf("no RewardSnapshot log (%v)", it.Error())
	}
	if it.Event.Submission.MerkleRoot != sub.MerkleRoot || it.Event.IntervalEndTime.Uint64() != 1700000768 {
		t.Fatalf("RewardSnapshot = root %x end %s", it.Event.Submission.MerkleRoot, it.Event.IntervalEndTime)
	}
	rethBal, _ := client.BalanceAt(ctx, d.Addresses[contracts.NameTokenRETH], nil)
	if rethBal.Cmp(spBal) != 0 {
		t.Fatalf("rETH received %s, want %s", rethBal, spBal)
	}
}
