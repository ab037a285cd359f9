package rewards

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// SnapshotVersion is the version of the Snapshot JSON encoding.
const SnapshotVersion = 1

// Minipool status names (RocketMinipool MinipoolStatus enum).
const (
	MinipoolInitialised  = "initialised"
	MinipoolPrelaunch    = "prelaunch"
	MinipoolStaking      = "staking"
	MinipoolWithdrawable = "withdrawable"
	MinipoolDissolved    = "dissolved"
)

var minipoolStatuses = map[string]bool{
	MinipoolInitialised: true, MinipoolPrelaunch: true, MinipoolStaking: true,
	MinipoolWithdrawable: true, MinipoolDissolved: true,
}

// Beacon validator status names (beacon API).
var beaconStatuses = map[string]bool{
	"pending_initialized": true, "pending_queued": true,
	"active_ongoing": true, "active_exiting": true, "active_slashed": true,
	"exited_unslashed": true, "exited_slashed": true,
	"withdrawal_possible": true, "withdrawal_done": true,
}

// Snapshot is the state of the protocol at the interval's snapshot block:
// every contract value the rulesets read (at the EL block of the snapshot)
// and the beacon status of every protocol validator (at the state of the
// consensus snapshot block). Times are Unix seconds; amounts are wei; fractions
// ("perc", "share", "fee") are 1e18-scaled. See README.md for every field.
type Snapshot struct {
	Version int    `json:"version"`
	Network string `json:"network"` // "mainnet", "testnet" (Hoodi) or "devnet"
	ChainID uint64 `json:"chainId"`

	// Beacon chain constants.
	GenesisTime    uint64 `json:"genesisTime"`
	SecondsPerSlot uint64 `json:"secondsPerSlot"`
	SlotsPerEpoch  uint64 `json:"slotsPerEpoch"`

	// Interval.
	Index                  uint64 `json:"index"`                  // reward interval index (RocketRewardsPool.getRewardIndex)
	IntervalsPassed        uint64 `json:"intervalsPassed"`        // intervals rolled into this one (>= 1)
	IntervalTime           uint64 `json:"intervalTime"`           // getClaimIntervalTime, seconds
	ClaimIntervalTimeStart uint64 `json:"claimIntervalTimeStart"` // getClaimIntervalTimeStart, seconds
	ConsensusStartSlot     uint64 `json:"consensusStartSlot"`     // first slot of the epoch after the previous snapshot block (may be empty)
	SnapshotSlot           uint64 `json:"snapshotSlot"`           // nominal last slot of the target epoch (may be empty)
	ConsensusStartBlock    uint64 `json:"consensusStartBlock"`    // first slot >= consensusStartSlot with a block
	ConsensusEndBlock      uint64 `json:"consensusEndBlock"`      // the snapshot block's slot
	ExecutionStartBlock    uint64 `json:"executionStartBlock"`
	ExecutionEndBlock      uint64 `json:"executionEndBlock"`
	ELStartTime            uint64 `json:"elStartTime"` // timestamp of EL header executionStartBlock
	ELEndTime              uint64 `json:"elEndTime"`   // timestamp of EL header executionEndBlock

	// RPL.
	PendingRPL              Wei `json:"pendingRpl"`              // getPendingRPLRewards
	NodePerc                Wei `json:"nodePerc"`                // getClaimingContractPerc("rocketClaimNode")
	TrustedNodePerc         Wei `json:"trustedNodePerc"`         // getClaimingContractPerc("rocketClaimTrustedNode")
	ProtocolDAOPerc         Wei `json:"protocolDaoPerc"`         // getClaimingContractPerc("rocketClaimDAO")
	RPLPrice                Wei `json:"rplPrice"`                // RocketNetworkPrices.getRPLPrice (ETH per RPL)
	MinimumPerMinipoolStake Wei `json:"minimumPerMinipoolStake"` // v8/v10 only; 0 after RPIP-62

	// ETH.
	SmoothingPoolBalance Wei `json:"smoothingPoolBalance"` // balance of rocketSmoothingPool at elBlock
	PendingVoterShare    Wei `json:"pendingVoterShare"`    // getPendingVoterShare (Saturn; 0 before)
	NodeShare            Wei `json:"nodeShare"`            // RocketNetworkRevenues.getCurrentNodeShare
	VoterShare           Wei `json:"voterShare"`           // getCurrentVoterShare
	ProtocolDAOShare     Wei `json:"protocolDaoShare"`     // getCurrentProtocolDAOShare

	EnabledNetworks []uint64 `json:"enabledNetworks"` // networks n > 0 with getNetworkEnabled(n) == true

	OracleDAO  []ODAOMember      `json:"oracleDao"`
	Nodes      []Node            `json:"nodes"`
	Minipools  []Minipool        `json:"minipools"`
	Megapools  []Megapool        `json:"megapools"`
	Validators []BeaconValidator `json:"validators"`
}

// ODAOMember is a member of RocketDAONodeTrusted at the snapshot.
type ODAOMember struct {
	Address    Address `json:"address"`
	JoinedTime uint64  `json:"joinedTime"` // getMemberJoinedTime
}

// Node is a registered node operator.
type Node struct {
	Address          Address `json:"address"`
	RegistrationTime uint64  `json:"registrationTime"` // getNodeRegistrationTime
	RewardNetwork    uint64  `json:"rewardNetwork"`    // getRewardNetwork (unvalidated)
	// Smoothing Pool state: getSmoothingPoolRegistrationState and
	// getSmoothingPoolRegistrationChanged (0 = never changed).
	SmoothingPoolRegistered bool   `json:"smoothingPoolRegistered"`
	SmoothingPoolChangeTime uint64 `json:"smoothingPoolChangeTime"`
	// LegacyStakedRPL is getNodeRPLStake before Saturn and
	// getNodeLegacyStakedRPL after.
	LegacyStakedRPL   Wei `json:"legacyStakedRpl"`
	MegapoolStakedRPL Wei `json:"megapoolStakedRpl"` // getNodeMegapoolStakedRPL
	MegapoolETHBonded Wei `json:"megapoolEthBonded"` // getNodeMegapoolETHBonded
}

// Minipool is one minipool and its bond-reduction history.
type Minipool struct {
	Address                      Address `json:"address"`
	Pubkey                       Pubkey  `json:"pubkey"`
	Node                         Address `json:"node"`
	Status                       string  `json:"status"`     // initialised, prelaunch, staking, withdrawable, dissolved
	StatusTime                   uint64  `json:"statusTime"` // getStatusTime
	NodeFee                      Wei     `json:"nodeFee"`
	NodeDepositBalance           Wei     `json:"nodeDepositBalance"` // the bond
	UserDepositBalance           Wei     `json:"userDepositBalance"` // borrowed ETH
	LastBondReductionTime        uint64  `json:"lastBondReductionTime"`
	LastBondReductionPrevValue   Wei     `json:"lastBondReductionPrevValue"`
	LastBondReductionPrevNodeFee Wei     `json:"lastBondReductionPrevNodeFee"`
	PenaltyCount                 uint64  `json:"penaltyCount"` // network.penalties.penalty
}

// Megapool is a deployed megapool and all validators that belong to it.
type Megapool struct {
	Address              Address             `json:"address"`
	Node                 Address             `json:"node"`
	NodeBond             Wei                 `json:"nodeBond"`             // getNodeBond
	UserCapital          Wei                 `json:"userCapital"`          // getUserCapital
	ActiveValidatorCount uint64              `json:"activeValidatorCount"` // getActiveValidatorCount
	Validators           []MegapoolValidator `json:"validators"`
}

// MegapoolValidator is RocketMegapoolManager.getValidatorInfo of one validator.
type MegapoolValidator struct {
	Pubkey     Pubkey `json:"pubkey"`
	ID         uint64 `json:"id"` // validator id inside the megapool
	Staked     bool   `json:"staked"`
	InPrestake bool   `json:"inPrestake"`
	Exiting    bool   `json:"exiting"`
	Exited     bool   `json:"exited"`
	// Last requested deposit value and bond, milli-ETH (ValidatorInfo units).
	LastRequestedValue uint64 `json:"lastRequestedValue"`
	LastRequestedBond  uint64 `json:"lastRequestedBond"`
}

// BeaconValidator is the beacon status of a protocol validator at the state of
// the snapshot block. A validator the beacon node does not know is omitted.
type BeaconValidator struct {
	Pubkey            Pubkey `json:"pubkey"`
	Index             uint64 `json:"index"`
	Status            string `json:"status"`
	ActivationEpoch   uint64 `json:"activationEpoch"`
	ExitEpoch         uint64 `json:"exitEpoch"`
	WithdrawableEpoch uint64 `json:"withdrawableEpoch"`
}

// SlotTime is genesis + slot * secondsPerSlot.
func (s *Snapshot) SlotTime(slot uint64) uint64 { return s.GenesisTime + slot*s.SecondsPerSlot }

// Canonical returns a deep-enough copy of s with every list sorted into its
// canonical order (nodes, minipools, megapools, oDAO by address; megapool
// validators by id; beacon validators by index; networks ascending).
func (s *Snapshot) Canonical() *Snapshot {
	c := *s
	c.EnabledNetworks = append([]uint64(nil), s.EnabledNetworks...)
	sort.Slice(c.EnabledNetworks, func(i, j int) bool { return c.EnabledNetworks[i] < c.EnabledNetworks[j] })
	c.OracleDAO = append([]ODAOMember(nil), s.OracleDAO...)
	sort.Slice(c.OracleDAO, func(i, j int) bool { return c.OracleDAO[i].Address.Less(c.OracleDAO[j].Address) })
	c.Nodes = append([]Node(nil), s.Nodes...)
	sort.Slice(c.Nodes, func(i, j int) bool { return c.Nodes[i].Address.Less(c.Nodes[j].Address) })
	c.Minipools = append([]Minipool(nil), s.Minipools...)
	sort.Slice(c.Minipools, func(i, j int) bool { return c.Minipools[i].Address.Less(c.Minipools[j].Address) })
	c.Megapools = make([]Megapool, len(s.Megapools))
	for i, m := range s.Megapools {
		m.Validators = append([]MegapoolValidator(nil), m.Validators...)
		sort.Slice(m.Validators, func(a, b int) bool {
			va, vb := m.Validators[a], m.Validators[b]
			if va.ID != vb.ID {
				return va.ID < vb.ID
			}
			return bytes.Compare(va.Pubkey[:], vb.Pubkey[:]) < 0
		})
		c.Megapools[i] = m
	}
	sort.Slice(c.Megapools, func(i, j int) bool { return c.Megapools[i].Address.Less(c.Megapools[j].Address) })
	c.Validators = append([]BeaconValidator(nil), s.Validators...)
	sort.Slice(c.Validators, func(i, j int) bool { return c.Validators[i].Index < c.Validators[j].Index })
	if c.EnabledNetworks == nil {
		c.EnabledNetworks = []uint64{}
	}
	for _, p := range []any{&c.OracleDAO, &c.Nodes, &c.Minipools, &c.Megapools, &c.Validators} {
		switch v := p.(type) {
		case *[]ODAOMember:
			if *v == nil {
				*v = []ODAOMember{}
			}
		case *[]Node:
			if *v == nil {
				*v = []Node{}
			}
		case *[]Minipool:
			if *v == nil {
				*v = []Minipool{}
			}
		case *[]Megapool:
			if *v == nil {
				*v = []Megapool{}
			}
		case *[]BeaconValidator:
			if *v == nil {
				*v = []BeaconValidator{}
			}
		}
	}
	for i := range c.Megapools {
		if c.Megapools[i].Validators == nil {
			c.Megapools[i].Validators = []MegapoolValidator{}
		}
	}
	return &c
}

// MarshalCanonical returns the canonical encoding: compact JSON of the
// canonical (sorted) form, followed by a newline.
func (s *Snapshot) MarshalCanonical() ([]byte, error) {
	b, err := json.Marshal(s.Canonical())
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return append(b, '\n'), nil
}

// Digest is the sha256 of the canonical encoding, as "0x" + hex. Two members
// with equal digests computed from the same inputs.
func (s *Snapshot) Digest() (string, error) {
	b, err := s.MarshalCanonical()
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(b)
	return "0x" + hex.EncodeToString(d[:]), nil
}

// DecodeSnapshot reads a snapshot (strict: unknown fields are errors) and
// validates it.
func DecodeSnapshot(r io.Reader) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("validate snapshot: %w", err)
	}
	return &s, nil
}

// Validate checks the snapshot for values no ruleset can use.
func (s *Snapshot) Validate() error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("snapshot version %d not supported (want %d)", s.Version, SnapshotVersion)
	}
	switch s.Network {
	case "mainnet", "testnet", "devnet":
	default:
		return fmt.Errorf("network %q is not one of mainnet, testnet, devnet", s.Network)
	}
	if s.SecondsPerSlot == 0 {
		return fmt.Errorf("secondsPerSlot is 0")
	}
	if s.SlotsPerEpoch != 32 {
		return fmt.Errorf("slotsPerEpoch is %d; only 32 is supported", s.SlotsPerEpoch)
	}
	if s.IntervalTime == 0 {
		return fmt.Errorf("intervalTime is 0")
	}
	if s.IntervalsPassed == 0 {
		return fmt.Errorf("intervalsPassed is 0")
	}
	if s.ConsensusEndBlock < s.ConsensusStartBlock {
		return fmt.Errorf("consensusEndBlock %d is before consensusStartBlock %d", s.ConsensusEndBlock, s.ConsensusStartBlock)
	}
	if s.PendingRPL.IsZero() {
		return fmt.Errorf("pendingRpl is 0 (no submission is possible)")
	}
	if s.RPLPrice.IsZero() {
		return fmt.Errorf("rplPrice is 0")
	}
	for _, p := range []struct {
		name string
		v    Wei
	}{{"nodePerc", s.NodePerc}, {"trustedNodePerc", s.TrustedNodePerc}, {"protocolDaoPerc", s.ProtocolDAOPerc},
		{"nodeShare", s.NodeShare}, {"voterShare", s.VoterShare}, {"protocolDaoShare", s.ProtocolDAOShare}} {
		if p.v.Big().Cmp(eth1) > 0 {
			return fmt.Errorf("%s %s is above 1e18 (100%%)", p.name, p.v)
		}
	}
	nodes := make(map[Address]bool, len(s.Nodes))
	for _, n := range s.Nodes {
		if nodes[n.Address] {
			return fmt.Errorf("node %s listed twice", n.Address)
		}
		nodes[n.Address] = true
	}
	seen := make(map[Address]bool)
	for _, m := range s.OracleDAO {
		if seen[m.Address] {
			return fmt.Errorf("oDAO member %s listed twice", m.Address)
		}
		seen[m.Address] = true
	}
	pubkeys := make(map[Pubkey]string)
	mps := make(map[Address]bool, len(s.Minipools))
	for _, mp := range s.Minipools {
		if mps[mp.Address] {
			return fmt.Errorf("minipool %s listed twice", mp.Address)
		}
		mps[mp.Address] = true
		if !nodes[mp.Node] {
			return fmt.Errorf("minipool %s belongs to unknown node %s", mp.Address, mp.Node)
		}
		if !minipoolStatuses[mp.Status] {
			return fmt.Errorf("minipool %s has unknown status %q", mp.Address, mp.Status)
		}
		if mp.NodeFee.Big().Cmp(eth1) > 0 || mp.LastBondReductionPrevNodeFee.Big().Cmp(eth1) > 0 {
			return fmt.Errorf("minipool %s has a node fee above 100%%", mp.Address)
		}
		if mp.NodeDepositBalance.Big().Cmp(eth32) > 0 || mp.LastBondReductionPrevValue.Big().Cmp(eth32) > 0 {
			return fmt.Errorf("minipool %s has a bond above 32 ETH", mp.Address)
		}
		if o, ok := pubkeys[mp.Pubkey]; ok {
			return fmt.Errorf("pubkey %s used by minipool %s and %s", mp.Pubkey, mp.Address, o)
		}
		pubkeys[mp.Pubkey] = "minipool " + mp.Address.Hex()
	}
	megaNodes := make(map[Address]bool)
	megas := make(map[Address]bool)
	for _, m := range s.Megapools {
		if megas[m.Address] {
			return fmt.Errorf("megapool %s listed twice", m.Address)
		}
		megas[m.Address] = true
		if !nodes[m.Node] {
			return fmt.Errorf("megapool %s belongs to unknown node %s", m.Address, m.Node)
		}
		if megaNodes[m.Node] {
			return fmt.Errorf("node %s has two megapools", m.Node)
		}
		megaNodes[m.Node] = true
		for _, v := range m.Validators {
			if o, ok := pubkeys[v.Pubkey]; ok {
				return fmt.Errorf("pubkey %s used by megapool %s and %s", v.Pubkey, m.Address, o)
			}
			pubkeys[v.Pubkey] = "megapool " + m.Address.Hex()
			if v.LastRequestedBond > v.LastRequestedValue {
				return fmt.Errorf("megapool %s validator %d: lastRequestedBond above lastRequestedValue", m.Address, v.ID)
			}
		}
	}
	idx := make(map[uint64]bool, len(s.Validators))
	vpk := make(map[Pubkey]bool, len(s.Validators))
	for _, v := range s.Validators {
		if idx[v.Index] {
			return fmt.Errorf("beacon validator index %d listed twice", v.Index)
		}
		idx[v.Index] = true
		if vpk[v.Pubkey] {
			return fmt.Errorf("beacon validator %s listed twice", v.Pubkey)
		}
		vpk[v.Pubkey] = true
		if !beaconStatuses[v.Status] {
			return fmt.Errorf("beacon validator %d has unknown status %q", v.Index, v.Status)
		}
	}
	return nil
}
