package contracts_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

const intervalTime = 28 * 24 * 3600

// submission builds a valid submission for a pool holding 100 pending RPL and 10 ETH in the Smoothing Pool:
// RPL 10 + 5 + 50 = 65 <= 100; ETH 0 + 6 + 4 = 10 <= 10.
func submission(index int64, root byte) bindings.RewardSubmission {
	return bindings.RewardSubmission{
		RewardIndex:      big.NewInt(index),
		ExecutionBlock:   big.NewInt(100),
		ConsensusBlock:   big.NewInt(200),
		MerkleRoot:       common.Hash{root},
		IntervalsPassed:  big.NewInt(1),
		SmoothingPoolETH: eth(10),
		TreasuryRPL:      eth(10),
		TreasuryETH:      big.NewInt(0),
		UserETH:          eth(6),
		TrustedNodeRPL:   []*big.Int{eth(5)},
		NodeRPL:          []*big.Int{eth(50)},
		NodeETH:          []*big.Int{eth(4)},
	}
}

// fundRewards sets 100 pending RPL and puts 10 ETH in the Smoothing Pool.
func (e *env) fundRewards() {
	e.t.Helper()
	e.must(e.d.RewardsPool.SimSetPendingRPLRewards(e.guardian, eth(100)))
	e.fundSmoothingPool(eth(10))
}

func (e *env) rewardIndex() int64 {
	e.t.Helper()
	i, err := e.d.RewardsPool.GetRewardIndex(e.call())
	if err != nil {
		e.t.Fatalf("reward index: %v", err)
	}
	return i.Int64()
}

func (e *env) submissionCount(s bindings.RewardSubmission) int64 {
	e.t.Helper()
	c, err := e.d.RewardsPool.GetSubmissionCount(e.call(), s)
	if err != nil {
		e.t.Fatalf("submission count: %v", err)
	}
	return c.Int64()
}

func (e *env) balance(a common.Address) *big.Int {
	e.t.Helper()
	b, err := e.client.BalanceAt(e.ctx, a, nil)
	if err != nil {
		e.t.Fatalf("balance of %s: %v", a.Hex(), err)
	}
	return b
}

func (e *env) rplBalance(a common.Address) *big.Int {
	e.t.Helper()
	b, err := e.d.TokenRPL.BalanceOf(e.call(), a)
	if err != nil {
		e.t.Fatalf("RPL balance of %s: %v", a.Hex(), err)
	}
	return b
}

func wantBig(t *testing.T, what string, got, want *big.Int) {
	t.Helper()
	if got.Cmp(want) != 0 {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// snapshotEvents returns the RewardSnapshot events in a receipt.
func (e *env) snapshotEvents(r *types.Receipt) []*bindings.RocketRewardsPoolRewardSnapshot {
	e.t.Helper()
	var out []*bindings.RocketRewardsPoolRewardSnapshot
	for _, l := range r.Logs {
		if ev, err := e.d.RewardsPool.ParseRewardSnapshot(*l); err == nil {
			out = append(out, ev)
		}
	}
	return out
}

// With 100 members the 0.51e18 threshold is met exactly by 51 votes:
// 1e18*50/100 = 0.50e18 < 0.51e18 (no execution), 1e18*51/100 = 0.51e18 >= 0.51e18 (execution).
func TestConsensusExecutesExactlyAt51Percent(t *testing.T) {
	e := newEnv(t, 101)
	e.addMembers(1, 100)
	e.fundRewards()
	s := submission(0, 0xaa)

	txs := make([]*types.Transaction, 0, 50)
	for i := 1; i <= 50; i++ {
		txs = append(txs, e.pending(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(i), s)))
	}
	for _, r := range e.mined(txs...) {
		if n := len(e.snapshotEvents(r)); n != 0 {
			t.Fatalf("snapshot executed before 51 votes")
		}
	}
	if got := e.submissionCount(s); got != 50 {
		t.Fatalf("submission count = %d, want 50", got)
	}
	if got := e.rewardIndex(); got != 0 {
		t.Fatalf("reward index after 50/100 votes = %d, want 0", got)
	}

	r := e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(51), s))
	evs := e.snapshotEvents(r)
	if len(evs) != 1 {
		t.Fatalf("RewardSnapshot events on the 51st vote = %d, want 1", len(evs))
	}
	ev := evs[0]
	if ev.RewardIndex.Int64() != 0 || ev.Submission.MerkleRoot != s.MerkleRoot {
		t.Fatalf("event index %s root %x, want 0 and %x", ev.RewardIndex, ev.Submission.MerkleRoot, s.MerkleRoot)
	}
	// Interval start 1000 s; end = 1000 + 1 interval of 2,419,200 s = 2,420,200.
	wantBig(t, "intervalStartTime", ev.IntervalStartTime, big.NewInt(1000))
	wantBig(t, "intervalEndTime", ev.IntervalEndTime, big.NewInt(1000+intervalTime))
	if got := e.rewardIndex(); got != 1 {
		t.Fatalf("reward index after execution = %d, want 1", got)
	}
	start, err := e.d.RewardsPool.GetClaimIntervalTimeStart(e.call())
	if err != nil {
		t.Fatal(err)
	}
	wantBig(t, "claimIntervalTimeStart", start, big.NewInt(1000+intervalTime))
	execBlock, err := e.d.RewardsPool.GetClaimIntervalExecutionBlock(e.call(), big.NewInt(0))
	if err != nil {
		t.Fatal(err)
	}
	wantBig(t, "execution block", execBlock, r.BlockNumber)

	// Money moved: SP 10 ETH -> rETH 6 + distributor 4; RPL 100 pending -> distributor 5+50, treasury 10, 35 left.
	wantBig(t, "smoothing pool balance", e.balance(e.d.Addresses[contracts.NameSmoothingPool]), big.NewInt(0))
	wantBig(t, "rETH balance", e.balance(e.d.Addresses[contracts.NameTokenRETH]), eth(6))
	wantBig(t, "distributor ETH", e.balance(e.d.Addresses[contracts.NameMerkleDistributorMainnet]), eth(4))
	wantBig(t, "distributor RPL", e.rplBalance(e.d.Addresses[contracts.NameMerkleDistributorMainnet]), eth(55))
	wantBig(t, "treasury RPL", e.rplBalance(e.d.Addresses[contracts.NameClaimDAO]), eth(10))
	pending, err := e.d.RewardsPool.GetPendingRPLRewards(e.call())
	if err != nil {
		t.Fatal(err)
	}
	wantBig(t, "pending RPL", pending, eth(35))
	root, err := e.d.MerkleDistributor.GetMerkleRoot(e.call(), big.NewInt(0))
	if err != nil {
		t.Fatal(err)
	}
	if root != s.MerkleRoot {
		t.Fatalf("relayed root %x, want %x", root, s.MerkleRoot)
	}
}

func TestDuplicateVoteReverts(t *testing.T) {
	e := newEnv(t, 4)
	e.addMembers(1, 3)
	e.fundRewards()
	s := submission(0, 0xbb)
	e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s))
	e.reverts("Duplicate submission from node")(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s))

	if got := e.submissionCount(s); got != 1 {
		t.Fatalf("submission count = %d, want 1", got)
	}
	for i, want := range map[int]bool{1: true, 2: false} {
		got, err := e.d.RewardsPool.GetTrustedNodeSubmitted(e.call(), e.addr(i), big.NewInt(0))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("getTrustedNodeSubmitted(member %d) = %v, want %v", i, got, want)
		}
	}
	// The per-member flag lives in RocketStorage under keccak256(abi.encode("rewards.snapshot.submitted.node", node, index)).
	flag, err := e.d.Storage.GetBool(e.call(), contracts.TrustedNodeSubmittedKey(e.addr(1), big.NewInt(0)))
	if err != nil {
		t.Fatal(err)
	}
	if !flag {
		t.Fatal("storage flag rewards.snapshot.submitted.node not set for member 1")
	}
}

// Votes are counted per exact struct: with 3 members, S1 and S2 (different userETH) each get one vote
// (1/3 < 0.51); a second vote for S2 gives 2/3 >= 0.51 and executes S2, not S1.
func TestDifferentTotalsCountSeparately(t *testing.T) {
	e := newEnv(t, 4)
	e.addMembers(1, 3)
	e.fundRewards()
	s1 := submission(0, 0x11)
	s2 := submission(0, 0x11)
	s2.UserETH = eth(5) // same root, different totals

	e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s1))
	e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(2), s2))
	if c1, c2 := e.submissionCount(s1), e.submissionCount(s2); c1 != 1 || c2 != 1 {
		t.Fatalf("counts S1=%d S2=%d, want 1 and 1", c1, c2)
	}
	if got := e.rewardIndex(); got != 0 {
		t.Fatalf("reward index = %d, want 0", got)
	}
	// The same member may vote for a different struct: that is not a duplicate.
	r := e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s2))
	evs := e.snapshotEvents(r)
	if len(evs) != 1 {
		t.Fatalf("RewardSnapshot events = %d, want 1", len(evs))
	}
	wantBig(t, "executed userETH", evs[0].Submission.UserETH, eth(5))
	if c1 := e.submissionCount(s1); c1 != 1 {
		t.Fatalf("count S1 = %d, want 1", c1)
	}
	// S2 paid 5 ETH to rETH; the remaining 1 ETH of the 10 ETH pool stays in the Smoothing Pool.
	wantBig(t, "rETH balance", e.balance(e.d.Addresses[contracts.NameTokenRETH]), eth(5))
	wantBig(t, "smoothing pool balance", e.balance(e.d.Addresses[contracts.NameSmoothingPool]), eth(1))
}

// executeRewardSnapshot: 2 of 4 votes (0.5e18 < 0.51e18) do not execute; after one member leaves, 2/3 does,
// and anyone may execute.
func TestExecuteRewardSnapshotAfterMemberLeaves(t *testing.T) {
	e := newEnv(t, 6)
	e.addMembers(1, 4)
	e.fundRewards()
	s := submission(0, 0x22)
	e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s))
	e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(2), s))
	if got := e.rewardIndex(); got != 0 {
		t.Fatalf("reward index = %d, want 0", got)
	}
	e.reverts("Consensus has not been reached")(e.d.RewardsPool.ExecuteRewardSnapshot(e.opts(5), s))
	e.must(e.d.DAONodeTrusted.SimRemoveMember(e.guardian, e.addr(4)))
	r := e.must(e.d.RewardsPool.ExecuteRewardSnapshot(e.opts(5), s))
	if len(e.snapshotEvents(r)) != 1 {
		t.Fatal("executeRewardSnapshot emitted no RewardSnapshot event")
	}
	if got := e.rewardIndex(); got != 1 {
		t.Fatalf("reward index = %d, want 1", got)
	}
	e.reverts("Can only execute snapshot for periods up to next")(e.d.RewardsPool.ExecuteRewardSnapshot(e.opts(5), s))
}

func TestSubmissionBoundsChecks(t *testing.T) {
	e := newEnv(t, 3)
	e.addMembers(1, 1)
	e.fundRewards()
	cases := []struct {
		name   string
		from   int
		mutate func(s *bindings.RewardSubmission)
		reason string
	}{
		{"non-member", 2, func(s *bindings.RewardSubmission) {}, "Invalid trusted node"},
		{"future index", 1, func(s *bindings.RewardSubmission) { s.RewardIndex = big.NewInt(1) }, "Can only submit snapshot for periods up to next"},
		{"zero intervals", 1, func(s *bindings.RewardSubmission) { s.IntervalsPassed = big.NewInt(0) }, "Invalid number of intervals passed"},
		{"array lengths", 1, func(s *bindings.RewardSubmission) { s.NodeETH = append(s.NodeETH, big.NewInt(0)) }, "Invalid array length"},
		// 100 + 5 + 50 = 155 > 100 pending.
		{"too much RPL", 1, func(s *bindings.RewardSubmission) { s.TreasuryRPL = eth(100) }, "Invalid RPL rewards"},
		// 0 + 7 + 4 = 11 > 10 (SP) + 0 (voter share).
		{"too much ETH", 1, func(s *bindings.RewardSubmission) { s.UserETH = eth(7) }, "Invalid ETH rewards"},
		{"SP ETH above balance", 1, func(s *bindings.RewardSubmission) { s.SmoothingPoolETH = eth(11) }, "Invalid smoothing pool ETH"},
	}
	for _, c := range cases {
		s := submission(0, 0x33)
		c.mutate(&s)
		tx, err := e.d.RewardsPool.SubmitRewardSnapshot(e.opts(c.from), s)
		t.Run(c.name, func(t *testing.T) { e.checkRevert(c.reason, tx, err) })
	}

	// With 1 ETH of pending voter share the 11 ETH payout fits: 11 <= 10 + 1. The single member's vote executes
	// and the extra ETH comes from the vault.
	o := e.opts(0)
	o.Value = eth(1)
	e.must(e.d.RewardsPool.Receive(o))
	s := submission(0, 0x44)
	s.UserETH = eth(7)
	r := e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), s))
	if len(e.snapshotEvents(r)) != 1 {
		t.Fatal("single-member vote did not execute")
	}
	wantBig(t, "rETH balance", e.balance(e.d.Addresses[contracts.NameTokenRETH]), eth(7))
	pvs, err := e.d.RewardsPool.GetPendingVoterShare(e.call())
	if err != nil {
		t.Fatal(err)
	}
	wantBig(t, "pending voter share", pvs, big.NewInt(0))

	e.must(e.d.SettingsNetwork.SetSettingBool(e.guardian, "network.submit.rewards.enabled", false))
	e.reverts("Submitting rewards is currently disabled")(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(1), submission(1, 0x55)))
}
