package defection

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/rewards"
)

// State is the protocol state the detector needs.
type State interface {
	// Validator returns the protocol validator with this beacon index, nil if it is not a protocol validator.
	Validator(ctx context.Context, index phase0.ValidatorIndex) (*ProtocolValidator, error)
	// NodeState is the node's Smoothing Pool state after EL block number block.
	NodeState(ctx context.Context, node common.Address, block uint64) (NodeState, error)
	// Addresses are the Smoothing Pool and rETH.
	Addresses(ctx context.Context) (Addresses, error)
}

// Registry maps beacon indices to protocol validators.
type Registry struct {
	byIndex map[phase0.ValidatorIndex]ProtocolValidator
}

// NewRegistry builds a registry; duplicate indices are an error.
func NewRegistry(vals []ProtocolValidator) (*Registry, error) {
	r := &Registry{byIndex: make(map[phase0.ValidatorIndex]ProtocolValidator, len(vals))}
	for _, v := range vals {
		if _, dup := r.byIndex[v.Index]; dup {
			return nil, fmt.Errorf("registry: validator index %d listed twice", v.Index)
		}
		if v.Kind != KindMinipool && v.Kind != KindMegapool {
			return nil, fmt.Errorf("registry: validator %d has kind %q", v.Index, v.Kind)
		}
		r.byIndex[v.Index] = v
	}
	return r, nil
}

// Lookup returns the validator with this index.
func (r *Registry) Lookup(index phase0.ValidatorIndex) (*ProtocolValidator, bool) {
	v, ok := r.byIndex[index]
	if !ok {
		return nil, false
	}
	return &v, true
}

// Len is the number of validators.
func (r *Registry) Len() int { return len(r.byIndex) }

var (
	storageABI     = bindings.MustABI(bindings.RocketStorageMetaData)
	nodeManagerABI = bindings.MustABI(bindings.RocketNodeManagerMetaData)
	factoryABI     = bindings.MustABI(bindings.RocketNodeDistributorFactoryMetaData)
	minipoolMgrABI = bindings.MustABI(bindings.RocketMinipoolManagerMetaData)
	minipoolABI    = bindings.MustABI(bindings.RocketMinipoolMetaData)
	megapoolABI    = bindings.MustABI(bindings.RocketMegapoolDelegateMetaData)
	mpManagerABI   = bindings.MustABI(bindings.RocketMegapoolManagerMetaData)
	penaltiesABI   = bindings.MustABI(bindings.RocketNetworkPenaltiesMetaData)
	mpPenaltiesABI = bindings.MustABI(bindings.RocketMegapoolPenaltiesMetaData)
)

// Caller runs eth_call (ethclient.Client and the simulated backend's client implement it).
type Caller interface {
	CallContract(ctx context.Context, msg ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
}

// ChainState implements State over an execution client and a registry.
type ChainState struct {
	client    Caller
	registry  *Registry
	addrs     Addresses
	nodeMgr   common.Address
	factory   common.Address
	storage   common.Address
	mu        sync.Mutex
	distCache map[common.Address]common.Address
}

// ContractAddress resolves a registered contract from RocketStorage.
func ContractAddress(ctx context.Context, c Caller, storage common.Address, name string) (common.Address, error) {
	out, err := call(ctx, c, storage, storageABI, nil, "getAddress", crypto.Keccak256Hash([]byte("contract.address"+name)))
	if err != nil {
		return common.Address{}, fmt.Errorf("resolve %s: %w", name, err)
	}
	a, ok := out[0].(common.Address)
	if !ok || a == (common.Address{}) {
		return common.Address{}, fmt.Errorf("resolve %s: not registered in RocketStorage %s", name, storage.Hex())
	}
	return a, nil
}

// NewChainState resolves the contracts from RocketStorage.
func NewChainState(ctx context.Context, c Caller, storage common.Address, reg *Registry) (*ChainState, error) {
	if c == nil || reg == nil {
		return nil, errors.New("chain state: execution client and registry are required")
	}
	s := &ChainState{client: c, registry: reg, storage: storage, distCache: map[common.Address]common.Address{}}
	var err error
	if s.addrs.SmoothingPool, err = ContractAddress(ctx, c, storage, "rocketSmoothingPool"); err != nil {
		return nil, err
	}
	if s.addrs.RETH, err = ContractAddress(ctx, c, storage, "rocketTokenRETH"); err != nil {
		return nil, err
	}
	if s.nodeMgr, err = ContractAddress(ctx, c, storage, "rocketNodeManager"); err != nil {
		return nil, err
	}
	if s.factory, err = ContractAddress(ctx, c, storage, "rocketNodeDistributorFactory"); err != nil {
		return nil, err
	}
	return s, nil
}

// Validator implements State.
func (s *ChainState) Validator(_ context.Context, index phase0.ValidatorIndex) (*ProtocolValidator, error) {
	v, ok := s.registry.Lookup(index)
	if !ok {
		return nil, nil
	}
	return v, nil
}

// Addresses implements State.
func (s *ChainState) Addresses(context.Context) (Addresses, error) { return s.addrs, nil }

// NodeState implements State.
func (s *ChainState) NodeState(ctx context.Context, node common.Address, block uint64) (NodeState, error) {
	b := new(big.Int).SetUint64(block)
	out, err := call(ctx, s.client, s.nodeMgr, nodeManagerABI, b, "getSmoothingPoolRegistrationState", node)
	if err != nil {
		return NodeState{}, fmt.Errorf("read Smoothing Pool state of %s at block %d: %w", node.Hex(), block, err)
	}
	in, ok := out[0].(bool)
	if !ok {
		return NodeState{}, fmt.Errorf("read Smoothing Pool state of %s: not a bool", node.Hex())
	}
	out, err = call(ctx, s.client, s.nodeMgr, nodeManagerABI, b, "getSmoothingPoolRegistrationChanged", node)
	if err != nil {
		return NodeState{}, fmt.Errorf("read Smoothing Pool change time of %s at block %d: %w", node.Hex(), block, err)
	}
	changed, ok := out[0].(*big.Int)
	if !ok || !changed.IsUint64() {
		return NodeState{}, fmt.Errorf("read Smoothing Pool change time of %s: bad value", node.Hex())
	}
	dist, err := s.distributor(ctx, node)
	if err != nil {
		return NodeState{}, err
	}
	return NodeState{OptedIn: in, ChangedTime: changed.Uint64(), Distributor: dist}, nil
}

func (s *ChainState) distributor(ctx context.Context, node common.Address) (common.Address, error) {
	s.mu.Lock()
	d, ok := s.distCache[node]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	out, err := call(ctx, s.client, s.factory, factoryABI, nil, "getProxyAddress", node)
	if err != nil {
		return common.Address{}, fmt.Errorf("read fee distributor of %s: %w", node.Hex(), err)
	}
	d, ok = out[0].(common.Address)
	if !ok {
		return common.Address{}, fmt.Errorf("read fee distributor of %s: not an address", node.Hex())
	}
	s.mu.Lock()
	s.distCache[node] = d
	s.mu.Unlock()
	return d, nil
}

func call(ctx context.Context, c Caller, to common.Address, a *abi.ABI, block *big.Int, method string, args ...any) ([]any, error) {
	data, err := a.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	raw, err := c.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, block)
	if err != nil {
		return nil, fmt.Errorf("call %s on %s: %w", method, to.Hex(), err)
	}
	out, err := a.Unpack(method, raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s on %s: %w", method, to.Hex(), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("decode %s on %s: empty answer", method, to.Hex())
	}
	return out, nil
}

func callUint(ctx context.Context, c Caller, to common.Address, a *abi.ABI, block *big.Int, method string, args ...any) (uint64, error) {
	out, err := call(ctx, c, to, a, block, method, args...)
	if err != nil {
		return 0, err
	}
	v, ok := out[0].(*big.Int)
	if !ok || !v.IsUint64() {
		return 0, fmt.Errorf("decode %s: not a 64-bit uint", method)
	}
	return v.Uint64(), nil
}

// PubkeyIndexer finds beacon indices by pubkey (chain/beacon.Service implements it).
type PubkeyIndexer interface {
	ValidatorsByPubkey(ctx context.Context, stateID string, keys []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error)
}

// LoadRegistry lists the protocol's minipools and megapool validators at block (nil = latest) and finds their
// beacon indices at stateID. Validators unknown to the beacon chain are left out. Calls are sequential (small
// networks and tests); the daemon uses RegistryFromSnapshot over the batched EL reader.
func LoadRegistry(ctx context.Context, c Caller, storage common.Address, bn PubkeyIndexer, stateID string, block *big.Int) (*Registry, error) {
	mpm, err := ContractAddress(ctx, c, storage, "rocketMinipoolManager")
	if err != nil {
		return nil, err
	}
	mgr, err := ContractAddress(ctx, c, storage, "rocketMegapoolManager")
	if err != nil {
		return nil, err
	}
	var vals []ProtocolValidator
	n, err := callUint(ctx, c, mpm, minipoolMgrABI, block, "getMinipoolCount")
	if err != nil {
		return nil, fmt.Errorf("read minipool count: %w", err)
	}
	for i := uint64(0); i < n; i++ {
		out, err := call(ctx, c, mpm, minipoolMgrABI, block, "getMinipoolAt", new(big.Int).SetUint64(i))
		if err != nil {
			return nil, fmt.Errorf("read minipool %d: %w", i, err)
		}
		mp := out[0].(common.Address)
		out, err = call(ctx, c, mpm, minipoolMgrABI, block, "getMinipoolPubkey", mp)
		if err != nil {
			return nil, fmt.Errorf("read pubkey of minipool %s: %w", mp.Hex(), err)
		}
		pk, _ := out[0].([]byte)
		out, err = call(ctx, c, mp, minipoolABI, block, "getNodeAddress")
		if err != nil {
			return nil, fmt.Errorf("read node of minipool %s: %w", mp.Hex(), err)
		}
		v := ProtocolValidator{Kind: KindMinipool, Minipool: mp, Node: out[0].(common.Address)}
		if len(pk) != 48 {
			return nil, fmt.Errorf("minipool %s: pubkey has %d bytes", mp.Hex(), len(pk))
		}
		copy(v.Pubkey[:], pk)
		vals = append(vals, v)
	}
	m, err := callUint(ctx, c, mgr, mpManagerABI, block, "getValidatorCount")
	if err != nil {
		return nil, fmt.Errorf("read megapool validator count: %w", err)
	}
	nodes := map[common.Address]common.Address{}
	for i := uint64(0); i < m; i++ {
		out, err := call(ctx, c, mgr, mpManagerABI, block, "getValidatorInfo", new(big.Int).SetUint64(i))
		if err != nil {
			return nil, fmt.Errorf("read megapool validator %d: %w", i, err)
		}
		pk, _ := out[0].([]byte)
		mp, _ := out[2].(common.Address)
		id, _ := out[3].(uint32)
		node, ok := nodes[mp]
		if !ok {
			o, err := call(ctx, c, mp, megapoolABI, block, "getNodeAddress")
			if err != nil {
				return nil, fmt.Errorf("read node of megapool %s: %w", mp.Hex(), err)
			}
			node = o[0].(common.Address)
			nodes[mp] = node
		}
		if len(pk) != 48 {
			return nil, fmt.Errorf("megapool validator %d: pubkey has %d bytes", i, len(pk))
		}
		v := ProtocolValidator{Kind: KindMegapool, Megapool: mp, MegapoolID: id, Node: node}
		copy(v.Pubkey[:], pk)
		vals = append(vals, v)
	}
	return registryAt(ctx, bn, stateID, vals)
}

// RegistryFromSnapshot builds the registry from a rewards snapshot read by the batched EL reader
// (chain/execution.Service.ReadSnapshot: a few multicall requests at mainnet scale instead of one call per
// validator) and finds the validators' beacon indices at stateID.
func RegistryFromSnapshot(ctx context.Context, snap *rewards.Snapshot, bn PubkeyIndexer, stateID string) (*Registry, error) {
	if snap == nil {
		return nil, errors.New("registry from snapshot: no snapshot")
	}
	var vals []ProtocolValidator
	for _, mp := range snap.Minipools {
		vals = append(vals, ProtocolValidator{Kind: KindMinipool, Minipool: common.Address(mp.Address), Node: common.Address(mp.Node), Pubkey: phase0.BLSPubKey(mp.Pubkey)})
	}
	for _, mg := range snap.Megapools {
		for _, v := range mg.Validators {
			if v.ID > math.MaxUint32 {
				return nil, fmt.Errorf("registry from snapshot: megapool %s validator id %d out of range", common.Address(mg.Address).Hex(), v.ID)
			}
			vals = append(vals, ProtocolValidator{Kind: KindMegapool, Megapool: common.Address(mg.Address), MegapoolID: uint32(v.ID),
				Node: common.Address(mg.Node), Pubkey: phase0.BLSPubKey(v.Pubkey)})
		}
	}
	return registryAt(ctx, bn, stateID, vals)
}

// registryAt keeps the validators the beacon chain knows at stateID, with their indices.
func registryAt(ctx context.Context, bn PubkeyIndexer, stateID string, vals []ProtocolValidator) (*Registry, error) {
	keys := make([]phase0.BLSPubKey, len(vals))
	for i, v := range vals {
		keys[i] = v.Pubkey
	}
	idx := map[phase0.BLSPubKey]phase0.ValidatorIndex{}
	if len(keys) > 0 {
		got, err := bn.ValidatorsByPubkey(ctx, stateID, keys)
		if err != nil {
			return nil, fmt.Errorf("read beacon indices of %d protocol validators: %w", len(keys), err)
		}
		for i, v := range got {
			if v != nil && v.Validator != nil {
				idx[v.Validator.PublicKey] = i
			}
		}
	}
	var out []ProtocolValidator
	for _, v := range vals {
		i, ok := idx[v.Pubkey]
		if !ok {
			continue
		}
		v.Index = i
		out = append(out, v)
	}
	return NewRegistry(out)
}
