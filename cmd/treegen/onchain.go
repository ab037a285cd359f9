package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/odaowatch/watchtower/chain/execution"
)

// onChainFlags select the execution client used to compare a file with the chain.
type onChainFlags struct {
	ec, storage, multicall string
	timeout                time.Duration
}

// onChain is what the chain says about an interval.
type onChain struct {
	ChainID  uint64       `json:"chainId"`
	Executed bool         `json:"executed"`
	Root     *common.Hash `json:"root,omitempty"`
	Matches  bool         `json:"matches"`
}

// rootOnChain reads interval index's RewardSnapshot root from the EL: Executed is false while the interval is
// still open (its index is not below the rewards pool's current index).
func rootOnChain(ctx context.Context, f onChainFlags, index uint64, fileRoot common.Hash) (*onChain, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, f.ec)
	if err != nil {
		return nil, fmt.Errorf("connect to the execution client: %w", err)
	}
	defer ec.Close()
	chainID, err := ec.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the EL chain id: %w", err)
	}
	storage := f.storage
	if storage == "" {
		storage = rocketStorageByChainID[chainID.Uint64()]
	}
	if !common.IsHexAddress(storage) {
		return nil, fmt.Errorf("no RocketStorage address for chain %s: give --storage-address", chainID)
	}
	if !common.IsHexAddress(f.multicall) {
		return nil, fmt.Errorf("--multicall %q is not an address", f.multicall)
	}
	el, err := execution.New(ctx, execution.WithClient(ec), execution.WithStorageAddress(common.HexToAddress(storage)),
		execution.WithMulticall(common.HexToAddress(f.multicall)), execution.WithTimeout(f.timeout))
	if err != nil {
		return nil, fmt.Errorf("execution reader: %w", err)
	}
	head, err := ec.BlockNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the EL head: %w", err)
	}
	info, err := el.IntervalInfo(ctx, head)
	if err != nil {
		return nil, err
	}
	out := &onChain{ChainID: chainID.Uint64()}
	if index >= info.RewardIndex {
		return out, nil
	}
	ev, err := el.RewardSnapshotEvent(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("interval %d: %w", index, err)
	}
	out.Executed, out.Root, out.Matches = true, &ev.MerkleRoot, ev.MerkleRoot == fileRoot
	return out, nil
}
