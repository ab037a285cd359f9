package tree

import (
	"testing"

	"github.com/odaowatch/watchtower/internal/testutil"
)

// FuzzDecodeRewardsFile: any input decodes or fails with an error, never a
// panic; whatever decodes can be verified and re-encoded.
func FuzzDecodeRewardsFile(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"rewardsFileVersion":3}`, `[]`, `{"rewardsFileVersion":4,"rulesetVersion":11,"index":0,"network":"1","startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-01T00:00:00Z","merkleRoot":"0x00","totalRewards":{},"nodeRewards":{"0x0000000000000000000000000000000000000001":{"rewardNetwork":0,"collateralRpl":"1","oracleDaoRpl":"0","smoothingPoolEth":"0","voterShareEth":"0","merkleProof":[]}}}`,
		"RPRT", "RPRU",
	} {
		f.Add([]byte(s))
	}
	f.Add(testutil.ReadShared(f, "canonical/rp-rewards-testnet-149.json.gz"))
	f.Add(testutil.ReadShared(f, "cid/rp-rewards-holesky-155.ssz"))
	if g, _, err := DecodeRewardsFile(testutil.ReadShared(f, "canonical/rp-rewards-testnet-149.json.gz")); err == nil {
		if b, err := g.MarshalSSZ(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, _, err := DecodeRewardsFile(data)
		if err != nil {
			return
		}
		_ = Verify(rf)
		_, _ = rf.MarshalJSON()
		_, _ = rf.MarshalSSZ()
	})
}

// FuzzParseRewardsSSZ targets the SSZ decoder directly with a valid seed.
func FuzzParseRewardsSSZ(f *testing.F) {
	f.Add(testutil.ReadShared(f, "cid/rp-rewards-holesky-155.ssz"))
	if g, _, err := DecodeRewardsFile(testutil.ReadShared(f, "canonical/rp-rewards-testnet-149.json.gz")); err == nil {
		if b, err := g.MarshalSSZ(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, _, err := ParseRewardsSSZ(data)
		if err != nil {
			return
		}
		if _, err := rf.MarshalSSZ(); err != nil && rf.RewardsFileVersion >= 3 {
			// A decoded file must re-encode unless its network is unknown.
			if _, cerr := rf.ChainID(); cerr == nil {
				t.Fatalf("decoded SSZ does not re-encode: %v", err)
			}
		}
	})
}
