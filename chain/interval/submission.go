package interval

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/rewards"
)

// Submission is the Saturn RewardSubmission a member would vote for this result (watchtower-duties §3.4).
type Submission struct {
	RewardIndex      uint64
	ExecutionBlock   uint64
	ConsensusBlock   uint64
	MerkleRoot       common.Hash
	IntervalsPassed  uint64
	SmoothingPoolETH *big.Int
	TreasuryRPL      *big.Int
	TreasuryETH      *big.Int
	UserETH          *big.Int
	TrustedNodeRPL   []*big.Int
	NodeRPL          []*big.Int
	NodeETH          []*big.Int
}

func nz(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(x)
}

// SubmissionOf fills the submission from a result: per network n = 0 … highest network with rewards (gaps are
// zeros); nodeETH includes the voter share (v11).
func SubmissionOf(t *Timing, r *rewards.Result, f *rewards.Files) *Submission {
	s := &Submission{RewardIndex: r.Index, ExecutionBlock: t.ExecutionEndBlock, ConsensusBlock: t.ConsensusEndBlock,
		MerkleRoot: f.Root, IntervalsPassed: r.IntervalsPassed, SmoothingPoolETH: nz(r.Totals.TotalSmoothingPoolETH),
		TreasuryRPL: nz(r.Totals.ProtocolDAORPL), TreasuryETH: nz(r.Totals.TotalPDAOShareETH), UserETH: nz(r.Totals.PoolStakerSmoothingPoolETH)}
	n := 0
	for _, nr := range r.Networks {
		n = max(n, int(nr.Network)+1)
	}
	if n == 0 {
		n = 1
	}
	s.TrustedNodeRPL, s.NodeRPL, s.NodeETH = make([]*big.Int, n), make([]*big.Int, n), make([]*big.Int, n)
	for i := 0; i < n; i++ {
		s.TrustedNodeRPL[i], s.NodeRPL[i], s.NodeETH[i] = new(big.Int), new(big.Int), new(big.Int)
	}
	for _, nr := range r.Networks {
		s.TrustedNodeRPL[nr.Network] = nz(nr.OracleDAORPL)
		s.NodeRPL[nr.Network] = nz(nr.CollateralRPL)
		s.NodeETH[nr.Network] = nz(nr.SmoothingPoolETH)
	}
	return s
}

// CompareSubmission lists every field where ours differs from the canonical event (empty = identical).
func CompareSubmission(ev *execution.RewardEvent, s *Submission) []string {
	var d []string
	u := func(name string, a, b uint64) {
		if a != b {
			d = append(d, fmt.Sprintf("%s: canonical %d, ours %d", name, a, b))
		}
	}
	w := func(name string, a, b *big.Int) {
		if nz(a).Cmp(nz(b)) != 0 {
			d = append(d, fmt.Sprintf("%s: canonical %s, ours %s", name, nz(a), nz(b)))
		}
	}
	arr := func(name string, a, b []*big.Int) {
		for i := 0; i < max(len(a), len(b)); i++ {
			var x, y *big.Int
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			w(fmt.Sprintf("%s[%d]", name, i), x, y)
		}
	}
	if ev.MerkleRoot != s.MerkleRoot {
		d = append(d, fmt.Sprintf("merkleRoot: canonical %s, ours %s", ev.MerkleRoot.Hex(), s.MerkleRoot.Hex()))
	}
	u("rewardIndex", ev.Index, s.RewardIndex)
	u("executionBlock", ev.ExecutionBlock, s.ExecutionBlock)
	u("consensusBlock", ev.ConsensusBlock, s.ConsensusBlock)
	u("intervalsPassed", ev.IntervalsPassed, s.IntervalsPassed)
	w("smoothingPoolETH", ev.SmoothingPoolETH, s.SmoothingPoolETH)
	w("treasuryRPL", ev.TreasuryRPL, s.TreasuryRPL)
	w("treasuryETH", ev.TreasuryETH, s.TreasuryETH)
	w("userETH", ev.UserETH, s.UserETH)
	arr("trustedNodeRPL", ev.TrustedNodeRPL, s.TrustedNodeRPL)
	arr("nodeRPL", ev.NodeRPL, s.NodeRPL)
	arr("nodeETH", ev.NodeETH, s.NodeETH)
	return d
}
