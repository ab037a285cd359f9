package rewards

import (
	"math/big"
	"testing"
)

// All SP fixtures: SP balance 10 ETH, 10 epochs (one duty per validator and
// epoch), slots 3200..3519.

func TestBondReductionMidInterval(t *testing.T) {
	s := baseSnapshot("mainnet", 20) // v8: contract fee, no boost
	a, b := addr(0xa), addr(0xb)
	addNode(s, a, 0)
	addNode(s, b, 0)
	m := addMinipool(s, addr(0xa1), a, pk(1), 1, 8, 14)
	m.LastBondReductionTime = fxSlotTime(3360) // start of epoch 105
	m.LastBondReductionPrevValue = ether(16)
	m.LastBondReductionPrevNodeFee = perc(5)
	addMinipool(s, addr(0xb1), b, pk(2), 2, 16, 10)
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	fullDuties(t, bld, 2, 0)
	r := mustCompute(t, s, bld.Build())
	// M: epochs 100-104 before the reduction: 0.05 + 0.95*16/32 = 0.525 each;
	//    epochs 105-109 (105 exactly at the reduction → current): 0.14 + 0.86*8/32 = 0.355.
	//    score = 5*0.525 + 5*0.355 = 4.4e18
	// N: 10 * (0.10 + 0.90*16/32) = 10 * 0.55 = 5.5e18. Σ = 9.9e18, N = 20.
	// nodeOpTotal = 10e18 * 9.9e18 / 20 / 1e18 = 4.95e18
	// M = 4.95e18 * 4.4 / 9.9 = 2.2e18; N = 4.95e18 * 5.5 / 9.9 = 2.75e18; rETH 5.05e18
	wantInt(t, "M score", mpPerf(t, r, addr(0xa1)).AttestationScore, "4400000000000000000")
	wantInt(t, "A SP", nodeOf(t, r, a).SmoothingPoolETH, "2200000000000000000")
	wantInt(t, "B SP", nodeOf(t, r, b).SmoothingPoolETH, "2750000000000000000")
	wantInt(t, "pool staker", r.Totals.PoolStakerSmoothingPoolETH, "5050000000000000000")
}

func TestQ3OptInOptOutMidInterval(t *testing.T) {
	s := baseSnapshot("mainnet", 20)
	p, q, x := addr(0xa), addr(0xb), addr(0xc)
	np := addNode(s, p, 0)
	np.SmoothingPoolChangeTime = fxSlotTime(3360) // opted in at epoch 105
	nq := addNode(s, q, 0)
	nq.SmoothingPoolRegistered, nq.SmoothingPoolChangeTime = false, fxSlotTime(3360) // opted out at epoch 105
	nx := addNode(s, x, 0)
	nx.SmoothingPoolRegistered, nx.SmoothingPoolChangeTime = false, 0 // never
	addMinipool(s, addr(0xa1), p, pk(1), 1, 16, 10)
	addMinipool(s, addr(0xb1), q, pk(2), 2, 16, 10)
	addMinipool(s, addr(0xc1), x, pk(3), 3, 16, 10)
	bld := newBuilder(s)
	for i := uint64(1); i <= 3; i++ {
		fullDuties(t, bld, i, 0)
	}
	r := mustCompute(t, s, bld.Build())
	// P counts epochs 105-109 (duty at exactly the opt-in time counts): 5 duties.
	// Q counts epochs 100-105 (duty at exactly the opt-out time counts): 6 duties;
	// Q3: only the last change is known, so Q counts as "in" from time 0.
	// X never registered: nothing. Score 0.55 each: 2.75e18 + 3.3e18 = 6.05e18, N = 11.
	// nodeOpTotal = 10e18 * 6.05e18 / 11 / 1e18 = 5.5e18; P = 2.5e18; Q = 3.0e18.
	if got := mpPerf(t, r, addr(0xa1)).SuccessfulAttestations; got != 5 {
		t.Errorf("P duties = %d, want 5", got)
	}
	if got := mpPerf(t, r, addr(0xb1)).SuccessfulAttestations; got != 6 {
		t.Errorf("Q duties = %d, want 6", got)
	}
	wantInt(t, "P SP", nodeOf(t, r, p).SmoothingPoolETH, "2500000000000000000")
	wantInt(t, "Q SP", nodeOf(t, r, q).SmoothingPoolETH, "3000000000000000000")
	if hasNode(r, x) {
		t.Errorf("never-registered node got an entry")
	}
	wantInt(t, "pool staker", r.Totals.PoolStakerSmoothingPoolETH, "4500000000000000000")
}

func TestCheaterThreePenalties(t *testing.T) {
	s := baseSnapshot("mainnet", 30)
	c, d := addr(0xc), addr(0xd)
	addNode(s, c, 100)
	addNode(s, d, 100)
	m1 := addMinipool(s, addr(0xc1), c, pk(1), 1, 16, 10)
	m1.PenaltyCount = 3
	addMinipool(s, addr(0xc2), c, pk(2), 2, 16, 10)
	m3 := addMinipool(s, addr(0xd1), d, pk(3), 3, 16, 10)
	m3.Status, m3.PenaltyCount = MinipoolWithdrawable, 5 // not Staking: no effect
	addMinipool(s, addr(0xd2), d, pk(4), 4, 16, 10)
	bld := newBuilder(s)
	for i := uint64(1); i <= 4; i++ {
		fullDuties(t, bld, i, 0)
	}
	r := mustCompute(t, s, bld.Build())
	// Only D's staking minipool counts: 10 * 0.55 = 5.5e18, N = 10 → nodeOp = 5.5e18, all to D.
	if n := nodeOf(t, r, c); n.SmoothingPoolETH.Sign() != 0 || n.CollateralRPL.Sign() == 0 {
		t.Errorf("cheater: SP %s (want 0), collateral %s (want > 0)", n.SmoothingPoolETH, n.CollateralRPL)
	}
	wantInt(t, "D SP", nodeOf(t, r, d).SmoothingPoolETH, "5500000000000000000")
	if r.SuccessfulAttestations != 10 {
		t.Errorf("N = %d, want 10 (cheater duties are not tracked)", r.SuccessfulAttestations)
	}
}

func bonusSnapshot(index uint64) *Snapshot {
	s := baseSnapshot("mainnet", index)
	addNode(s, addr(0xa), 120) // 1.2 ETH of RPL / 24 borrowed = 5 % → boosted fee 10 % + 4 % * 0.5 = 12 %
	addMinipool(s, addr(0xa1), addr(0xa), pk(1), 1, 8, 5)
	return s
}

func TestV10BonusScaledWhenPoolShort(t *testing.T) {
	s := bonusSnapshot(30)
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	bld.AddWithdrawal(Withdrawal{Slot: 3300, ValidatorIndex: 1, AmountGwei: 200e9})
	bld.AddWithdrawal(Withdrawal{Slot: 3520, ValidatorIndex: 1, AmountGwei: 1e9}) // epoch 110: outside
	r := mustCompute(t, s, bld.Build())
	// score/duty = 0.12 + 0.88*8/32 = 0.34 → 3.4e18, N = 10 → minipool ETH = 10e18*3.4e18/10/1e18 = 3.4e18.
	// bonusShare = (0.12 - 0.05) * (32 - 8) / 32 = 0.0525; bonus = 200e18 * 0.0525 = 10.5e18.
	// remaining = 10e18 - 3.4e18 = 6.6e18 < 10.5e18 → bonus = 10.5e18 * 6.6e18 / 10.5e18 = 6.6e18,
	// bonusScalar = 6.6e18 * 1e18 / 10.5e18 = 628571428571428571.
	p := mpPerf(t, r, addr(0xa1))
	wantInt(t, "consensus income", p.ConsensusIncome, "200000000000000000000")
	wantInt(t, "bonus", p.BonusEthEarned, "6600000000000000000")
	wantInt(t, "effective commission", p.EffectiveCommission, "120000000000000000")
	wantInt(t, "bonus scalar", r.BonusScalar, "628571428571428571")
	wantInt(t, "node SP", nodeOf(t, r, addr(0xa)).SmoothingPoolETH, "10000000000000000000")
	wantInt(t, "pool staker", r.Totals.PoolStakerSmoothingPoolETH, "0")
}

func TestV10BonusAfterWithdrawableEpoch(t *testing.T) {
	s := bonusSnapshot(30)
	s.Validators[0].WithdrawableEpoch = 103
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	bld.AddWithdrawal(Withdrawal{Slot: 3200, ValidatorIndex: 1, AmountGwei: 1e8})   // 0.1 ETH, before: full
	bld.AddWithdrawal(Withdrawal{Slot: 3300, ValidatorIndex: 1, AmountGwei: 325e8}) // 32.5 ETH at epoch 103: 0.5 ETH
	r := mustCompute(t, s, bld.Build())
	// income 0.6 ETH; bonus = 0.6e18 * 0.0525 = 0.0315e18; no scaling; SP = 3.4e18 + 0.0315e18.
	p := mpPerf(t, r, addr(0xa1))
	wantInt(t, "consensus income", p.ConsensusIncome, "600000000000000000")
	wantInt(t, "bonus", p.BonusEthEarned, "31500000000000000")
	wantInt(t, "node SP", nodeOf(t, r, addr(0xa)).SmoothingPoolETH, "3431500000000000000")
	wantInt(t, "bonus scalar", r.BonusScalar, "1000000000000000000")
}

func TestQ1BoostedFeeAfterBonusWindow(t *testing.T) {
	for _, c := range []struct {
		index uint64
		score string
	}{
		{20, "2875000000000000000"}, // v8: 10 * (0.05 + 0.95*8/32) = 10 * 0.2875
		{52, "3250000000000000000"}, // v11 after window: pct 0 → fee 10 %: 10 * (0.10 + 0.90*0.25) = 10 * 0.325
	} {
		s := baseSnapshot("mainnet", c.index)
		addNode(s, addr(0xa), 0)
		addMinipool(s, addr(0xa1), addr(0xa), pk(1), 1, 8, 5)
		bld := newBuilder(s)
		fullDuties(t, bld, 1, 0)
		bld.AddWithdrawal(Withdrawal{Slot: 3300, ValidatorIndex: 1, AmountGwei: 1e9})
		r := mustCompute(t, s, bld.Build())
		p := mpPerf(t, r, addr(0xa1))
		wantInt(t, "score", p.AttestationScore, c.score)
		if p.ConsensusIncome != nil {
			t.Errorf("interval %d: bonus computed outside the bonus window", c.index)
		}
	}
}

func TestQ2InclusionCap(t *testing.T) {
	for _, c := range []struct {
		index          uint64
		success, missd uint64
	}{{30, 7, 3}, {51, 10, 0}} {
		s := baseSnapshot("mainnet", c.index)
		addNode(s, addr(0xa), 0)
		addMinipool(s, addr(0xa1), addr(0xa), pk(1), 1, 16, 10)
		bld := newBuilder(s)
		for e := uint64(100); e < 110; e++ {
			d := uint64(1)
			if e < 103 {
				d = 33 // 33 slots late
			}
			if e == 103 {
				d = 32 // exactly at the cap: counts
			}
			if err := bld.AddDuty(1, e*32, e*32+d); err != nil {
				t.Fatal(err)
			}
		}
		r := mustCompute(t, s, bld.Build())
		p := mpPerf(t, r, addr(0xa1))
		if p.SuccessfulAttestations != c.success || p.MissedAttestations != c.missd {
			t.Errorf("interval %d: %d/%d, want %d/%d", c.index, p.SuccessfulAttestations, p.MissedAttestations, c.success, c.missd)
		}
		if c.missd == 3 && (len(p.MissingAttestationSlots) != 3 || p.MissingAttestationSlots[0] != 3200) {
			t.Errorf("missing slots %v", p.MissingAttestationSlots)
		}
	}
}

func TestQ9DutyWindowEdges(t *testing.T) {
	s := baseSnapshot("mainnet", 30)
	s.ConsensusStartBlock, s.ConsensusEndBlock = 3205, 3510
	addNode(s, addr(0xa), 0)
	addMinipool(s, addr(0xa1), addr(0xa), pk(1), 1, 16, 10)
	addMinipool(s, addr(0xa2), addr(0xa), pk(2), 2, 16, 10)
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)  // slot 3200 is before 3205
	fullDuties(t, bld, 2, 31) // slot 3519 is after 3510
	r := mustCompute(t, s, bld.Build())
	for _, a := range []Address{addr(0xa1), addr(0xa2)} {
		if p := mpPerf(t, r, a); p.SuccessfulAttestations != 9 || p.MissedAttestations != 0 {
			t.Errorf("%s: %d/%d, want 9/0", a, p.SuccessfulAttestations, p.MissedAttestations)
		}
	}
}

// megapoolSnapshot: v11 interval 51, shares f 5 %, v 6 %, p 4 %, SP 10 ETH,
// PVS 1 ETH, one opted-in megapool node with NodeBond 8 ETH and 4 active
// validators of which 2 are still queued (b = 8/4 = 2 ETH).
func megapoolSnapshot() *Snapshot {
	s := baseSnapshot("mainnet", 51)
	s.NodeShare, s.VoterShare, s.ProtocolDAOShare, s.PendingVoterShare = perc(5), perc(6), perc(4), ether(1)
	n := addNode(s, addr(0xa), 0)
	n.MegapoolStakedRPL, n.MegapoolETHBonded = ether(100), ether(8)
	s.Megapools = []Megapool{{Address: addr(0xaa), Node: addr(0xa), NodeBond: ether(8), UserCapital: ether(56), ActiveValidatorCount: 4,
		Validators: []MegapoolValidator{
			{ID: 0, Pubkey: pk(10), Staked: true, LastRequestedValue: 32000, LastRequestedBond: 4000},
			{ID: 1, Pubkey: pk(11), Staked: true, LastRequestedValue: 32000, LastRequestedBond: 4000},
			{ID: 2, Pubkey: pk(12), LastRequestedValue: 32000, LastRequestedBond: 4000}, // queued
			{ID: 3, Pubkey: pk(13), LastRequestedValue: 32000, LastRequestedBond: 4000}, // queued
		}}}
	for i, key := range []Pubkey{pk(10), pk(11)} {
		s.Validators = append(s.Validators, BeaconValidator{Pubkey: key, Index: uint64(10 + i), Status: "active_ongoing", ActivationEpoch: 1, ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
	}
	return s
}

func TestQ4MegapoolQueuedValidatorsDiluteBond(t *testing.T) {
	s := megapoolSnapshot()
	bld := newBuilder(s)
	fullDuties(t, bld, 10, 0)
	fullDuties(t, bld, 11, 1)
	r := mustCompute(t, s, bld.Build())
	// b = 8/4 = 2 ETH. Per duty: score = (2 + 32*0.05 - 0.05*2)/32 = 3.5/32 = 0.109375;
	// voter = 0.06*30/32 = 0.05625; pdao = 0.04*30/32 = 0.0375. N = 20.
	// totals: score 2.1875e18, voter 1.125e18, pdao 0.75e18.
	// pdaoEth = 10e18*0.75e18/20/1e18 = 0.375e18; spVoter = 10*1.125/20 = 0.5625e18;
	// voterPot = 0.5625 + PVS 1 = 1.5625e18 (one voter: min(100 RPL, 8*1.5/0.01 = 1200 RPL)).
	// nodeOpIdeal = 10*2.1875/20 = 1.09375e18 → 0.546875e18 per validator.
	// rETH = 10 + 1 - 1.09375 - 0.375 - 1.5625 = 7.96875e18
	n := nodeOf(t, r, addr(0xa))
	wantInt(t, "node SP", n.SmoothingPoolETH, "1093750000000000000")
	wantInt(t, "voter", n.VoterShareETH, "1562500000000000000")
	wantInt(t, "pDAO ETH", r.Totals.TotalPDAOShareETH, "375000000000000000")
	wantInt(t, "SP voter", r.Totals.SmoothingPoolVoterShareETH, "562500000000000000")
	wantInt(t, "rETH", r.Totals.PoolStakerSmoothingPoolETH, "7968750000000000000")
	wantInt(t, "network SP (incl. voter)", r.Networks[0].SmoothingPoolETH, "2656250000000000000")
	if len(r.Megapools) != 1 || len(r.Megapools[0].Validators) != 2 {
		t.Fatalf("megapool performance: %+v", r.Megapools)
	}
	wantInt(t, "validator ETH", r.Megapools[0].Validators[0].EthEarned, "546875000000000000")
	wantInt(t, "validator score", r.Megapools[0].Validators[0].AttestationScore, "1093750000000000000")
}

func TestQ5CurrentRevenueShares(t *testing.T) {
	// Only the snapshot's current shares exist in the input; scoring must use
	// exactly them: raising the node share to 10 % changes every duty score to
	// (2 + 32*0.10 - 0.10*2)/32 = 5/32 = 0.15625.
	s := megapoolSnapshot()
	s.NodeShare = perc(10)
	bld := newBuilder(s)
	fullDuties(t, bld, 10, 0)
	r := mustCompute(t, s, bld.Build())
	wantInt(t, "score", r.Megapools[0].Validators[0].AttestationScore, "1562500000000000000")
}

func TestAllExitedMegapoolAndPVSToRETH(t *testing.T) {
	s := megapoolSnapshot()
	s.Megapools[0].NodeBond, s.Megapools[0].ActiveValidatorCount = ether(0), 0
	s.Megapools[0].Validators = s.Megapools[0].Validators[:1]
	s.Megapools[0].Validators[0].Exited = true
	s.Nodes[0].MegapoolETHBonded = ether(0) // vote-eligible RPL = min(100, 0) = 0 → total VER 0
	s.Validators = s.Validators[:1]
	s.Validators[0].Status, s.Validators[0].ExitEpoch = "exited_unslashed", 200
	bld := newBuilder(s)
	fullDuties(t, bld, 10, 0)
	r := mustCompute(t, s, bld.Build())
	// b = 0 → score = f = 0.05/duty: 0.5e18; voter 0.6e18; pdao 0.4e18; N = 10.
	// nodeOp = 10*0.5/10 = 0.5e18; pdaoEth = 0.4e18; spVoter = 0.6e18 but no voter (VER 0):
	// Q6: spVoter and PVS flow to rETH = 10 + 1 - 0.5 - 0.4 - 0 = 10.1e18.
	wantInt(t, "node SP", nodeOf(t, r, addr(0xa)).SmoothingPoolETH, "500000000000000000")
	wantInt(t, "SP voter", r.Totals.SmoothingPoolVoterShareETH, "600000000000000000")
	wantInt(t, "voter paid", r.Totals.TotalVoterShareETH, "0")
	wantInt(t, "rETH", r.Totals.PoolStakerSmoothingPoolETH, "10100000000000000000")
}

func TestQ6PVSWithZeroVoterScore(t *testing.T) {
	s := baseSnapshot("mainnet", 51)
	s.PendingVoterShare, s.VoterShare = ether(1), perc(6)
	addNode(s, addr(0xa), 0)
	addMinipool(s, addr(0xa1), addr(0xa), pk(1), 1, 16, 10)
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	r := mustCompute(t, s, bld.Build())
	// minipools only: voter score 0 → voterPot 0. nodeOp = 10*5.5/10 = 5.5e18;
	// rETH = 10 + 1 (PVS) - 5.5 = 5.5e18.
	wantInt(t, "rETH", r.Totals.PoolStakerSmoothingPoolETH, "5500000000000000000")
	wantInt(t, "voter", r.Totals.TotalVoterShareETH, "0")
	// SP == 0: nothing distributed, PVS included.
	s.SmoothingPoolBalance = ether(0)
	r = mustCompute(t, s, bld.Build())
	wantInt(t, "rETH with SP 0", r.Totals.PoolStakerSmoothingPoolETH, "0")
	wantInt(t, "node op with SP 0", r.Totals.NodeOperatorSmoothingPoolETH, "0")
}

func TestQ7Q8VoterShareWithoutSP(t *testing.T) {
	s := megapoolSnapshot()
	n := addNode(s, addr(0xb), 0)
	n.SmoothingPoolRegistered, n.SmoothingPoolChangeTime = false, 0
	n.MegapoolStakedRPL, n.MegapoolETHBonded = ether(100), ether(8)
	s.Megapools = append(s.Megapools, Megapool{Address: addr(0xbb), Node: addr(0xb), NodeBond: ether(4), ActiveValidatorCount: 1,
		Validators: []MegapoolValidator{{ID: 0, Pubkey: pk(20), Staked: true}}})
	s.Validators = append(s.Validators, BeaconValidator{Pubkey: pk(20), Index: 20, Status: "active_ongoing", ActivationEpoch: 1, ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
	bld := newBuilder(s)
	fullDuties(t, bld, 10, 0)
	fullDuties(t, bld, 11, 1)
	fullDuties(t, bld, 20, 2) // not opted in: not scored
	r := mustCompute(t, s, bld.Build())
	// Same pot as Q4: voterPot 1.5625e18, split evenly over two 100-RPL voters.
	wantInt(t, "opted-in voter", nodeOf(t, r, addr(0xa)).VoterShareETH, "781250000000000000")
	nb := nodeOf(t, r, addr(0xb))
	wantInt(t, "Q7 not opted in voter", nb.VoterShareETH, "781250000000000000")
	wantInt(t, "Q7 not opted in SP", nb.SmoothingPoolETH, "0")
	// Q8: the performance file carries voterShare only for the megapool without validator entries.
	for _, m := range r.Megapools {
		switch m.Address {
		case addr(0xaa):
			if m.VoterShare != nil || len(m.Validators) != 2 {
				t.Errorf("Q8: megapool with validators: %+v", m)
			}
		case addr(0xbb):
			if m.VoterShare == nil || len(m.Validators) != 0 {
				t.Errorf("Q8: megapool without validators: %+v", m)
			}
		}
	}
	if len(r.Megapools) != 2 {
		t.Errorf("want 2 megapool performance entries, got %d", len(r.Megapools))
	}
	_ = big.NewInt
}

func TestV10BonusNeedsARegistrationChange(t *testing.T) {
	// IsEligibleForBonuses: a node whose SP registration never changed (time 0)
	// gets no bonus even when its state reads "registered".
	s := bonusSnapshot(30)
	s.Nodes[0].SmoothingPoolChangeTime = 0
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	bld.AddWithdrawal(Withdrawal{Slot: 3300, ValidatorIndex: 1, AmountGwei: 1e9})
	r := mustCompute(t, s, bld.Build())
	if p := mpPerf(t, r, addr(0xa1)); p.ConsensusIncome != nil {
		t.Errorf("bonus computed for a node that never changed its registration")
	}
	wantInt(t, "node SP (attestations only)", nodeOf(t, r, addr(0xa)).SmoothingPoolETH, "3400000000000000000")
}

func TestV11VoterShareNeedsAKeptValidator(t *testing.T) {
	// A megapool whose only validator has no usable beacon status (pending)
	// keeps no validator: no vote-eligible RPL, no voter share, not eligible.
	s := megapoolSnapshot()
	n := addNode(s, addr(0xb), 0)
	n.MegapoolStakedRPL, n.MegapoolETHBonded = ether(100), ether(8)
	s.Megapools = append(s.Megapools, Megapool{Address: addr(0xbb), Node: addr(0xb), NodeBond: ether(4), ActiveValidatorCount: 1,
		Validators: []MegapoolValidator{{ID: 0, Pubkey: pk(20), InPrestake: true, LastRequestedValue: 32000, LastRequestedBond: 4000}}})
	s.Validators = append(s.Validators, BeaconValidator{Pubkey: pk(20), Index: 20, Status: "pending_queued", ActivationEpoch: FarFutureEpoch, ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
	bld := newBuilder(s)
	fullDuties(t, bld, 10, 0)
	fullDuties(t, bld, 11, 1)
	r := mustCompute(t, s, bld.Build())
	if hasNode(r, addr(0xb)) {
		t.Errorf("node without a kept megapool validator got an entry: %+v", nodeOf(t, r, addr(0xb)))
	}
	// The only voter is node A, as in Q4: 1.5625e18.
	wantInt(t, "voter", nodeOf(t, r, addr(0xa)).VoterShareETH, "1562500000000000000")
}

func TestV10BonusWithdrawalsClippedByOptOutAndBondReduction(t *testing.T) {
	// Node opted out at slot 3360: withdrawals credited only strictly before
	// (WasOptedInAt). Minipool reduced its bond at slot 3300: withdrawals
	// credited only strictly after the reduction (IsEligibleForBonuses).
	s := bonusSnapshot(30)
	s.Nodes[0].SmoothingPoolRegistered, s.Nodes[0].SmoothingPoolChangeTime = false, fxSlotTime(3360)
	m := &s.Minipools[0]
	m.LastBondReductionTime, m.LastBondReductionPrevValue, m.LastBondReductionPrevNodeFee = fxSlotTime(3300), ether(16), perc(5)
	bld := newBuilder(s)
	fullDuties(t, bld, 1, 0)
	for _, w := range []Withdrawal{
		{Slot: 3250, ValidatorIndex: 1, AmountGwei: 1e9}, // before the reduction: not eligible
		{Slot: 3300, ValidatorIndex: 1, AmountGwei: 2e9}, // at the reduction: not eligible (strictly before T needed)
		{Slot: 3301, ValidatorIndex: 1, AmountGwei: 4e8}, // eligible: 0.4 ETH
		{Slot: 3359, ValidatorIndex: 1, AmountGwei: 1e8}, // eligible: 0.1 ETH
		{Slot: 3360, ValidatorIndex: 1, AmountGwei: 8e9}, // at the opt-out: not opted in (strictly before needed)
		{Slot: 3400, ValidatorIndex: 1, AmountGwei: 8e9}, // after the opt-out
	} {
		bld.AddWithdrawal(w)
	}
	r := mustCompute(t, s, bld.Build())
	p := mpPerf(t, r, addr(0xa1))
	wantInt(t, "consensus income", p.ConsensusIncome, "500000000000000000")
	// eligibleEnd = min(opt-out, elEnd) = slot 3360's time: after the reduction, so
	// current bond/fee (8 ETH, 5 %) → fee' 12 %, bonus 0.5e18 * 0.0525 = 0.02625e18.
	wantInt(t, "bonus", p.BonusEthEarned, "26250000000000000")
}
