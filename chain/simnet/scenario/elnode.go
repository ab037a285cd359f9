package scenario

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	gethEth "github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/miner"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// ELChainID is the chain id of the in-process execution node (the go-ethereum dev chain id).
const ELChainID = 1337

// ELNode is an in-process go-ethereum node (real EVM, all forks through the dev chain's) whose blocks are produced
// on demand with caller-chosen timestamps, so that exactly one EL block exists per beacon slot, stamped with the
// slot's time. It serves JSON-RPC over HTTP on loopback.
type ELNode struct {
	stack  *node.Node
	eth    *gethEth.Ethereum
	client *ethclient.Client

	mu             sync.Mutex
	elGenesisTime  uint64
	secondsPerSlot uint64
	preGenesis     uint64 // EL slots before the beacon genesis
	elSlot         uint64 // EL slot of the head (EL genesis = 0)
	feeRecipient   common.Address
	commitErr      error
}

// ELNodeConfig configures NewELNode.
type ELNodeConfig struct {
	// Alloc funds accounts at genesis (system contracts of the active forks are added).
	Alloc types.GenesisAlloc
	// GenesisTime is the beacon genesis time (slot 0); SecondsPerSlot spaces the blocks.
	GenesisTime    uint64
	SecondsPerSlot uint64
	// PreGenesisSlots puts EL block 0 that many slots before the beacon genesis, leaving room for seeding blocks
	// that have no beacon counterpart; SealGenesis then produces the block of beacon slot 0. 0: EL block 0 is
	// the block of beacon slot 0.
	PreGenesisSlots uint64
	// HTTPPort on 127.0.0.1; 0 picks a free port.
	HTTPPort int
	// GasLimit of the genesis block (default 60M).
	GasLimit uint64
}

// NewELNode starts the node. Close it when done.
func NewELNode(cfg ELNodeConfig) (*ELNode, error) {
	if cfg.SecondsPerSlot == 0 {
		return nil, errors.New("el node: seconds per slot must be > 0")
	}
	if cfg.GasLimit == 0 {
		cfg.GasLimit = 60_000_000
	}
	if cfg.PreGenesisSlots*cfg.SecondsPerSlot > cfg.GenesisTime {
		return nil, errors.New("el node: pre-genesis slots reach before Unix time 0")
	}
	elGenesisTime := cfg.GenesisTime - cfg.PreGenesisSlots*cfg.SecondsPerSlot
	nodeCfg := node.DefaultConfig
	nodeCfg.DataDir = "" // in memory
	nodeCfg.P2P = p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""}
	nodeCfg.HTTPHost = "127.0.0.1"
	nodeCfg.HTTPPort = cfg.HTTPPort
	nodeCfg.HTTPModules = []string{"eth", "net", "web3"}
	nodeCfg.HTTPVirtualHosts = []string{"localhost", "127.0.0.1"}
	nodeCfg.WSHost, nodeCfg.AuthPort = "", 0
	nodeCfg.IPCPath = ""
	stack, err := node.New(&nodeCfg)
	if err != nil {
		return nil, fmt.Errorf("el node: create node: %w", err)
	}
	alloc := core.SystemContractAllocs()
	maps.Copy(alloc, cfg.Alloc)
	ethCfg := ethconfig.Defaults
	ethCfg.NetworkId = ELChainID
	ethCfg.Genesis = &core.Genesis{
		Config:    params.AllDevChainProtocolChanges,
		Timestamp: elGenesisTime,
		GasLimit:  cfg.GasLimit,
		BaseFee:   big.NewInt(params.InitialBaseFee),
		Alloc:     alloc,
	}
	ethCfg.SyncMode = ethconfig.FullSync
	ethCfg.TxPool.NoLocals = true
	ethCfg.Miner.GasCeil = cfg.GasLimit
	backend, err := gethEth.New(stack, &ethCfg)
	if err != nil {
		_ = stack.Close()
		return nil, fmt.Errorf("el node: create eth service: %w", err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	if err := stack.Start(); err != nil {
		_ = stack.Close()
		return nil, fmt.Errorf("el node: start: %w", err)
	}
	client, err := ethclient.Dial(stack.HTTPEndpoint())
	if err != nil {
		_ = stack.Close()
		return nil, fmt.Errorf("el node: dial %s: %w", stack.HTTPEndpoint(), err)
	}
	return &ELNode{stack: stack, eth: backend, client: client, elGenesisTime: elGenesisTime, secondsPerSlot: cfg.SecondsPerSlot, preGenesis: cfg.PreGenesisSlots}, nil
}

// URL is the HTTP JSON-RPC endpoint on loopback.
func (n *ELNode) URL() string { return n.stack.HTTPEndpoint() }

// Client is an ethclient connected over HTTP.
func (n *ELNode) Client() *ethclient.Client { return n.client }

// Close stops the node.
func (n *ELNode) Close() error {
	n.client.Close()
	return n.stack.Close()
}

// LastSlot is the beacon slot of the head EL block (0 at or before the beacon genesis).
func (n *ELNode) LastSlot() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.elSlot < n.preGenesis {
		return 0
	}
	return n.elSlot - n.preGenesis
}

// GenesisSealed reports whether the block of beacon slot 0 exists.
func (n *ELNode) GenesisSealed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.elSlot >= n.preGenesis
}

// SetFeeRecipient sets the coinbase of blocks produced by Commit.
func (n *ELNode) SetFeeRecipient(a common.Address) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.feeRecipient = a
}

// Commit produces the block of the next slot (pre-genesis slots first) with every pending transaction; it is
// the commit function for Seed. A failure is kept for CommitErr (callers then also see their transactions
// unmined).
func (n *ELNode) Commit() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.produce(context.Background(), n.elSlot+1, BlockSpec{FeeRecipient: n.feeRecipient}); err != nil && n.commitErr == nil {
		n.commitErr = fmt.Errorf("el node: produce EL slot %d: %w", n.elSlot+1, err)
	}
}

// CommitErr returns the first error of Commit, if any.
func (n *ELNode) CommitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.commitErr
}

// SealGenesis produces the block of beacon slot 0 (the beacon chain's genesis payload), skipping the unused
// pre-genesis slots, and returns its number (the beacon scenario's el_genesis_block).
func (n *ELNode) SealGenesis(ctx context.Context) (uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.elSlot >= n.preGenesis {
		return 0, fmt.Errorf("el node: genesis slot already produced")
	}
	h, err := n.produce(ctx, n.preGenesis, BlockSpec{FeeRecipient: n.feeRecipient})
	if err != nil {
		return 0, err
	}
	return h.Number.Uint64(), nil
}

// BlockSpec shapes the block of one beacon slot.
type BlockSpec struct {
	// BeaconRoot is the parent beacon block root (EIP-4788).
	BeaconRoot common.Hash
	// FeeRecipient is the block's coinbase.
	FeeRecipient common.Address
	// Withdrawals credited by the block (beacon sweep).
	Withdrawals types.Withdrawals
}

// ProduceSlot builds the block of a beacon slot with an empty spec except the beacon root.
func (n *ELNode) ProduceSlot(ctx context.Context, slot uint64, beaconRoot common.Hash) (*types.Header, error) {
	return n.ProduceBlock(ctx, slot, BlockSpec{BeaconRoot: beaconRoot})
}

// ProduceBlock builds, imports and makes canonical the EL block of a beacon slot: timestamp genesis + slot ×
// seconds per slot, all pending transactions, the spec's coinbase, withdrawals and parent beacon root. Slots must
// increase; slots without a beacon block get no EL block.
func (n *ELNode) ProduceBlock(ctx context.Context, slot uint64, spec BlockSpec) (*types.Header, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.produce(ctx, slot+n.preGenesis, spec)
}

// produce makes the block of EL slot elSlot (EL genesis = 0). Callers hold n.mu.
func (n *ELNode) produce(ctx context.Context, elSlot uint64, spec BlockSpec) (*types.Header, error) {
	if elSlot <= n.elSlot {
		return nil, fmt.Errorf("el node: EL slot %d is not after the head EL slot %d", elSlot, n.elSlot)
	}
	if err := n.eth.TxPool().Sync(); err != nil {
		return nil, fmt.Errorf("el node: sync txpool: %w", err)
	}
	// Transactions just added wait in the queue until the pool promotes them (asynchronously); give it a moment
	// so that what was sent before this call lands in this slot. Bounded: a nonce gap keeps a queue forever.
	for i := 0; i < 40; i++ {
		if _, queued := n.eth.TxPool().Stats(); queued == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	chain := n.eth.BlockChain()
	parent := chain.CurrentBlock()
	ts := n.elGenesisTime + elSlot*n.secondsPerSlot
	if ts <= parent.Time {
		return nil, fmt.Errorf("el node: EL slot %d time %d not after the head time %d", elSlot, ts, parent.Time)
	}
	var random common.Hash
	big.NewInt(int64(elSlot)).FillBytes(random[24:])
	root := spec.BeaconRoot
	withdrawals := spec.Withdrawals
	if withdrawals == nil {
		withdrawals = types.Withdrawals{}
	}
	payload, err := n.eth.Miner().BuildPayload(ctx, &miner.BuildPayloadArgs{
		Parent:       parent.Hash(),
		Timestamp:    ts,
		FeeRecipient: spec.FeeRecipient,
		Random:       random,
		Withdrawals:  withdrawals,
		BeaconRoot:   &root,
		Version:      engine.PayloadV3,
	}, false)
	if err != nil {
		return nil, fmt.Errorf("el node: build payload for EL slot %d: %w", elSlot, err)
	}
	env := payload.ResolveFull()
	if env == nil || env.ExecutionPayload == nil {
		return nil, fmt.Errorf("el node: no payload for EL slot %d", elSlot)
	}
	block, err := engine.ExecutableDataToBlock(*env.ExecutionPayload, nil, &root, env.Requests)
	if err != nil {
		return nil, fmt.Errorf("el node: payload of EL slot %d to block: %w", elSlot, err)
	}
	if _, err := chain.InsertBlockWithoutSetHead(ctx, block, false); err != nil {
		return nil, fmt.Errorf("el node: insert block of EL slot %d: %w", elSlot, err)
	}
	if _, err := chain.SetCanonical(block); err != nil {
		return nil, fmt.Errorf("el node: set head to EL slot %d: %w", elSlot, err)
	}
	n.elSlot = elSlot
	return block.Header(), nil
}

// Block returns the canonical block with the given number.
func (n *ELNode) Block(number uint64) *types.Block {
	return n.eth.BlockChain().GetBlockByNumber(number)
}
