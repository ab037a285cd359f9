// Package execution is the execution-layer reader of the watchtower and treegen: the rewards engine's network
// snapshot read at one EL block through the protocol contracts' ABIs, batched with Multicall3 aggregate3, and the
// RewardSnapshot event of a past interval from logs, with a local event file as fallback.
package execution

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"
)

// Client is what the reader needs from an execution client: eth_call at a block, balances, headers and logs.
// *ethclient.Client and the simulated backend's client implement it.
type Client interface {
	CallContract(ctx context.Context, msg ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	ChainID(ctx context.Context) (*big.Int, error)
}

// Service reads protocol state from an execution client.
type Service struct {
	log zerolog.Logger
	p   *parameters
}

// New builds an EL reader. It does not contact the client.
func New(ctx context.Context, params ...Parameter) (*Service, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	_ = ctx
	return &Service{log: p.log.With().Str("service", "execution").Logger(), p: p}, nil
}

// Header returns the EL header of a block (nil number = latest).
func (s *Service) Header(ctx context.Context, number *big.Int) (*types.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, s.p.timeout)
	defer cancel()
	h, err := s.p.client.HeaderByNumber(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("read EL header %v: %w", number, err)
	}
	return h, nil
}

// ChainID is the client's chain id.
func (s *Service) ChainID(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.p.timeout)
	defer cancel()
	id, err := s.p.client.ChainID(ctx)
	if err != nil {
		return 0, fmt.Errorf("read chain id: %w", err)
	}
	if !id.IsUint64() {
		return 0, fmt.Errorf("read chain id: %s does not fit 64 bits", id)
	}
	return id.Uint64(), nil
}
