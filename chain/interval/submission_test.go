package interval_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/rewards"
)

func TestSubmissionOfAndCompare(t *testing.T) {
	root := common.HexToHash("0x01")
	res := &rewards.Result{Index: 4, IntervalsPassed: 2, Totals: rewards.Totals{TotalSmoothingPoolETH: big.NewInt(100), ProtocolDAORPL: big.NewInt(7),
		PoolStakerSmoothingPoolETH: big.NewInt(60)},
		// Network 2 only: network 0 and 1 are zero-filled.
		Networks: []rewards.NetworkReward{{Network: 0, CollateralRPL: big.NewInt(5), OracleDAORPL: big.NewInt(1), SmoothingPoolETH: big.NewInt(30)},
			{Network: 2, CollateralRPL: big.NewInt(3), OracleDAORPL: big.NewInt(0), SmoothingPoolETH: big.NewInt(10)}}}
	s := interval.SubmissionOf(&interval.Timing{ExecutionEndBlock: 90, ConsensusEndBlock: 95}, res, &rewards.Files{Root: root})
	if len(s.NodeRPL) != 3 || s.NodeRPL[1].Sign() != 0 || s.NodeRPL[2].Int64() != 3 || s.NodeETH[0].Int64() != 30 || s.TreasuryETH.Sign() != 0 ||
		s.ExecutionBlock != 90 || s.ConsensusBlock != 95 || s.IntervalsPassed != 2 || s.UserETH.Int64() != 60 {
		t.Fatalf("submission %+v", s)
	}
	ev := &execution.RewardEvent{Index: 4, ExecutionBlock: 90, ConsensusBlock: 95, MerkleRoot: root, IntervalsPassed: 2,
		SmoothingPoolETH: big.NewInt(100), TreasuryRPL: big.NewInt(7), TreasuryETH: big.NewInt(0), UserETH: big.NewInt(60),
		TrustedNodeRPL: []*big.Int{big.NewInt(1), big.NewInt(0), big.NewInt(0)}, NodeRPL: []*big.Int{big.NewInt(5), big.NewInt(0), big.NewInt(3)},
		NodeETH: []*big.Int{big.NewInt(30), big.NewInt(0), big.NewInt(10)}}
	if d := interval.CompareSubmission(ev, s); len(d) != 0 {
		t.Fatalf("identical submission differs: %v", d)
	}
	ev.MerkleRoot = common.HexToHash("0x02")
	ev.NodeETH = ev.NodeETH[:2]
	d := interval.CompareSubmission(ev, s)
	if len(d) != 2 || !strings.HasPrefix(d[0], "merkleRoot") || !strings.HasPrefix(d[1], "nodeETH[2]: canonical 0, ours 10") {
		t.Fatalf("differences %v", d)
	}
}
