//go:build integration

package rewardsduty_test

import (
	"context"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/gethtest"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/sim"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// TestSubmissionOnGethDev: three members' rewards duties, each with its own transaction manager, vote a
// submission on a real geth --dev EL with the Rocket Pool simnet contracts: exactly one vote each until the
// second executes the snapshot; the RewardSnapshot event carries the submitted root; later ticks send nothing.
func TestSubmissionOnGethDev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, dev := gethtest.StartDev(t, ctx)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse(sim.DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	for addr := range alloc {
		var h common.Hash
		if err := client.Client().CallContext(ctx, &h, "eth_sendTransaction", map[string]any{"from": dev, "to": addr,
			"value": (*hexutil.Big)(new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))}); err != nil {
			t.Fatal(err)
		}
		if _, err := bind.WaitMinedHash(ctx, client, h); err != nil {
			t.Fatal(err)
		}
	}
	netw, err := scenario.Seed(ctx, client, s, chainID, nil)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	spBal, err := client.BalanceAt(ctx, netw.Deployment.Addresses[contracts.NameSmoothingPool], nil)
	if err != nil {
		t.Fatal(err)
	}
	// A submission within the contract's bounds (ETH ≤ the Smoothing Pool balance, no RPL).
	sub := &interval.Submission{RewardIndex: 0, ExecutionBlock: 1, ConsensusBlock: 159, MerkleRoot: common.HexToHash("0xabc1"),
		IntervalsPassed: 1, SmoothingPoolETH: spBal, TreasuryRPL: new(big.Int), TreasuryETH: new(big.Int), UserETH: spBal,
		TrustedNodeRPL: []*big.Int{new(big.Int)}, NodeRPL: []*big.Int{new(big.Int)}, NodeETH: []*big.Int{new(big.Int)}}

	type member struct {
		duty *rewardsduty.Duty
		st   *rewardsduty.State
		addr common.Address
	}
	var ms []member
	for _, acct := range netw.Members {
		signer, err := txmgr.NewKeySigner(acct.Key)
		if err != nil {
			t.Fatal(err)
		}
		mgr, err := txmgr.New(ctx, txmgr.WithBackend(client), txmgr.WithSigner(signer), txmgr.WithPollInterval(50*time.Millisecond), txmgr.WithTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		c, err := rewardsduty.NewContracts(ctx, client, netw.Deployment.StorageAddress)
		if err != nil {
			t.Fatal(err)
		}
		st, err := rewardsduty.OpenState(filepath.Join(t.TempDir(), "duty.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		// The generated interval (generation itself is covered by the simulated network).
		if err := st.Put(&rewardsduty.Record{Index: 0, Phase: rewardsduty.PhaseGenerated, Submission: sub}); err != nil {
			t.Fatal(err)
		}
		d, err := rewardsduty.New(ctx, rewardsduty.WithGenerator(notDue{}), rewardsduty.WithProtocol(c), rewardsduty.WithSender(mgr),
			rewardsduty.WithState(st), rewardsduty.WithOutputDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{d, st, acct.Address})
	}
	pool := netw.Deployment.RewardsPool
	call := &bind.CallOpts{Context: ctx}
	for round := 0; round < 2; round++ {
		for i, m := range ms {
			if _, err := m.duty.Tick(ctx); err != nil {
				t.Fatalf("member %d round %d: %v", i, round, err)
			}
		}
	}
	if idx, err := pool.GetRewardIndex(call); err != nil || idx.Uint64() != 1 {
		t.Fatalf("reward index %v (%v): snapshot not executed", idx, err)
	}
	it, err := pool.FilterRewardSnapshot(&bind.FilterOpts{Context: ctx}, nil)
	if err != nil || !it.Next() || it.Event.Submission.MerkleRoot != sub.MerkleRoot {
		t.Fatalf("RewardSnapshot event: %v", err)
	}
	// Members 0 and 1 voted once each (the second vote executed); member 2 found the index moved and sent nothing.
	for i, want := range []uint64{1, 1, 0} {
		n, err := client.NonceAt(ctx, ms[i].addr, nil)
		if err != nil || n != want {
			t.Fatalf("member %d sent %d transactions (%v), want %d", i, n, err, want)
		}
		rec, _ := ms[i].st.Get(0)
		if rec.Phase != rewardsduty.PhaseExecuted {
			t.Fatalf("member %d phase %s", i, rec.Phase)
		}
	}
}

type notDue struct{}

func (notDue) Generate(context.Context, int64) (*interval.Output, error) {
	return nil, interval.ErrNotDue
}
