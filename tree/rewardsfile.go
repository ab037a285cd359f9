package tree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Chain ids and the network names the reference writes into JSON files.
const (
	ChainIDMainnet uint64 = 1
	ChainIDHolesky uint64 = 17000
	ChainIDHoodi   uint64 = 560048
)

// RewardsFile is one interval's rewards tree file in memory, covering JSON
// file versions 1–4 and SSZ file versions 3 (magic RPRT) and 4 (magic RPRU).
// Node and network entries are kept sorted (by address, by network).
type RewardsFile struct {
	RewardsFileVersion uint64
	RulesetVersion     uint64
	// HasRulesetVersion is false for the oldest version-1 files that omit the field.
	HasRulesetVersion bool
	Index             uint64
	// Network is the JSON form: "mainnet", "testnet" (Hoodi), "holesky", or a
	// decimal chain id for other networks. SSZ files store the chain id.
	Network             string
	StartTime           time.Time
	EndTime             time.Time
	ConsensusStartBlock uint64
	ConsensusEndBlock   uint64
	ExecutionStartBlock uint64
	ExecutionEndBlock   uint64
	IntervalsPassed     uint64
	MerkleRoot          common.Hash
	// MinipoolPerformanceFileCID is written only by JSON-native files
	// (versions 1–2, and version 3 with ruleset ≤ 8).
	MinipoolPerformanceFileCID string
	TotalRewards               TotalRewards
	NetworkRewards             []NetworkReward
	NodeRewards                []NodeReward
}

// TotalRewards are the file's totals. Pointer fields exist only in some
// versions; nil means "absent from the file".
type TotalRewards struct {
	// ProtocolDaoEth appears only in some SSZ-era version-3 JSON files, always as "null".
	ProtocolDaoEth               *BigInt
	ProtocolDaoRpl               BigInt
	TotalCollateralRpl           BigInt
	TotalOracleDaoRpl            BigInt
	TotalSmoothingPoolEth        BigInt
	PoolStakerSmoothingPoolEth   BigInt
	NodeOperatorSmoothingPoolEth BigInt
	TotalNodeWeight              *BigInt // version ≥ 3
	TotalVoterShareEth           *BigInt // version 4
	SmoothingPoolVoterShareEth   *BigInt // version 4
	// TotalPdaoShareEth is in version-4 JSON only (the SSZ layout lacks it).
	TotalPdaoShareEth *BigInt
}

// NetworkReward is the per-reward-network sum of node amounts.
type NetworkReward struct {
	Network       uint64
	CollateralRpl BigInt
	OracleDaoRpl  BigInt
	// SmoothingPoolEth includes the voter share in version 4.
	SmoothingPoolEth BigInt
}

// NodeReward is one node's entry.
type NodeReward struct {
	Address          common.Address
	RewardNetwork    uint64
	CollateralRpl    BigInt
	OracleDaoRpl     BigInt
	SmoothingPoolEth BigInt
	VoterShareEth    BigInt // version 4
	// EligibilityRate is version 1's smoothingPoolEligibilityRate, kept verbatim.
	EligibilityRate json.Number
	MerkleProof     []common.Hash
}

// SSZEra reports whether the file belongs to the SSZ-backed generation
// (version 4, or version 3 with ruleset ≥ 9): its JSON puts network before
// index, carries no performance-file CID, and every node entry is a leaf.
func (f *RewardsFile) SSZEra() bool {
	return f.RewardsFileVersion >= 4 || (f.RewardsFileVersion == 3 && f.RulesetVersion >= 9)
}

// LeafVersion returns the leaf layout of this file.
func (f *RewardsFile) LeafVersion() LeafVersion { return LeafVersionForFile(f.RewardsFileVersion) }

// HasLeaf reports whether a node entry becomes a Merkle leaf: in JSON-native
// files an entry whose amounts are all zero gets no leaf; in SSZ-era files
// every entry is a leaf (rewards-rules Q10).
func (f *RewardsFile) HasLeaf(n *NodeReward) bool {
	if f.SSZEra() {
		return true
	}
	return n.CollateralRpl.Ref().Sign() != 0 || n.OracleDaoRpl.Ref().Sign() != 0 ||
		n.SmoothingPoolEth.Ref().Sign() != 0 || n.VoterShareEth.Ref().Sign() != 0
}

// LeafAmounts returns what the node's leaf commits to.
func (n *NodeReward) LeafAmounts() LeafAmounts {
	return LeafAmounts{
		Address:          n.Address,
		Network:          n.RewardNetwork,
		RPL:              new(big.Int).Add(n.CollateralRpl.Ref(), n.OracleDaoRpl.Ref()),
		SmoothingPoolETH: n.SmoothingPoolEth.Ref(),
		VoterShareETH:    n.VoterShareEth.Ref(),
	}
}

// ChainID returns the chain id of the file's network.
func (f *RewardsFile) ChainID() (uint64, error) { return ChainIDForNetwork(f.Network) }

// ChainIDForNetwork maps a JSON network field to a chain id.
func ChainIDForNetwork(network string) (uint64, error) {
	switch network {
	case "mainnet":
		return ChainIDMainnet, nil
	case "testnet", "hoodi":
		return ChainIDHoodi, nil
	case "holesky":
		return ChainIDHolesky, nil
	}
	id, err := strconv.ParseUint(network, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("network %q is neither a known network name nor a decimal chain id", network)
	}
	return id, nil
}

// NetworkForChainID returns the JSON network field for a chain id, the way the
// reference writes it (names for mainnet and Hoodi, otherwise the decimal id).
func NetworkForChainID(id uint64) string {
	switch id {
	case ChainIDMainnet:
		return "mainnet"
	case ChainIDHoodi:
		return "testnet"
	}
	return strconv.FormatUint(id, 10)
}

// Sort orders node entries by address and network entries by network.
func (f *RewardsFile) Sort() {
	sort.Slice(f.NodeRewards, func(i, j int) bool {
		return bytes.Compare(f.NodeRewards[i].Address[:], f.NodeRewards[j].Address[:]) < 0
	})
	sort.Slice(f.NetworkRewards, func(i, j int) bool { return f.NetworkRewards[i].Network < f.NetworkRewards[j].Network })
}

// BuildTree builds the Merkle tree from the node entries that become leaves.
func (f *RewardsFile) BuildTree() (*Tree, error) {
	t, _, err := f.buildTree()
	return t, err
}

// buildTree also returns, for each node entry, the index of its preimage in
// the tree's input (-1 for entries without a leaf).
func (f *RewardsFile) buildTree() (*Tree, []int, error) {
	ver := f.LeafVersion()
	pre := make([][]byte, 0, len(f.NodeRewards))
	leafOf := make([]int, len(f.NodeRewards))
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		leafOf[i] = -1
		if !f.HasLeaf(n) {
			continue
		}
		p, err := LeafPreimage(ver, n.LeafAmounts())
		if err != nil {
			return nil, nil, err
		}
		leafOf[i] = len(pre)
		pre = append(pre, p)
	}
	if len(pre) == 0 {
		return nil, nil, fmt.Errorf("rewards file has no node entry with a leaf")
	}
	t, err := BuildTree(pre)
	return t, leafOf, err
}

// Seal sorts the entries, builds the tree, and sets the Merkle root and every
// node's proof. Entries without a leaf get no proof.
func (f *RewardsFile) Seal() (*Tree, error) {
	f.Sort()
	t, leafOf, err := f.buildTree()
	if err != nil {
		return nil, fmt.Errorf("seal rewards file: %w", err)
	}
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		n.MerkleProof = nil
		if leafOf[i] < 0 {
			continue
		}
		if n.MerkleProof, err = t.ProofOf(leafOf[i]); err != nil {
			return nil, fmt.Errorf("seal rewards file: %w", err)
		}
	}
	f.MerkleRoot = t.Root()
	return t, nil
}

// Node returns the entry of an address, or nil.
func (f *RewardsFile) Node(addr common.Address) *NodeReward {
	i := sort.Search(len(f.NodeRewards), func(i int) bool {
		return bytes.Compare(f.NodeRewards[i].Address[:], addr[:]) >= 0
	})
	if i < len(f.NodeRewards) && f.NodeRewards[i].Address == addr {
		return &f.NodeRewards[i]
	}
	return nil
}

// ---- JSON ----

type jsonTotals struct {
	ProtocolDaoEth               *BigInt `json:"totalProtocolDaoEth,omitempty"`
	ProtocolDaoRpl               BigInt  `json:"protocolDaoRpl"`
	TotalCollateralRpl           BigInt  `json:"totalCollateralRpl"`
	TotalOracleDaoRpl            BigInt  `json:"totalOracleDaoRpl"`
	TotalSmoothingPoolEth        BigInt  `json:"totalSmoothingPoolEth"`
	PoolStakerSmoothingPoolEth   BigInt  `json:"poolStakerSmoothingPoolEth"`
	NodeOperatorSmoothingPoolEth BigInt  `json:"nodeOperatorSmoothingPoolEth"`
	TotalNodeWeight              *BigInt `json:"totalNodeWeight,omitempty"`
	TotalVoterShareEth           *BigInt `json:"totalVoterShareEth,omitempty"`
	SmoothingPoolVoterShareEth   *BigInt `json:"smoothingPoolVoterShareEth,omitempty"`
	TotalPdaoShareEth            *BigInt `json:"totalPdaoShareEth,omitempty"`
}

type jsonNetwork struct {
	CollateralRpl    BigInt `json:"collateralRpl"`
	OracleDaoRpl     BigInt `json:"oracleDaoRpl"`
	SmoothingPoolEth BigInt `json:"smoothingPoolEth"`
}

type jsonNode struct {
	RewardNetwork    uint64        `json:"rewardNetwork"`
	CollateralRpl    BigInt        `json:"collateralRpl"`
	OracleDaoRpl     BigInt        `json:"oracleDaoRpl"`
	SmoothingPoolEth BigInt        `json:"smoothingPoolEth"`
	EligibilityRate  json.Number   `json:"smoothingPoolEligibilityRate,omitempty"`
	VoterShareEth    *BigInt       `json:"voterShareEth,omitempty"`
	MerkleProof      []common.Hash `json:"merkleProof"`
}

// jsonNative is the field order of JSON-native files (versions 1–3, ruleset ≤ 8).
type jsonNative struct {
	RewardsFileVersion         uint64                 `json:"rewardsFileVersion"`
	RulesetVersion             *uint64                `json:"rulesetVersion,omitempty"`
	Index                      uint64                 `json:"index"`
	Network                    string                 `json:"network"`
	StartTime                  time.Time              `json:"startTime"`
	EndTime                    time.Time              `json:"endTime"`
	ConsensusStartBlock        uint64                 `json:"consensusStartBlock"`
	ConsensusEndBlock          uint64                 `json:"consensusEndBlock"`
	ExecutionStartBlock        uint64                 `json:"executionStartBlock"`
	ExecutionEndBlock          uint64                 `json:"executionEndBlock"`
	IntervalsPassed            uint64                 `json:"intervalsPassed"`
	MerkleRoot                 common.Hash            `json:"merkleRoot"`
	MinipoolPerformanceFileCID string                 `json:"minipoolPerformanceFileCid"`
	TotalRewards               jsonTotals             `json:"totalRewards"`
	NetworkRewards             map[uint64]jsonNetwork `json:"networkRewards"`
	NodeRewards                map[string]jsonNode    `json:"nodeRewards"`
}

// jsonSSZEra is the field order of SSZ-era JSON files (version 3 with ruleset ≥ 9, version 4).
type jsonSSZEra struct {
	RewardsFileVersion  uint64                 `json:"rewardsFileVersion"`
	RulesetVersion      uint64                 `json:"rulesetVersion"`
	Network             string                 `json:"network"`
	Index               uint64                 `json:"index"`
	StartTime           time.Time              `json:"startTime"`
	EndTime             time.Time              `json:"endTime"`
	ConsensusStartBlock uint64                 `json:"consensusStartBlock"`
	ConsensusEndBlock   uint64                 `json:"consensusEndBlock"`
	ExecutionStartBlock uint64                 `json:"executionStartBlock"`
	ExecutionEndBlock   uint64                 `json:"executionEndBlock"`
	IntervalsPassed     uint64                 `json:"intervalsPassed"`
	MerkleRoot          common.Hash            `json:"merkleRoot"`
	TotalRewards        jsonTotals             `json:"totalRewards"`
	NetworkRewards      map[uint64]jsonNetwork `json:"networkRewards"`
	NodeRewards         map[string]jsonNode    `json:"nodeRewards"`
}

// jsonAny accepts every version's fields when reading.
type jsonAny struct {
	RewardsFileVersion         *uint64                `json:"rewardsFileVersion"`
	RulesetVersion             *uint64                `json:"rulesetVersion"`
	Index                      *uint64                `json:"index"`
	Network                    *string                `json:"network"`
	StartTime                  *time.Time             `json:"startTime"`
	EndTime                    *time.Time             `json:"endTime"`
	ConsensusStartBlock        uint64                 `json:"consensusStartBlock"`
	ConsensusEndBlock          uint64                 `json:"consensusEndBlock"`
	ExecutionStartBlock        uint64                 `json:"executionStartBlock"`
	ExecutionEndBlock          uint64                 `json:"executionEndBlock"`
	IntervalsPassed            uint64                 `json:"intervalsPassed"`
	MerkleRoot                 *common.Hash           `json:"merkleRoot"`
	MinipoolPerformanceFileCID *string                `json:"minipoolPerformanceFileCid"`
	TotalRewards               *jsonTotals            `json:"totalRewards"`
	NetworkRewards             map[string]jsonNetwork `json:"networkRewards"`
	NodeRewards                map[string]jsonNode    `json:"nodeRewards"`
}

// MaxRewardsFileVersion is the newest rewards file version understood.
const MaxRewardsFileVersion = 4

// ParseRewardsJSON decodes a JSON rewards file of any version 1–4. Unknown
// fields, malformed addresses and amounts are errors naming the culprit.
func ParseRewardsJSON(data []byte) (*RewardsFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j jsonAny
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("decode rewards JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode rewards JSON: trailing data after the top-level object")
	}
	switch {
	case j.RewardsFileVersion == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing rewardsFileVersion")
	case *j.RewardsFileVersion < 1 || *j.RewardsFileVersion > MaxRewardsFileVersion:
		return nil, fmt.Errorf("decode rewards JSON: unsupported rewardsFileVersion %d", *j.RewardsFileVersion)
	case j.Index == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing index")
	case j.Network == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing network")
	case j.StartTime == nil || j.EndTime == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing startTime or endTime")
	case j.MerkleRoot == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing merkleRoot")
	case j.TotalRewards == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing totalRewards")
	case j.NodeRewards == nil:
		return nil, fmt.Errorf("decode rewards JSON: missing nodeRewards")
	}
	f := &RewardsFile{
		RewardsFileVersion:  *j.RewardsFileVersion,
		Index:               *j.Index,
		Network:             *j.Network,
		StartTime:           j.StartTime.UTC(),
		EndTime:             j.EndTime.UTC(),
		ConsensusStartBlock: j.ConsensusStartBlock,
		ConsensusEndBlock:   j.ConsensusEndBlock,
		ExecutionStartBlock: j.ExecutionStartBlock,
		ExecutionEndBlock:   j.ExecutionEndBlock,
		IntervalsPassed:     j.IntervalsPassed,
		MerkleRoot:          *j.MerkleRoot,
	}
	if j.RulesetVersion != nil {
		f.RulesetVersion, f.HasRulesetVersion = *j.RulesetVersion, true
	} else if f.RewardsFileVersion >= 3 {
		return nil, fmt.Errorf("decode rewards JSON: version %d file lacks rulesetVersion", f.RewardsFileVersion)
	}
	if j.MinipoolPerformanceFileCID != nil {
		if f.SSZEra() {
			return nil, fmt.Errorf("decode rewards JSON: minipoolPerformanceFileCid is not a field of SSZ-era files (version %d, ruleset %d)", f.RewardsFileVersion, f.RulesetVersion)
		}
		f.MinipoolPerformanceFileCID = *j.MinipoolPerformanceFileCID
	}
	t := j.TotalRewards
	f.TotalRewards = TotalRewards{
		ProtocolDaoEth: t.ProtocolDaoEth, ProtocolDaoRpl: t.ProtocolDaoRpl, TotalCollateralRpl: t.TotalCollateralRpl,
		TotalOracleDaoRpl: t.TotalOracleDaoRpl, TotalSmoothingPoolEth: t.TotalSmoothingPoolEth,
		PoolStakerSmoothingPoolEth: t.PoolStakerSmoothingPoolEth, NodeOperatorSmoothingPoolEth: t.NodeOperatorSmoothingPoolEth,
		TotalNodeWeight: t.TotalNodeWeight, TotalVoterShareEth: t.TotalVoterShareEth,
		SmoothingPoolVoterShareEth: t.SmoothingPoolVoterShareEth, TotalPdaoShareEth: t.TotalPdaoShareEth,
	}
	for k, v := range j.NetworkRewards {
		id, err := strconv.ParseUint(k, 10, 64)
		if err != nil || strconv.FormatUint(id, 10) != k {
			return nil, fmt.Errorf("decode rewards JSON: networkRewards key %q is not a canonical decimal network id", k)
		}
		f.NetworkRewards = append(f.NetworkRewards, NetworkReward{Network: id, CollateralRpl: v.CollateralRpl, OracleDaoRpl: v.OracleDaoRpl, SmoothingPoolEth: v.SmoothingPoolEth})
	}
	f.NodeRewards = make([]NodeReward, 0, len(j.NodeRewards))
	for k, v := range j.NodeRewards {
		addr, err := parseAddressKey(k)
		if err != nil {
			return nil, fmt.Errorf("decode rewards JSON: nodeRewards: %w", err)
		}
		n := NodeReward{Address: addr, RewardNetwork: v.RewardNetwork, CollateralRpl: v.CollateralRpl,
			OracleDaoRpl: v.OracleDaoRpl, SmoothingPoolEth: v.SmoothingPoolEth, EligibilityRate: v.EligibilityRate,
			MerkleProof: v.MerkleProof}
		if v.VoterShareEth != nil {
			if f.RewardsFileVersion < 4 {
				return nil, fmt.Errorf("decode rewards JSON: node %s has voterShareEth in a version %d file", k, f.RewardsFileVersion)
			}
			n.VoterShareEth = *v.VoterShareEth
		}
		f.NodeRewards = append(f.NodeRewards, n)
	}
	f.Sort()
	return f, nil
}

func parseAddressKey(k string) (common.Address, error) {
	if len(k) != 42 || !strings.HasPrefix(k, "0x") {
		return common.Address{}, fmt.Errorf("key %q is not a 0x-prefixed 20-byte hex address", k)
	}
	for _, c := range k[2:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return common.Address{}, fmt.Errorf("key %q is not a 0x-prefixed 20-byte hex address", k)
		}
	}
	return common.HexToAddress(k), nil
}

// MarshalJSON writes the file the way the reference does for its version:
// compact, field order of the version, map keys sorted.
func (f *RewardsFile) MarshalJSON() ([]byte, error) {
	totals := jsonTotals{
		ProtocolDaoEth: f.TotalRewards.ProtocolDaoEth, ProtocolDaoRpl: f.TotalRewards.ProtocolDaoRpl,
		TotalCollateralRpl: f.TotalRewards.TotalCollateralRpl, TotalOracleDaoRpl: f.TotalRewards.TotalOracleDaoRpl,
		TotalSmoothingPoolEth: f.TotalRewards.TotalSmoothingPoolEth, PoolStakerSmoothingPoolEth: f.TotalRewards.PoolStakerSmoothingPoolEth,
		NodeOperatorSmoothingPoolEth: f.TotalRewards.NodeOperatorSmoothingPoolEth, TotalNodeWeight: f.TotalRewards.TotalNodeWeight,
		TotalVoterShareEth: f.TotalRewards.TotalVoterShareEth, SmoothingPoolVoterShareEth: f.TotalRewards.SmoothingPoolVoterShareEth,
		TotalPdaoShareEth: f.TotalRewards.TotalPdaoShareEth,
	}
	nets := make(map[uint64]jsonNetwork, len(f.NetworkRewards))
	for _, n := range f.NetworkRewards {
		nets[n.Network] = jsonNetwork{CollateralRpl: n.CollateralRpl, OracleDaoRpl: n.OracleDaoRpl, SmoothingPoolEth: n.SmoothingPoolEth}
	}
	nodes := make(map[string]jsonNode, len(f.NodeRewards))
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		jn := jsonNode{RewardNetwork: n.RewardNetwork, CollateralRpl: n.CollateralRpl, OracleDaoRpl: n.OracleDaoRpl,
			SmoothingPoolEth: n.SmoothingPoolEth, EligibilityRate: n.EligibilityRate, MerkleProof: n.MerkleProof}
		if f.RewardsFileVersion >= 4 {
			v := n.VoterShareEth
			jn.VoterShareEth = &v
		}
		if jn.MerkleProof == nil {
			jn.MerkleProof = []common.Hash{}
		}
		key := strings.ToLower(n.Address.Hex())
		if _, dup := nodes[key]; dup {
			return nil, fmt.Errorf("encode rewards JSON: node %s appears twice", key)
		}
		nodes[key] = jn
	}
	var v any
	if f.SSZEra() {
		v = jsonSSZEra{
			RewardsFileVersion: f.RewardsFileVersion, RulesetVersion: f.RulesetVersion, Network: f.Network, Index: f.Index,
			StartTime: f.StartTime, EndTime: f.EndTime, ConsensusStartBlock: f.ConsensusStartBlock, ConsensusEndBlock: f.ConsensusEndBlock,
			ExecutionStartBlock: f.ExecutionStartBlock, ExecutionEndBlock: f.ExecutionEndBlock, IntervalsPassed: f.IntervalsPassed,
			MerkleRoot: f.MerkleRoot, TotalRewards: totals, NetworkRewards: nets, NodeRewards: nodes,
		}
	} else {
		var rs *uint64
		if f.HasRulesetVersion {
			r := f.RulesetVersion
			rs = &r
		}
		v = jsonNative{
			RewardsFileVersion: f.RewardsFileVersion, RulesetVersion: rs, Index: f.Index, Network: f.Network,
			StartTime: f.StartTime, EndTime: f.EndTime, ConsensusStartBlock: f.ConsensusStartBlock, ConsensusEndBlock: f.ConsensusEndBlock,
			ExecutionStartBlock: f.ExecutionStartBlock, ExecutionEndBlock: f.ExecutionEndBlock, IntervalsPassed: f.IntervalsPassed,
			MerkleRoot: f.MerkleRoot, MinipoolPerformanceFileCID: f.MinipoolPerformanceFileCID, TotalRewards: totals,
			NetworkRewards: nets, NodeRewards: nodes,
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode rewards JSON: %w", err)
	}
	return out, nil
}
