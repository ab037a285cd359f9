package execution

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// A pre-Saturn RewardSnapshot log (submission with merkleTreeCID, no ETH split) decodes into the same event
// fields; treasuryETH is 0 and smoothingPoolETH absent (0).
func TestDecodeLegacyRewardSnapshot(t *testing.T) {
	sub := legacySubmission{RewardIndex: big.NewInt(45), ExecutionBlock: big.NewInt(23_000_000), ConsensusBlock: big.NewInt(13_000_031),
		MerkleRoot: common.HexToHash("0x72ed38107b2b6c1a0469800af741c04adf5563aebe5a0ae5d77fb9b2354c64a5"), MerkleTreeCID: "bafy",
		IntervalsPassed: big.NewInt(1), TreasuryRPL: big.NewInt(9), TrustedNodeRPL: []*big.Int{big.NewInt(3)},
		NodeRPL: []*big.Int{big.NewInt(5), big.NewInt(6)}, NodeETH: []*big.Int{big.NewInt(7), big.NewInt(8)}, UserETH: big.NewInt(11)}
	data, err := legacyRewardSnapshotEvent.Inputs.NonIndexed().Pack(sub, big.NewInt(100), big.NewInt(200), big.NewInt(300))
	if err != nil {
		t.Fatal(err)
	}
	l := types.Log{Topics: []common.Hash{legacyRewardSnapshotEvent.ID, common.BigToHash(big.NewInt(45))}, Data: data, BlockNumber: 77}
	ev, err := decodeRewardEvent(l)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Index != 45 || ev.ExecutionBlock != 23_000_000 || ev.ConsensusBlock != 13_000_031 || ev.MerkleRoot != sub.MerkleRoot ||
		ev.TreasuryRPL.Int64() != 9 || ev.TreasuryETH.Sign() != 0 || ev.UserETH.Int64() != 11 || len(ev.NodeRPL) != 2 || ev.NodeETH[1].Int64() != 8 ||
		ev.IntervalStartTime != 100 || ev.IntervalEndTime != 200 || ev.Time != 300 || ev.LogBlock != 77 {
		t.Fatalf("legacy event = %+v", ev)
	}
	if legacyRewardSnapshotEvent.ID == rewardSnapshotEvent.ID {
		t.Fatal("legacy and Saturn events share a topic")
	}
	// The indexed index must agree with the submission's.
	l.Topics[1] = common.BigToHash(big.NewInt(44))
	if _, err := decodeRewardEvent(l); err == nil {
		t.Fatal("mismatched indexed index accepted")
	}
	l.Topics = l.Topics[:1]
	if _, err := decodeRewardEvent(l); err == nil {
		t.Fatal("log without the index topic accepted")
	}
	l.Topics = []common.Hash{legacyRewardSnapshotEvent.ID, common.BigToHash(big.NewInt(45))}
	l.Data = data[:40]
	if _, err := decodeRewardEvent(l); err == nil {
		t.Fatal("truncated log accepted")
	}
}
