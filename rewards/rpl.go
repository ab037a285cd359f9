package rewards

import (
	"fmt"
	"math/big"
)

// eligibleBorrowed returns the node's minipool-part eligible borrowed ETH and
// the matching bonded ETH (§3.2): Σ userDepositBalance (nodeDepositBalance) of
// Staking minipools that have a beacon record at the snapshot with
// exit_epoch > consensusEndBlock/32.
func (c *calc) minipoolBorrowed(n *nodeState) (borrowed, bonded *big.Int) {
	borrowed, bonded = new(big.Int), new(big.Int)
	epoch := c.s.ConsensusEndBlock / 32
	for _, m := range n.minipools {
		if m.mp.Status != MinipoolStaking {
			continue
		}
		v := c.allView[m.mp.Pubkey]
		if v == nil || v.ExitEpoch <= epoch {
			continue
		}
		borrowed.Add(borrowed, m.mp.UserDepositBalance.Big())
		bonded.Add(bonded, m.mp.NodeDepositBalance.Big())
	}
	return borrowed, bonded
}

// megapoolBorrowed is getUserCapital minus, for every validator in prestake,
// (lastRequestedValue - lastRequestedBond) milli-ETH in wei. The reference
// converts milli-ETH through a decimal string and a big float; for whole
// milli-ETH values below ~4 million ETH that equals the exact product with
// 1e15 computed here (rewards-rules O4).
func megapoolBorrowed(m *Megapool) *big.Int {
	r := new(big.Int).Set(m.UserCapital.Big())
	for i := range m.Validators {
		v := &m.Validators[i]
		if v.InPrestake {
			d := new(big.Int).Mul(bi(v.LastRequestedValue-v.LastRequestedBond), milliEth)
			r.Sub(r, d)
		}
	}
	return r
}

func (c *calc) computeRPL() error {
	s := c.s
	pending := s.PendingRPL.Big()
	collateral := mulDiv(pending, s.NodePerc.Big(), eth1)
	odaoTotal := mulDiv(pending, s.TrustedNodePerc.Big(), eth1)
	pdaoExpect := mulDiv(pending, s.ProtocolDAOPerc.Big(), eth1)
	price := s.RPLPrice.Big()
	snapTime := c.slotTime(s.ConsensusEndBlock)
	interval := bi(s.IntervalTime)

	totalWeight, totalEff := new(big.Int), new(big.Int)
	for _, n := range c.nodes {
		mpBorrowed, bonded := c.minipoolBorrowed(n)
		n.pct = BorrowedPercent(n.n.LegacyStakedRPL.Big(), price, mpBorrowed)
		stake := new(big.Int).Set(n.n.LegacyStakedRPL.Big())
		borrowed := new(big.Int).Set(mpBorrowed)
		if c.rs == RulesetV11 {
			stake.Add(stake, n.n.MegapoolStakedRPL.Big())
			if n.mega != nil {
				borrowed.Add(borrowed, megapoolBorrowed(n.mega.m))
			}
		}
		w, err := NodeWeight(stake, price, borrowed)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.n.Address, err)
		}
		eff := stake
		if c.rs == RulesetV8 || c.rs == RulesetV10 {
			minColl := new(big.Int)
			if borrowed.Sign() > 0 {
				minColl = mulDiv(borrowed, s.MinimumPerMinipoolStake.Big(), price)
			}
			if stake.Cmp(minColl) < 0 {
				w = new(big.Int)
				eff = new(big.Int)
			} else if c.rs == RulesetV8 {
				maxColl := mulDiv(bonded, coll150, price)
				eff = new(big.Int).Set(bigMin(stake, maxColl))
			}
		}
		// Registration-age proration (age clamped at 0 for a registration
		// time after the snapshot, which the chain cannot produce).
		var age uint64
		if snapTime > n.n.RegistrationTime {
			age = snapTime - n.n.RegistrationTime
		}
		if age < s.IntervalTime {
			w = mulDiv(w, bi(age), interval)
			if c.rs == RulesetV8 {
				eff = mulDiv(eff, bi(age), interval)
			}
		}
		n.weight = w
		if c.rs == RulesetV8 {
			n.effStake = eff
			totalEff.Add(totalEff, eff)
		}
		totalWeight.Add(totalWeight, w)
	}
	c.res.Totals.TotalNodeWeight.Set(totalWeight)

	paidColl := new(big.Int)
	switch c.rs {
	case RulesetV8:
		C := int64(s.Index) - 18 + 1
		if C < 1 {
			C = 1
		}
		if C > 6 {
			C = 6
		}
		if totalWeight.Sign() > 0 && totalEff.Sign() > 0 {
			wDen := new(big.Int).Mul(totalWeight, big.NewInt(6))
			eDen := new(big.Int).Mul(totalEff, big.NewInt(6))
			cW := new(big.Int).Mul(collateral, big.NewInt(C))
			cE := new(big.Int).Mul(collateral, big.NewInt(6-C))
			for _, n := range c.nodes {
				if n.weight.Sign() <= 0 || n.effStake.Sign() <= 0 {
					continue
				}
				r := mulDiv(cW, n.weight, wDen)
				r.Add(r, mulDiv(cE, n.effStake, eDen))
				n.collateralRPL = r
				paidColl.Add(paidColl, r)
			}
		}
	default:
		if totalWeight.Sign() > 0 {
			for _, n := range c.nodes {
				if n.weight.Sign() <= 0 {
					continue
				}
				n.collateralRPL = mulDiv(collateral, n.weight, totalWeight)
				paidColl.Add(paidColl, n.collateralRPL)
			}
		}
	}

	// Oracle DAO.
	partTotal := new(big.Int)
	parts := make([]*big.Int, len(s.OracleDAO))
	for i, m := range s.OracleDAO {
		p := s.IntervalTime
		if s.ELEndTime < m.JoinedTime {
			p = 0 // joined after the snapshot header: cannot happen on chain
		} else if s.ELEndTime-m.JoinedTime < s.IntervalTime {
			p = s.ELEndTime - m.JoinedTime
		}
		parts[i] = bi(p)
		partTotal.Add(partTotal, parts[i])
	}
	paidODAO := new(big.Int)
	if len(s.OracleDAO) > 0 && partTotal.Sign() == 0 {
		return fmt.Errorf("oracle DAO participation totals 0 seconds")
	}
	for i, m := range s.OracleDAO {
		n := c.nodeBy[m.Address]
		if n == nil {
			return fmt.Errorf("oDAO member %s is not a registered node", m.Address)
		}
		n.isODAO = true // entry even with 0 RPL (Q10)
		n.odaoRPL = mulDiv(odaoTotal, parts[i], partTotal)
		paidODAO.Add(paidODAO, n.odaoRPL)
	}

	// Sanity epsilon (§3.6, Q11): max(#nodes, #minipools). In v11 the
	// reference computes it before megapool validators are known, so the
	// megapool-validator term is always absent; it only gates errors.
	eps := sanityEpsilon(s)
	if totalWeight.Sign() > 0 && (c.rs != RulesetV8 || totalEff.Sign() > 0) {
		if d := new(big.Int).Sub(collateral, paidColl); d.CmpAbs(eps) > 0 {
			return fmt.Errorf("collateral RPL paid %s is %s away from the pot %s (epsilon %s)", paidColl, d, collateral, eps)
		}
	}
	if len(s.OracleDAO) > 0 {
		if d := new(big.Int).Sub(odaoTotal, paidODAO); d.CmpAbs(eps) > 0 {
			return fmt.Errorf("oDAO RPL paid %s is %s away from the pot %s (epsilon %s)", paidODAO, d, odaoTotal, eps)
		}
	}

	// Protocol DAO (§3.5).
	pdao := new(big.Int)
	switch {
	case c.rs == RulesetV8 || totalWeight.Sign() > 0:
		pdao.Sub(pending, paidColl)
		pdao.Sub(pdao, paidODAO)
	case c.rs == RulesetV10: // known bug kept: oDAO paid subtracted from the expected share
		pdao.Add(pdaoExpect, collateral)
		pdao.Sub(pdao, paidODAO)
	default: // v11
		pdao.Add(pdaoExpect, collateral)
	}
	if pdao.Sign() < 0 {
		return fmt.Errorf("protocol DAO RPL is negative (%s)", pdao)
	}
	t := &c.res.Totals
	t.ProtocolDAORPL = pdao
	t.TotalCollateralRPL = paidColl
	t.TotalOracleDAORPL = paidODAO
	return nil
}

// sanityEpsilon is the tolerance of the pot checks (§3.6): max(#nodes,
// #minipools). Quirk Q11: the v11 reference computes it before megapool
// validators are known, so they never add to it.
func sanityEpsilon(s *Snapshot) *big.Int {
	return bi(uint64(max(len(s.Nodes), len(s.Minipools))))
}
