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
	genesisTime    uint64
	secondsPerSlot uint64
	lastSlot       uint64
	feeRecipient   common.Address
}

// ELNodeConfig configures NewELNode.
type ELNodeConfig struct {
	// Alloc funds accounts at genesis (system contracts of the active forks are added).
	Alloc types.GenesisAlloc
	// GenesisTime is the timestamp of EL block 0 (slot 0); SecondsPerSlot spaces the following blocks.
	GenesisTime    uint64
	SecondsPerSlot uint64
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
		Timestamp: cfg.GenesisTime,
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
	return &ELNode{stack: stack, eth: backend, client: client, genesisTime: cfg.GenesisTime, secondsPerSlot: cfg.SecondsPerSlot}, nil
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

// LastSlot is the slot of the head EL block (0 = genesis).
func (n *ELNode) LastSlot() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastSlot
}

// SetFeeRecipient sets the coinbase of the following blocks.
func (n *ELNode) SetFeeRecipient(a common.Address) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.feeRecipient = a
}

// Commit produces the block of the next slot with every pending transaction (a commit function for Seed).
func (n *ELNode) Commit() {
	n.mu.Lock()
	next := n.lastSlot + 1
	n.mu.Unlock()
	if _, err := n.ProduceSlot(context.Background(), next, common.Hash{}); err != nil {
		panic(fmt.Sprintf("el node: produce slot %d: %v", next, err)) // the backend is in-process: a failure is a bug
	}
}

// ProduceSlot builds, imports and makes canonical the EL block of a slot: timestamp genesis + slot × seconds per
// slot, all pending transactions, no withdrawals, parentBeaconBlockRoot = beaconRoot. Slots must increase;
// skipped slots have no EL block.
func (n *ELNode) ProduceSlot(ctx context.Context, slot uint64, beaconRoot common.Hash) (*types.Header, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if slot <= n.lastSlot {
		return nil, fmt.Errorf("el node: slot %d is not after the head slot %d", slot, n.lastSlot)
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
	ts := n.genesisTime + slot*n.secondsPerSlot
	if ts <= parent.Time {
		return nil, fmt.Errorf("el node: slot %d time %d not after the head time %d", slot, ts, parent.Time)
	}
	var random common.Hash
	big.NewInt(int64(slot)).FillBytes(random[24:])
	root := beaconRoot
	payload, err := n.eth.Miner().BuildPayload(ctx, &miner.BuildPayloadArgs{
		Parent:       parent.Hash(),
		Timestamp:    ts,
		FeeRecipient: n.feeRecipient,
		Random:       random,
		Withdrawals:  types.Withdrawals{},
		BeaconRoot:   &root,
		Version:      engine.PayloadV3,
	}, false)
	if err != nil {
		return nil, fmt.Errorf("el node: build payload for slot %d: %w", slot, err)
	}
	env := payload.ResolveFull()
	if env == nil || env.ExecutionPayload == nil {
		return nil, fmt.Errorf("el node: no payload for slot %d", slot)
	}
	block, err := engine.ExecutableDataToBlock(*env.ExecutionPayload, nil, &root, env.Requests)
	if err != nil {
		return nil, fmt.Errorf("el node: payload of slot %d to block: %w", slot, err)
	}
	if _, err := chain.InsertBlockWithoutSetHead(ctx, block, false); err != nil {
		return nil, fmt.Errorf("el node: insert block of slot %d: %w", slot, err)
	}
	if _, err := chain.SetCanonical(block); err != nil {
		return nil, fmt.Errorf("el node: set head to slot %d: %w", slot, err)
	}
	n.lastSlot = slot
	return block.Header(), nil
}
