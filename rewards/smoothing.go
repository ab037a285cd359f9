package rewards

import (
	"fmt"
	"math/big"
)

type dutyRef struct {
	mp *mpState
	mv *mvState
}

// setEligibility applies the cheater rule and the SP eligibility rule, keeps
// megapool validators (v11) and sets vote-eligible RPL (§4.2, §6.2, §6.3).
func (c *calc) setEligibility() {
	price := c.s.RPLPrice.Big()
	for _, n := range c.nodes {
		staking := 0
		for _, m := range n.minipools {
			if m.mp.Status != MinipoolStaking {
				continue
			}
			staking++
			if m.mp.PenaltyCount >= 3 {
				n.cheater = true
			}
		}
		if n.cheater {
			continue
		}
		kept := 0
		if c.rs == RulesetV11 && n.mega != nil {
			for i := range n.mega.m.Validators {
				v := &n.mega.m.Validators[i]
				b := c.spView[v.Pubkey]
				if b == nil || !(v.Staked || v.InPrestake || v.Exiting || v.Exited) {
					continue
				}
				n.mega.kept = append(n.mega.kept, &mvState{v: v, mega: n.mega, beacon: b, score: new(big.Int), eth: new(big.Int)})
				kept++
			}
			if kept > 0 {
				n.hasKeptMegaValidators = true
				if ms := n.n.MegapoolStakedRPL.Big(); ms.Sign() > 0 {
					maxVote := mulDiv(n.n.MegapoolETHBonded.Big(), coll150, price)
					n.voteEligibleRPL = new(big.Int).Set(bigMin(ms, maxVote))
				}
			}
		}
		n.eligible = staking > 0 || kept > 0
	}
}

// wasActive is the minipool activity filter of §4.4.
func (c *calc) wasActive(v *BeaconValidator) bool {
	if v == nil || v.ActivationEpoch == FarFutureEpoch {
		return false
	}
	if v.ActivationEpoch > c.s.ConsensusEndBlock/32 || v.ActivationEpoch*32 > c.s.ConsensusEndBlock {
		return false
	}
	if v.ExitEpoch < FarFutureEpoch/32 && v.ExitEpoch*32 < c.s.ConsensusStartBlock {
		return false
	}
	return true
}

// scanDuties applies the duty rules (§4.5, §4.6) to the duty record.
func (c *calc) scanDuties() {
	s := c.s
	refs := make(map[uint64]dutyRef)
	for _, n := range c.nodes {
		if !n.eligible {
			continue
		}
		for _, m := range n.minipools {
			if m.mp.Status == MinipoolStaking && m.beacon != nil {
				refs[m.beacon.Index] = dutyRef{mp: m}
			}
		}
		if n.mega != nil {
			for _, v := range n.mega.kept {
				if v.v.Staked { // no time check; staked is never cleared on exit
					refs[v.beacon.Index] = dutyRef{mv: v}
				}
			}
		}
	}
	noCap := c.rs == RulesetV11
	for i := range c.d.Validators {
		vd := &c.d.Validators[i]
		r, ok := refs[vd.Index]
		if !ok {
			continue
		}
		var node *nodeState
		var statusTime, lastReduce uint64
		if r.mp != nil {
			node = r.mp.node
			statusTime = r.mp.mp.StatusTime
			lastReduce = r.mp.mp.LastBondReductionTime
		} else {
			node = r.mv.mega.node
		}
		for e, b := range vd.Duties {
			if b == DutyNone {
				continue
			}
			slot := (c.d.FirstEpoch+uint64(e))*32 + uint64(b&31)
			if slot < s.ConsensusStartBlock || slot > s.ConsensusEndBlock { // Q9
				continue
			}
			t := s.GenesisTime + slot*s.SecondsPerSlot
			if !node.countsAt(t) {
				continue
			}
			incl := b >> 5
			hit := incl == InclusionInWindow || (noCap && incl == InclusionLate)
			if r.mp != nil {
				if t < statusTime {
					continue
				}
				if !hit {
					r.mp.missed++
					r.mp.missing = append(r.mp.missing, slot)
				} else if lastReduce != 0 && lastReduce > t {
					r.mp.nBefore++
				} else {
					r.mp.nAfter++
				}
			} else {
				if hit {
					r.mv.n++
				} else {
					r.mv.missed++
					r.mv.missing = append(r.mv.missing, slot)
				}
			}
		}
	}
}

// minipoolDutyScore is the score of one successful duty of m with the bond
// and fee in force before (true) or after its last bond reduction.
func (c *calc) minipoolDutyScore(m *mpState, before bool) *big.Int {
	var bond, fee *big.Int
	if before {
		bond, fee = bondAndFeeAt(m.mp, m.mp.LastBondReductionTime-1)
	} else {
		bond, fee = m.mp.NodeDepositBalance.Big(), m.mp.NodeFee.Big()
	}
	if c.rs >= RulesetV10 {
		fee = FeeWithBonus(bond, fee, m.node.pct) // Q1: always in scoring
	}
	return MinipoolScore(bond, fee)
}

func (c *calc) computeSmoothingPool() error {
	s := c.s
	t := &c.res.Totals
	sp := s.SmoothingPoolBalance.Big()
	pvs := new(big.Int)
	if c.rs == RulesetV11 {
		pvs.Set(s.PendingVoterShare.Big())
	}
	c.setEligibility()
	if s.Index == 0 || sp.Sign() == 0 {
		return nil // §4.1: no SP rewards; v11: PVS stays in the vault
	}
	t.TotalSmoothingPoolETH = new(big.Int).Set(sp)
	t.PendingVoterShare = pvs

	for _, m := range c.mps {
		m.wasActive = c.wasActive(m.beacon)
	}
	c.scanDuties()

	// Scores.
	var n uint64
	totalScore, totalVoter, totalPdao := new(big.Int), new(big.Int), new(big.Int)
	for _, node := range c.nodes {
		if !node.eligible {
			continue
		}
		for _, m := range node.minipools {
			if m.nBefore > 0 {
				m.score.Add(m.score, new(big.Int).Mul(bi(m.nBefore), c.minipoolDutyScore(m, true)))
			}
			if m.nAfter > 0 {
				m.score.Add(m.score, new(big.Int).Mul(bi(m.nAfter), c.minipoolDutyScore(m, false)))
			}
			totalScore.Add(totalScore, m.score)
			n += m.nBefore + m.nAfter
		}
		if node.mega != nil && len(node.mega.kept) > 0 {
			sc, vsc, psc := MegapoolScores(node.mega.b, s.NodeShare.Big(), s.VoterShare.Big(), s.ProtocolDAOShare.Big())
			for _, v := range node.mega.kept {
				if v.n == 0 {
					continue
				}
				k := bi(v.n)
				v.score.Mul(sc, k)
				totalScore.Add(totalScore, v.score)
				totalVoter.Add(totalVoter, new(big.Int).Mul(vsc, k))
				totalPdao.Add(totalPdao, new(big.Int).Mul(psc, k))
				n += v.n
			}
		}
	}
	c.res.SuccessfulAttestations = n
	c.res.TotalAttestationScore = totalScore

	if c.rs == RulesetV11 {
		return c.payoutV11(sp, pvs, n, totalScore, totalVoter, totalPdao)
	}
	return c.payoutV8V10(sp, n, totalScore)
}

func (c *calc) payoutV8V10(sp *big.Int, n uint64, totalScore *big.Int) error {
	t := &c.res.Totals
	if totalScore.Sign() == 0 || n == 0 {
		t.PoolStakerSmoothingPoolETH = new(big.Int).Set(sp)
		return nil
	}
	nodeOpTotal := new(big.Int).Mul(sp, totalScore)
	nodeOpTotal.Quo(nodeOpTotal, bi(n))
	nodeOpTotal.Quo(nodeOpTotal, eth1)
	sumMp := c.payMinipools(nodeOpTotal, totalScore)
	bonus := new(big.Int)
	if c.rs == RulesetV10 {
		var err error
		remaining := new(big.Int).Sub(sp, sumMp)
		if bonus, err = c.payBonuses(remaining); err != nil {
			return err
		}
	}
	t.NodeOperatorSmoothingPoolETH = new(big.Int).Add(sumMp, bonus)
	t.PoolStakerSmoothingPoolETH = new(big.Int).Sub(sp, t.NodeOperatorSmoothingPoolETH)
	return nil
}

// payMinipools pays every tracked minipool of an eligible node its share of
// nodeOpTotal (0 without duties or when not active) and returns the sum.
func (c *calc) payMinipools(nodeOpTotal, totalScore *big.Int) *big.Int {
	sum := new(big.Int)
	for _, node := range c.nodes {
		if !node.eligible {
			continue
		}
		for _, m := range node.minipools {
			if m.mp.Status != MinipoolStaking {
				continue
			}
			if m.nBefore+m.nAfter+m.missed == 0 || !m.wasActive {
				continue
			}
			m.eth = mulDiv(nodeOpTotal, m.score, totalScore)
			node.sp.Add(node.sp, m.eth)
			sum.Add(sum, m.eth)
		}
	}
	return sum
}

// nodeBonusWindow is node.IsEligibleForBonuses(elStart, elEnd) of §5.3.
func (n *nodeState) bonusEligible(elEnd uint64) (bool, uint64) {
	switch {
	case n.changeTime == 0: // never changed: not eligible, even if registered
		return false, 0
	case n.registered:
		return n.optIn < elEnd, elEnd
	default:
		return n.optOut < elEnd, min(n.optOut, elEnd)
	}
}

func mpBonusEligibleAt(mp *Minipool, t uint64) bool {
	return mp.Status == MinipoolStaking && mp.NodeDepositBalance.Big().Cmp(eth16) < 0 &&
		(mp.LastBondReductionTime == 0 || mp.LastBondReductionTime < t)
}

// payBonuses computes the consensus-income bonuses (§5.3), scales them down
// when remaining cannot cover them, adds them to the nodes and returns their
// sum.
func (c *calc) payBonuses(remaining *big.Int) (*big.Int, error) {
	s := c.s
	byIndex := make(map[uint64]*mpState)
	for _, node := range c.nodes {
		if !node.eligible {
			continue
		}
		for _, m := range node.minipools {
			if m.beacon != nil {
				byIndex[m.beacon.Index] = m
			}
		}
	}
	startEpoch, endEpoch := s.ConsensusStartBlock/32, s.ConsensusEndBlock/32
	income := make(map[*mpState]*big.Int)
	for _, w := range c.d.Withdrawals {
		if w.Slot/32 < startEpoch || w.Slot/32 > endEpoch {
			continue
		}
		m := byIndex[w.ValidatorIndex]
		if m == nil {
			continue
		}
		t := c.slotTime(w.Slot)
		if !m.node.wasOptedInAt(t) || !mpBonusEligibleAt(m.mp, t) {
			continue
		}
		amt := new(big.Int).Mul(bi(w.AmountGwei), big.NewInt(1e9))
		we := m.beacon.WithdrawableEpoch
		if we < FarFutureEpoch/32 && w.Slot >= we*32 {
			amt.Sub(amt, eth32)
			if amt.Sign() < 0 {
				amt.SetInt64(0)
			}
		}
		if income[m] == nil {
			income[m] = new(big.Int)
		}
		income[m].Add(income[m], amt)
	}

	total := new(big.Int)
	var bonused []*mpState
	for _, node := range c.nodes {
		if !node.eligible {
			continue
		}
		ok, end := node.bonusEligible(s.ELEndTime)
		if !ok {
			continue
		}
		for _, m := range node.minipools {
			if !mpBonusEligibleAt(m.mp, end) {
				continue
			}
			bond, fee := bondAndFeeAt(m.mp, end)
			fwb := FeeWithBonus(bond, fee, node.pct)
			if fee.Cmp(fwb) >= 0 {
				continue
			}
			if fwb.Cmp(fee14) > 0 {
				return nil, fmt.Errorf("minipool %s: boosted fee %s above 14%%", m.mp.Address, fwb)
			}
			share := new(big.Int).Sub(fwb, m.mp.NodeFee.Big())
			share.Mul(share, new(big.Int).Sub(eth32, m.mp.NodeDepositBalance.Big()))
			share.Quo(share, eth32)
			ci := income[m]
			if ci == nil {
				ci = new(big.Int)
			}
			b := mulDiv(ci, share, eth1)
			if b.Sign() < 0 {
				b.SetInt64(0)
			}
			m.consensusIncome, m.bonus, m.effCommission, m.hasBonusEntry = new(big.Int).Set(ci), b, fwb, true
			node.bonus.Add(node.bonus, b)
			total.Add(total, b)
			bonused = append(bonused, m)
		}
	}
	paid := new(big.Int)
	if total.Sign() > 0 && remaining.Cmp(total) < 0 {
		for _, node := range c.nodes {
			node.bonus = mulDiv(node.bonus, remaining, total)
		}
		for _, m := range bonused {
			m.bonus = mulDiv(m.bonus, remaining, total)
		}
		c.res.BonusScalar = mulDiv(remaining, eth1, total)
	}
	for _, node := range c.nodes {
		node.sp.Add(node.sp, node.bonus)
		paid.Add(paid, node.bonus)
	}
	return paid, nil
}

func (c *calc) payoutV11(sp, pvs *big.Int, n uint64, totalScore, totalVoter, totalPdao *big.Int) error {
	t := &c.res.Totals
	div := func(score *big.Int) *big.Int {
		if score.Sign() <= 0 || n == 0 {
			return new(big.Int)
		}
		r := new(big.Int).Mul(sp, score)
		r.Quo(r, bi(n))
		return r.Quo(r, eth1)
	}
	pdaoEth := div(totalPdao)
	spVoter := div(totalVoter)
	voterPot := new(big.Int)
	if totalVoter.Sign() > 0 {
		voterPot.Add(spVoter, pvs) // Q6: PVS ignored if no megapool SP attestations
	}
	totalVER := new(big.Int)
	for _, node := range c.nodes {
		if node.mega != nil {
			totalVER.Add(totalVER, node.voteEligibleRPL) // Q7: SP membership not required
		}
	}
	trueVoter := new(big.Int)
	if totalVER.Sign() > 0 {
		for _, node := range c.nodes {
			if node.mega != nil && node.voteEligibleRPL.Sign() > 0 {
				node.voterEth = mulDiv(node.voteEligibleRPL, voterPot, totalVER)
				trueVoter.Add(trueVoter, node.voterEth)
			}
		}
	}
	t.SmoothingPoolVoterShareETH = spVoter
	t.TotalVoterShareETH = trueVoter
	t.TotalPDAOShareETH = pdaoEth

	if totalScore.Sign() == 0 || n == 0 {
		ps := new(big.Int).Sub(sp, spVoter)
		t.PoolStakerSmoothingPoolETH = ps.Sub(ps, pdaoEth)
		c.res.scoreZero = true
		return nil
	}

	nodeOpIdeal := new(big.Int).Mul(sp, totalScore)
	nodeOpIdeal.Quo(nodeOpIdeal, bi(n))
	nodeOpIdeal.Quo(nodeOpIdeal, eth1)
	sumMp := c.payMinipools(nodeOpIdeal, totalScore)
	sumMega := new(big.Int)
	for _, node := range c.nodes {
		if !node.eligible || node.mega == nil {
			continue
		}
		for _, v := range node.mega.kept { // no activity filter
			v.eth = mulDiv(nodeOpIdeal, v.score, totalScore)
			node.sp.Add(node.sp, v.eth)
			sumMega.Add(sumMega, v.eth)
		}
	}
	bonus := new(big.Int)
	if v11BonusWindow(c.s.Network, c.s.Index) {
		remaining := new(big.Int).Add(sp, pvs)
		remaining.Sub(remaining, sumMp)
		remaining.Sub(remaining, sumMega)
		remaining.Sub(remaining, pdaoEth)
		remaining.Sub(remaining, trueVoter)
		var err error
		if bonus, err = c.payBonuses(remaining); err != nil {
			return err
		}
	}
	nodeOp := new(big.Int).Add(sumMp, sumMega)
	nodeOp.Add(nodeOp, bonus)
	t.NodeOperatorSmoothingPoolETH = nodeOp
	ps := new(big.Int).Add(sp, pvs)
	ps.Sub(ps, nodeOp)
	ps.Sub(ps, pdaoEth)
	t.PoolStakerSmoothingPoolETH = ps.Sub(ps, trueVoter)
	return nil
}
