package rewards

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/odaowatch/watchtower/tree"
)

// Files is a Result turned into its artefacts: the sealed rewards file (root
// and proofs set) and the performance file.
type Files struct {
	Rewards     *tree.RewardsFile
	Performance tree.PerformanceData
	Root        common.Hash
}

// FileNetwork is the network field of the files: "mainnet" and "testnet" by
// name, any other network as its decimal chain id (formats.md §2.3).
func (r *Result) FileNetwork() string {
	switch r.Network {
	case "mainnet", "testnet":
		return r.Network
	}
	return strconv.FormatUint(r.ChainID, 10)
}

// RewardsFileName is rp-rewards-<network>-<index>.<ext> (ext "json" or "ssz").
func (r *Result) RewardsFileName(ext string) string {
	return fmt.Sprintf("rp-rewards-%s-%d.%s", r.FileNetwork(), r.Index, ext)
}

// WritesSSZ reports whether the reference writes an SSZ copy (ruleset >= 9).
func (r *Result) WritesSSZ() bool { return r.Ruleset >= 9 }

func bigInt(x *big.Int) tree.BigInt { return tree.NewBigInt(x) }

func bigPtr(x *big.Int) *tree.BigInt {
	b := tree.NewBigInt(x)
	return &b
}

// Files builds the rewards file (JSON v3 for rulesets 8 and 10, v4 for 11)
// and the performance file (minipool performance v2 before ruleset 11,
// performance v1 from 11), seals the tree and returns both. For ruleset 8 the
// rewards file carries minipoolPerformanceFileCid, the CID of the
// zstd-compressed performance file named <performance file>.zst; zstd output
// depends on the library version, so that CID is informative only.
func (r *Result) Files() (*Files, error) {
	fileVersion := uint64(3)
	if r.Ruleset >= RulesetV11 {
		fileVersion = 4
	}
	net := r.FileNetwork()
	hdr := tree.PerformanceHeader{
		RewardsFileVersion: fileVersion, RulesetVersion: uint64(r.Ruleset), Index: r.Index, Network: net,
		StartTime: time.Unix(int64(r.StartTime), 0).UTC(), EndTime: time.Unix(int64(r.EndTime), 0).UTC(),
		ConsensusStartBlock: r.ConsensusStartBlock, ConsensusEndBlock: r.ConsensusEndBlock,
		ExecutionStartBlock: r.ExecutionStartBlock, ExecutionEndBlock: r.ExecutionEndBlock,
	}
	f := &tree.RewardsFile{
		RewardsFileVersion: fileVersion, RulesetVersion: uint64(r.Ruleset), HasRulesetVersion: true, Index: r.Index, Network: net,
		StartTime: hdr.StartTime, EndTime: hdr.EndTime,
		ConsensusStartBlock: r.ConsensusStartBlock, ConsensusEndBlock: r.ConsensusEndBlock,
		ExecutionStartBlock: r.ExecutionStartBlock, ExecutionEndBlock: r.ExecutionEndBlock, IntervalsPassed: r.IntervalsPassed,
	}
	t := &r.Totals
	f.TotalRewards = tree.TotalRewards{
		ProtocolDaoRpl: bigInt(t.ProtocolDAORPL), TotalCollateralRpl: bigInt(t.TotalCollateralRPL), TotalOracleDaoRpl: bigInt(t.TotalOracleDAORPL),
		TotalSmoothingPoolEth: bigInt(t.TotalSmoothingPoolETH), PoolStakerSmoothingPoolEth: bigInt(t.PoolStakerSmoothingPoolETH),
		NodeOperatorSmoothingPoolEth: bigInt(t.NodeOperatorSmoothingPoolETH), TotalNodeWeight: bigPtr(t.TotalNodeWeight),
	}
	if fileVersion >= 4 {
		f.TotalRewards.TotalVoterShareEth = bigPtr(t.TotalVoterShareETH)
		f.TotalRewards.SmoothingPoolVoterShareEth = bigPtr(t.SmoothingPoolVoterShareETH)
		f.TotalRewards.TotalPdaoShareEth = bigPtr(t.TotalPDAOShareETH)
	}
	for _, n := range r.Networks {
		f.NetworkRewards = append(f.NetworkRewards, tree.NetworkReward{Network: n.Network,
			CollateralRpl: bigInt(n.CollateralRPL), OracleDaoRpl: bigInt(n.OracleDAORPL), SmoothingPoolEth: bigInt(n.SmoothingPoolETH)})
	}
	for _, n := range r.Nodes {
		f.NodeRewards = append(f.NodeRewards, tree.NodeReward{Address: common.Address(n.Address), RewardNetwork: n.RewardNetwork,
			CollateralRpl: bigInt(n.CollateralRPL), OracleDaoRpl: bigInt(n.OracleDAORPL), SmoothingPoolEth: bigInt(n.SmoothingPoolETH),
			VoterShareEth: bigInt(n.VoterShareETH)})
	}

	mps := make(map[common.Address]*tree.MinipoolPerformance, len(r.Minipools))
	for _, m := range r.Minipools {
		p := &tree.MinipoolPerformance{Pubkey: tree.ValidatorPubkey(m.Pubkey), SuccessfulAttestations: m.SuccessfulAttestations,
			MissedAttestations: m.MissedAttestations, AttestationScore: bigInt(m.AttestationScore),
			MissingAttestationSlots: m.MissingAttestationSlots, EthEarned: bigInt(m.EthEarned)}
		if m.ConsensusIncome != nil {
			p.ConsensusIncome, p.BonusEthEarned, p.EffectiveCommission = bigPtr(m.ConsensusIncome), bigPtr(m.BonusEthEarned), bigPtr(m.EffectiveCommission)
		}
		mps[common.Address(m.Address)] = p
	}
	var perf tree.PerformanceData
	if r.Ruleset >= RulesetV11 {
		megas := make(map[common.Address]*tree.MegapoolPerformance, len(r.Megapools))
		for _, m := range r.Megapools {
			e := &tree.MegapoolPerformance{}
			if m.VoterShare != nil {
				e.VoterShare = bigPtr(m.VoterShare)
			}
			if len(m.Validators) > 0 {
				e.ValidatorPerformance = make(map[tree.ValidatorPubkey]*tree.ValidatorPerformance, len(m.Validators))
				for _, v := range m.Validators {
					e.ValidatorPerformance[tree.ValidatorPubkey(v.Pubkey)] = &tree.ValidatorPerformance{
						SuccessfulAttestations: v.SuccessfulAttestations, MissedAttestations: v.MissedAttestations,
						AttestationScore: bigInt(v.AttestationScore), MissingAttestationSlots: v.MissingAttestationSlots, EthEarned: bigInt(v.EthEarned)}
				}
			}
			megas[common.Address(m.Address)] = e
		}
		perf = &tree.PerformanceFile{PerformanceHeader: hdr, MinipoolPerformance: mps, MegapoolPerformance: megas, BonusScalar: bigInt(r.BonusScalar)}
	} else {
		perf = &tree.MinipoolPerformanceFile{PerformanceHeader: hdr, MinipoolPerformance: mps, BonusScalar: bigInt(r.BonusScalar)}
	}
	if r.Ruleset == RulesetV8 {
		data, err := perf.Marshal()
		if err != nil {
			return nil, fmt.Errorf("build performance file: %w", err)
		}
		z, err := tree.Compress(data)
		if err != nil {
			return nil, fmt.Errorf("compress performance file: %w", err)
		}
		c, err := tree.CID(perf.FileName()+".zst", z)
		if err != nil {
			return nil, fmt.Errorf("performance file CID: %w", err)
		}
		f.MinipoolPerformanceFileCID = c.String()
	}
	tr, err := f.Seal()
	if err != nil {
		return nil, fmt.Errorf("build rewards file: %w", err)
	}
	return &Files{Rewards: f, Performance: perf, Root: tr.Root()}, nil
}
