package rewards

import "math/big"

// Result is everything a ruleset computes for one interval. Every list is in
// canonical order (nodes, minipools, megapools by address; networks ascending;
// megapool validators by id). Amounts are wei and never nil.
type Result struct {
	Ruleset         int
	Network         string
	ChainID         uint64
	Index           uint64
	IntervalsPassed uint64

	// Header (Unix seconds / slots / EL blocks) as the ruleset writes it.
	StartTime           uint64
	EndTime             uint64
	ConsensusStartBlock uint64
	ConsensusEndBlock   uint64
	ExecutionStartBlock uint64
	ExecutionEndBlock   uint64

	Totals   Totals
	Nodes    []NodeReward
	Networks []NetworkReward

	// Performance (not consensus).
	Minipools   []MinipoolPerformance
	Megapools   []MegapoolPerformance
	BonusScalar *big.Int // 1e18 = bonuses not scaled

	// Diagnostics.
	SuccessfulAttestations uint64   // N
	TotalAttestationScore  *big.Int // Σ score

	scoreZero bool // v11 split ended early: no scored attestation
}

// Totals are the file's totalRewards.
type Totals struct {
	ProtocolDAORPL               *big.Int
	TotalCollateralRPL           *big.Int
	TotalOracleDAORPL            *big.Int
	TotalSmoothingPoolETH        *big.Int // the SP balance
	PoolStakerSmoothingPoolETH   *big.Int // rETH share, absorbs truncation
	NodeOperatorSmoothingPoolETH *big.Int
	TotalNodeWeight              *big.Int
	// v11 only (zero otherwise).
	TotalVoterShareETH         *big.Int // Σ node voter shares paid
	SmoothingPoolVoterShareETH *big.Int // voter part taken from the SP
	TotalPDAOShareETH          *big.Int // pDAO part taken from the SP
	PendingVoterShare          *big.Int // PVS input (not a file field)
}

// NodeReward is one node's entry (a Merkle leaf).
type NodeReward struct {
	Address          Address
	RewardNetwork    uint64
	CollateralRPL    *big.Int
	OracleDAORPL     *big.Int
	SmoothingPoolETH *big.Int
	VoterShareETH    *big.Int // v11 only
	// Diagnostics (not in the file).
	Weight *big.Int
	IsODAO bool
}

// NetworkReward sums the node entries of one reward network. In v11
// SmoothingPoolETH includes the voter share.
type NetworkReward struct {
	Network          uint64
	CollateralRPL    *big.Int
	OracleDAORPL     *big.Int
	SmoothingPoolETH *big.Int
}

// MinipoolPerformance is a minipool's entry in the performance file.
type MinipoolPerformance struct {
	Address                 Address
	Pubkey                  Pubkey
	Node                    Address
	SuccessfulAttestations  uint64
	MissedAttestations      uint64
	AttestationScore        *big.Int
	MissingAttestationSlots []uint64 // ascending
	EthEarned               *big.Int
	// v10 bonus (nil when this minipool was not considered for a bonus).
	ConsensusIncome     *big.Int
	BonusEthEarned      *big.Int
	EffectiveCommission *big.Int
}

// ValidatorPerformance is a megapool validator's entry in the performance file.
type ValidatorPerformance struct {
	Pubkey                  Pubkey
	ID                      uint64
	SuccessfulAttestations  uint64
	MissedAttestations      uint64
	AttestationScore        *big.Int
	MissingAttestationSlots []uint64
	EthEarned               *big.Int
}

// MegapoolPerformance is a megapool's entry in the performance file.
// VoterShare is set only when Validators is empty (quirk Q8).
type MegapoolPerformance struct {
	Address    Address
	Node       Address
	VoterShare *big.Int
	Validators []ValidatorPerformance
}
