package rewards

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
)

// assemble turns the per-node state into the Result's lists.
func (c *calc) assemble() {
	nets := map[uint64]*NetworkReward{} // created lazily, like the reference
	for _, n := range c.nodes {
		spEth := new(big.Int)
		if n.eligible && n.sp.Sign() > 0 {
			spEth = n.sp
		}
		if n.collateralRPL.Sign() == 0 && !n.isODAO && spEth.Sign() == 0 && n.voterEth.Sign() == 0 {
			continue
		}
		c.res.Nodes = append(c.res.Nodes, NodeReward{
			Address: n.n.Address, RewardNetwork: n.network,
			CollateralRPL: n.collateralRPL, OracleDAORPL: n.odaoRPL,
			SmoothingPoolETH: spEth, VoterShareETH: n.voterEth,
			Weight: n.weight, IsODAO: n.isODAO,
		})
		nr := nets[n.network]
		if nr == nil {
			nr = newNetworkReward(n.network)
			nets[n.network] = nr
		}
		nr.CollateralRPL.Add(nr.CollateralRPL, n.collateralRPL)
		nr.OracleDAORPL.Add(nr.OracleDAORPL, n.odaoRPL)
		nr.SmoothingPoolETH.Add(nr.SmoothingPoolETH, spEth)
		nr.SmoothingPoolETH.Add(nr.SmoothingPoolETH, n.voterEth) // v11: voter share included (0 before)
	}
	for _, nr := range nets {
		c.res.Networks = append(c.res.Networks, *nr)
	}
	sort.Slice(c.res.Networks, func(i, j int) bool { return c.res.Networks[i].Network < c.res.Networks[j].Network })

	// Performance: SP-eligible nodes with SP ETH > 0; entries with >= 1 duty.
	for _, n := range c.nodes {
		paid := n.eligible && n.sp.Sign() > 0
		if paid {
			for _, m := range n.minipools {
				if m.nBefore+m.nAfter+m.missed == 0 {
					continue
				}
				p := MinipoolPerformance{
					Address: m.mp.Address, Pubkey: m.mp.Pubkey, Node: n.n.Address,
					SuccessfulAttestations: m.nBefore + m.nAfter, MissedAttestations: m.missed,
					AttestationScore: m.score, MissingAttestationSlots: sortedSlots(m.missing), EthEarned: m.eth,
				}
				if m.hasBonusEntry {
					p.ConsensusIncome, p.BonusEthEarned, p.EffectiveCommission = m.consensusIncome, m.bonus, m.effCommission
				}
				c.res.Minipools = append(c.res.Minipools, p)
			}
		}
		if n.mega == nil {
			continue
		}
		mp := MegapoolPerformance{Address: n.mega.m.Address, Node: n.n.Address}
		if paid {
			for _, v := range n.mega.kept {
				if v.n+v.missed == 0 {
					continue
				}
				mp.Validators = append(mp.Validators, ValidatorPerformance{
					Pubkey: v.v.Pubkey, ID: v.v.ID, SuccessfulAttestations: v.n, MissedAttestations: v.missed,
					AttestationScore: v.score, MissingAttestationSlots: sortedSlots(v.missing), EthEarned: v.eth,
				})
			}
		}
		if len(mp.Validators) == 0 && n.voterEth.Sign() > 0 {
			mp.VoterShare = n.voterEth // Q8: only without validator entries
		}
		if len(mp.Validators) > 0 || mp.VoterShare != nil {
			c.res.Megapools = append(c.res.Megapools, mp)
		}
	}
	sort.Slice(c.res.Minipools, func(i, j int) bool { return c.res.Minipools[i].Address.Less(c.res.Minipools[j].Address) })
	sort.Slice(c.res.Megapools, func(i, j int) bool { return c.res.Megapools[i].Address.Less(c.res.Megapools[j].Address) })
}

func newNetworkReward(n uint64) *NetworkReward {
	return &NetworkReward{Network: n, CollateralRPL: new(big.Int), OracleDAORPL: new(big.Int), SmoothingPoolETH: new(big.Int)}
}

// sortedSlots sorts s in place (it is appended in epoch order, so this is a
// linear check in practice) and never returns nil.
func sortedSlots(s []uint64) []uint64 {
	if s == nil {
		return []uint64{}
	}
	slices.Sort(s)
	return s
}

// CheckInvariants verifies a computed result against its snapshot:
//   - RPL: pDAO + Σ collateral + Σ oDAO <= pending RPL, with equality whenever
//     the pDAO takes the remainder (v8, or total weight > 0);
//   - node entries sum to the totals and the network entries;
//   - ETH: poolStaker + nodeOp + voter + pDAO share = SP balance (+ the
//     pending voter share in v11); when a v11 split found no scored
//     attestation the sum may only be lower (PVS stays in the vault).
func CheckInvariants(s *Snapshot, r *Result) error {
	t := &r.Totals
	pending := s.PendingRPL.Big()
	rpl := new(big.Int).Add(t.ProtocolDAORPL, t.TotalCollateralRPL)
	rpl.Add(rpl, t.TotalOracleDAORPL)
	if rpl.Cmp(pending) > 0 {
		return fmt.Errorf("invariant: RPL paid %s exceeds pending %s", rpl, pending)
	}
	if (r.Ruleset == RulesetV8 || t.TotalNodeWeight.Sign() > 0) && rpl.Cmp(pending) != 0 {
		return fmt.Errorf("invariant: RPL paid %s differs from pending %s", rpl, pending)
	}
	sumColl, sumODAO, sumSP, sumVoter := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
	for i, n := range r.Nodes {
		if i > 0 && !r.Nodes[i-1].Address.Less(n.Address) {
			return fmt.Errorf("invariant: nodes not sorted at %s", n.Address)
		}
		sumColl.Add(sumColl, n.CollateralRPL)
		sumODAO.Add(sumODAO, n.OracleDAORPL)
		sumSP.Add(sumSP, n.SmoothingPoolETH)
		sumVoter.Add(sumVoter, n.VoterShareETH)
	}
	if sumColl.Cmp(t.TotalCollateralRPL) != 0 || sumODAO.Cmp(t.TotalOracleDAORPL) != 0 {
		return fmt.Errorf("invariant: node RPL (%s, %s) differs from totals (%s, %s)", sumColl, sumODAO, t.TotalCollateralRPL, t.TotalOracleDAORPL)
	}
	if sumSP.Cmp(t.NodeOperatorSmoothingPoolETH) != 0 {
		return fmt.Errorf("invariant: node SP ETH %s differs from node operator total %s", sumSP, t.NodeOperatorSmoothingPoolETH)
	}
	if sumVoter.Cmp(t.TotalVoterShareETH) != 0 {
		return fmt.Errorf("invariant: node voter ETH %s differs from total %s", sumVoter, t.TotalVoterShareETH)
	}
	netSP := new(big.Int)
	for _, nr := range r.Networks {
		netSP.Add(netSP, nr.SmoothingPoolETH)
	}
	if want := new(big.Int).Add(sumSP, sumVoter); netSP.Cmp(want) != 0 {
		return fmt.Errorf("invariant: network SP ETH %s differs from node SP + voter ETH %s", netSP, want)
	}
	if t.PoolStakerSmoothingPoolETH.Sign() < 0 {
		return fmt.Errorf("invariant: pool staker ETH is negative (%s)", t.PoolStakerSmoothingPoolETH)
	}
	eth := new(big.Int).Add(t.PoolStakerSmoothingPoolETH, t.NodeOperatorSmoothingPoolETH)
	eth.Add(eth, t.TotalVoterShareETH)
	eth.Add(eth, t.TotalPDAOShareETH)
	want := new(big.Int).Add(t.TotalSmoothingPoolETH, t.PendingVoterShare)
	if r.scoreZero {
		if eth.Cmp(want) > 0 {
			return fmt.Errorf("invariant: SP ETH paid %s exceeds SP + PVS %s", eth, want)
		}
	} else if eth.Cmp(want) != 0 {
		return fmt.Errorf("invariant: poolStaker+nodeOp+voter+pDAO = %s, want SP(+PVS) = %s", eth, want)
	}
	return nil
}
