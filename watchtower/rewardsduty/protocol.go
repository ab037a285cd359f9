package rewardsduty

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// Protocol is what the duty reads from and writes to the Rocket Pool contracts (at the latest block).
type Protocol interface {
	RewardIndex(ctx context.Context) (uint64, error)
	MemberIsValid(ctx context.Context, member common.Address) (bool, error)
	MemberCount(ctx context.Context) (uint64, error)
	// Submitted reads the per-member flag keccak256(abi.encode("rewards.snapshot.submitted.node", member, index)).
	Submitted(ctx context.Context, member common.Address, index uint64) (bool, error)
	SubmissionCount(ctx context.Context, s *interval.Submission) (uint64, error)
	ConsensusThreshold(ctx context.Context) (*big.Int, error)
	// RewardsPool is the address submissions and executions are sent to.
	RewardsPool() common.Address
	SubmitCalldata(s *interval.Submission) ([]byte, error)
	ExecuteCalldata(s *interval.Submission) ([]byte, error)
}

// Contracts implements Protocol with the contract ABIs (Saturn RocketRewardsPool, RocketDAONodeTrusted,
// RocketDAOProtocolSettingsNetwork), addresses resolved from RocketStorage.
type Contracts struct {
	pool     *bindings.RocketRewardsPool
	trusted  *bindings.RocketDAONodeTrusted
	settings *bindings.RocketDAOProtocolSettingsNetwork
	poolAddr common.Address
	poolABI  *abi.ABI
}

// NewContracts resolves the contract addresses from RocketStorage at the latest block.
func NewContracts(ctx context.Context, backend bind.ContractBackend, storage common.Address) (*Contracts, error) {
	st, err := bindings.NewRocketStorage(storage, backend)
	if err != nil {
		return nil, fmt.Errorf("bind RocketStorage: %w", err)
	}
	addr := func(name string) (common.Address, error) {
		a, err := st.GetAddress(&bind.CallOpts{Context: ctx}, crypto.Keccak256Hash([]byte("contract.address"+name)))
		if err != nil {
			return common.Address{}, fmt.Errorf("read address of %s: %w", name, err)
		}
		if a == (common.Address{}) {
			return common.Address{}, fmt.Errorf("address of %s not set in RocketStorage %s", name, storage.Hex())
		}
		return a, nil
	}
	c := &Contracts{}
	if c.poolAddr, err = addr("rocketRewardsPool"); err != nil {
		return nil, err
	}
	trustedAddr, err := addr("rocketDAONodeTrusted")
	if err != nil {
		return nil, err
	}
	settingsAddr, err := addr("rocketDAOProtocolSettingsNetwork")
	if err != nil {
		return nil, err
	}
	if c.pool, err = bindings.NewRocketRewardsPool(c.poolAddr, backend); err != nil {
		return nil, fmt.Errorf("bind RocketRewardsPool: %w", err)
	}
	if c.trusted, err = bindings.NewRocketDAONodeTrusted(trustedAddr, backend); err != nil {
		return nil, fmt.Errorf("bind RocketDAONodeTrusted: %w", err)
	}
	if c.settings, err = bindings.NewRocketDAOProtocolSettingsNetwork(settingsAddr, backend); err != nil {
		return nil, fmt.Errorf("bind RocketDAOProtocolSettingsNetwork: %w", err)
	}
	if c.poolABI, err = bindings.RocketRewardsPoolMetaData.GetAbi(); err != nil {
		return nil, fmt.Errorf("parse RocketRewardsPool ABI: %w", err)
	}
	return c, nil
}

func u64(x *big.Int, what string) (uint64, error) {
	if x == nil || !x.IsUint64() {
		return 0, fmt.Errorf("%s out of range: %v", what, x)
	}
	return x.Uint64(), nil
}

func (c *Contracts) RewardIndex(ctx context.Context) (uint64, error) {
	v, err := c.pool.GetRewardIndex(&bind.CallOpts{Context: ctx})
	if err != nil {
		return 0, fmt.Errorf("read reward index: %w", err)
	}
	return u64(v, "reward index")
}

func (c *Contracts) MemberIsValid(ctx context.Context, member common.Address) (bool, error) {
	ok, err := c.trusted.GetMemberIsValid(&bind.CallOpts{Context: ctx}, member)
	if err != nil {
		return false, fmt.Errorf("read oDAO membership of %s: %w", member.Hex(), err)
	}
	return ok, nil
}

func (c *Contracts) MemberCount(ctx context.Context) (uint64, error) {
	v, err := c.trusted.GetMemberCount(&bind.CallOpts{Context: ctx})
	if err != nil {
		return 0, fmt.Errorf("read oDAO member count: %w", err)
	}
	return u64(v, "member count")
}

func (c *Contracts) Submitted(ctx context.Context, member common.Address, index uint64) (bool, error) {
	ok, err := c.pool.GetTrustedNodeSubmitted(&bind.CallOpts{Context: ctx}, member, new(big.Int).SetUint64(index))
	if err != nil {
		return false, fmt.Errorf("read submitted flag of %s for index %d: %w", member.Hex(), index, err)
	}
	return ok, nil
}

func (c *Contracts) SubmissionCount(ctx context.Context, s *interval.Submission) (uint64, error) {
	v, err := c.pool.GetSubmissionCount(&bind.CallOpts{Context: ctx}, Binding(s))
	if err != nil {
		return 0, fmt.Errorf("read submission count: %w", err)
	}
	return u64(v, "submission count")
}

func (c *Contracts) ConsensusThreshold(ctx context.Context) (*big.Int, error) {
	v, err := c.settings.GetNodeConsensusThreshold(&bind.CallOpts{Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("read consensus threshold: %w", err)
	}
	return v, nil
}

func (c *Contracts) RewardsPool() common.Address { return c.poolAddr }

func (c *Contracts) SubmitCalldata(s *interval.Submission) ([]byte, error) {
	d, err := c.poolABI.Pack("submitRewardSnapshot", Binding(s))
	if err != nil {
		return nil, fmt.Errorf("encode submitRewardSnapshot: %w", err)
	}
	return d, nil
}

func (c *Contracts) ExecuteCalldata(s *interval.Submission) ([]byte, error) {
	d, err := c.poolABI.Pack("executeRewardSnapshot", Binding(s))
	if err != nil {
		return nil, fmt.Errorf("encode executeRewardSnapshot: %w", err)
	}
	return d, nil
}

// Binding converts a submission to the contract's RewardSubmission tuple, field by field in contract order
// (watchtower-duties.md §3.4).
func Binding(s *interval.Submission) bindings.RewardSubmission {
	b := func(x *big.Int) *big.Int {
		if x == nil {
			return new(big.Int)
		}
		return new(big.Int).Set(x)
	}
	arr := func(xs []*big.Int) []*big.Int {
		out := make([]*big.Int, len(xs))
		for i, x := range xs {
			out[i] = b(x)
		}
		return out
	}
	return bindings.RewardSubmission{
		RewardIndex:      new(big.Int).SetUint64(s.RewardIndex),
		ExecutionBlock:   new(big.Int).SetUint64(s.ExecutionBlock),
		ConsensusBlock:   new(big.Int).SetUint64(s.ConsensusBlock),
		MerkleRoot:       s.MerkleRoot,
		IntervalsPassed:  new(big.Int).SetUint64(s.IntervalsPassed),
		SmoothingPoolETH: b(s.SmoothingPoolETH),
		TreasuryRPL:      b(s.TreasuryRPL),
		TreasuryETH:      b(s.TreasuryETH),
		UserETH:          b(s.UserETH),
		TrustedNodeRPL:   arr(s.TrustedNodeRPL),
		NodeRPL:          arr(s.NodeRPL),
		NodeETH:          arr(s.NodeETH),
	}
}
