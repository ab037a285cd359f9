package megapool

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// The ABIs come from the simnet bindings, whose signatures for the functions used here are checked against
// mainnet's in chain/simnet/contracts/abi_test.go (getValidatorCount, getValidatorInfo, getLastChallenger,
// challengeExit, getNotifyThreshold, getMemberCount, getMemberAt, RocketStorage.getAddress).
var (
	managerABI   = bindings.MustABI(bindings.RocketMegapoolManagerMetaData)
	settingsABI  = bindings.MustABI(bindings.RocketDAOProtocolSettingsMegapoolMetaData)
	trustedABI   = bindings.MustABI(bindings.RocketDAONodeTrustedMetaData)
	storageABI   = bindings.MustABI(bindings.RocketStorageMetaData)
	multicallABI = bindings.MustABI(bindings.Multicall3MetaData)
)

// Caller is the part of an execution client the reader needs (ethclient.Client and the simulated backend's
// client implement it).
type Caller interface {
	CallContract(ctx context.Context, msg ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
}

// Protocol is what the watcher reads from the execution layer. ChainReader implements it.
type Protocol interface {
	// Validators lists every megapool validator at block (nil = latest), in global-index order.
	Validators(ctx context.Context, block *big.Int) ([]Validator, error)
	NotifyThreshold(ctx context.Context, block *big.Int) (uint64, error)
	LastChallenger(ctx context.Context, block *big.Int) (common.Address, error)
	// Members lists the oDAO members in contract order (getMemberAt).
	Members(ctx context.Context, block *big.Int) ([]common.Address, error)
	// ManagerAddress is RocketMegapoolManager (the challengeExit target).
	ManagerAddress() common.Address
}

// ChainReader reads the megapool manager, settings and oDAO membership through one execution client.
type ChainReader struct {
	client    Caller
	manager   common.Address
	settings  common.Address
	trusted   common.Address
	multicall common.Address
	batch     int
}

// DefaultBatchSize is the number of getValidatorInfo calls per aggregate3 request.
const DefaultBatchSize = 200

// NewChainReader resolves the contract addresses from RocketStorage at storage and reads validator lists
// through Multicall3 at multicall in aggregate3 requests of batch calls (0 = DefaultBatchSize).
func NewChainReader(ctx context.Context, client Caller, storage, multicall common.Address, batch int) (*ChainReader, error) {
	if client == nil {
		return nil, errors.New("megapool reader: no execution client")
	}
	if storage == (common.Address{}) || multicall == (common.Address{}) {
		return nil, errors.New("megapool reader: RocketStorage and Multicall3 addresses are required")
	}
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	r := &ChainReader{client: client, multicall: multicall, batch: batch}
	for _, c := range []struct {
		name string
		dst  *common.Address
	}{
		{"rocketMegapoolManager", &r.manager},
		{"rocketDAOProtocolSettingsMegapool", &r.settings},
		{"rocketDAONodeTrusted", &r.trusted},
	} {
		key := crypto.Keccak256Hash([]byte("contract.address" + c.name))
		out, err := r.call(ctx, storage, storageABI, nil, "getAddress", key)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", c.name, err)
		}
		a, ok := out[0].(common.Address)
		if !ok || a == (common.Address{}) {
			return nil, fmt.Errorf("resolve %s: not registered in RocketStorage %s", c.name, storage.Hex())
		}
		*c.dst = a
	}
	return r, nil
}

// ManagerAddress implements Protocol.
func (r *ChainReader) ManagerAddress() common.Address { return r.manager }

func (r *ChainReader) call(ctx context.Context, to common.Address, a *abi.ABI, block *big.Int, method string, args ...any) ([]any, error) {
	data, err := a.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	raw, err := r.client.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, block)
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

func (r *ChainReader) uint(ctx context.Context, to common.Address, a *abi.ABI, block *big.Int, method string, args ...any) (*big.Int, error) {
	out, err := r.call(ctx, to, a, block, method, args...)
	if err != nil {
		return nil, err
	}
	v, ok := out[0].(*big.Int)
	if !ok {
		return nil, fmt.Errorf("decode %s: not a uint256", method)
	}
	return v, nil
}

// NotifyThreshold implements Protocol (notify.threshold, epochs).
func (r *ChainReader) NotifyThreshold(ctx context.Context, block *big.Int) (uint64, error) {
	v, err := r.uint(ctx, r.settings, settingsABI, block, "getNotifyThreshold")
	if err != nil {
		return 0, fmt.Errorf("read notify threshold: %w", err)
	}
	if !v.IsUint64() {
		return 0, fmt.Errorf("read notify threshold: %s does not fit in 64 bits", v)
	}
	return v.Uint64(), nil
}

// LastChallenger implements Protocol.
func (r *ChainReader) LastChallenger(ctx context.Context, block *big.Int) (common.Address, error) {
	out, err := r.call(ctx, r.manager, managerABI, block, "getLastChallenger")
	if err != nil {
		return common.Address{}, fmt.Errorf("read last challenger: %w", err)
	}
	a, ok := out[0].(common.Address)
	if !ok {
		return common.Address{}, errors.New("read last challenger: not an address")
	}
	return a, nil
}

// Members implements Protocol.
func (r *ChainReader) Members(ctx context.Context, block *big.Int) ([]common.Address, error) {
	n, err := r.uint(ctx, r.trusted, trustedABI, block, "getMemberCount")
	if err != nil {
		return nil, fmt.Errorf("read oDAO member count: %w", err)
	}
	if !n.IsUint64() || n.Uint64() > 10000 {
		return nil, fmt.Errorf("read oDAO member count: implausible %s", n)
	}
	out := make([]common.Address, 0, n.Uint64())
	for i := uint64(0); i < n.Uint64(); i++ {
		v, err := r.call(ctx, r.trusted, trustedABI, block, "getMemberAt", new(big.Int).SetUint64(i))
		if err != nil {
			return nil, fmt.Errorf("read oDAO member %d: %w", i, err)
		}
		a, ok := v[0].(common.Address)
		if !ok {
			return nil, fmt.Errorf("read oDAO member %d: not an address", i)
		}
		out = append(out, a)
	}
	return out, nil
}

// Validators implements Protocol: getValidatorCount, then getValidatorInfo(i) for every i through
// Multicall3 aggregate3 at one block (the latest block's number is pinned first when block is nil, so every
// batch reads the same state).
func (r *ChainReader) Validators(ctx context.Context, block *big.Int) ([]Validator, error) {
	if block == nil {
		out, err := r.call(ctx, r.multicall, multicallABI, nil, "getBlockNumber")
		if err != nil {
			return nil, fmt.Errorf("pin block for megapool validators: %w", err)
		}
		b, ok := out[0].(*big.Int)
		if !ok {
			return nil, errors.New("pin block for megapool validators: bad getBlockNumber answer")
		}
		block = b
	}
	n, err := r.uint(ctx, r.manager, managerABI, block, "getValidatorCount")
	if err != nil {
		return nil, fmt.Errorf("read megapool validator count: %w", err)
	}
	if !n.IsUint64() || n.Uint64() > 10_000_000 {
		return nil, fmt.Errorf("read megapool validator count: implausible %s", n)
	}
	count := n.Uint64()
	vals := make([]Validator, 0, count)
	for start := uint64(0); start < count; start += uint64(r.batch) {
		end := min(start+uint64(r.batch), count)
		part, err := r.validatorBatch(ctx, block, start, end)
		if err != nil {
			return nil, err
		}
		vals = append(vals, part...)
	}
	return vals, nil
}

type call3 struct {
	Target       common.Address
	AllowFailure bool
	CallData     []byte
}

type result3 struct {
	Success    bool
	ReturnData []byte
}

func (r *ChainReader) validatorBatch(ctx context.Context, block *big.Int, start, end uint64) ([]Validator, error) {
	calls := make([]call3, 0, end-start)
	for i := start; i < end; i++ {
		data, err := managerABI.Pack("getValidatorInfo", new(big.Int).SetUint64(i))
		if err != nil {
			return nil, fmt.Errorf("encode getValidatorInfo(%d): %w", i, err)
		}
		calls = append(calls, call3{Target: r.manager, CallData: data})
	}
	out, err := r.call(ctx, r.multicall, multicallABI, block, "aggregate3", calls)
	if err != nil {
		return nil, fmt.Errorf("read megapool validators %d..%d: %w", start, end-1, err)
	}
	var results []result3
	if err := multicallABI.Methods["aggregate3"].Outputs.Copy(&results, out); err != nil {
		return nil, fmt.Errorf("decode megapool validators %d..%d: %w", start, end-1, err)
	}
	if len(results) != len(calls) {
		return nil, fmt.Errorf("read megapool validators %d..%d: %d answers for %d calls", start, end-1, len(results), len(calls))
	}
	vals := make([]Validator, 0, len(results))
	for k, res := range results {
		idx := start + uint64(k)
		if !res.Success {
			return nil, fmt.Errorf("getValidatorInfo(%d) reverted", idx)
		}
		v, err := decodeValidator(idx, res.ReturnData)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func decodeValidator(idx uint64, raw []byte) (Validator, error) {
	out, err := managerABI.Unpack("getValidatorInfo", raw)
	if err != nil {
		return Validator{}, fmt.Errorf("decode getValidatorInfo(%d): %w", idx, err)
	}
	var dec struct {
		Pubkey        []byte
		ValidatorInfo bindings.ValidatorInfo
		Megapool      common.Address
		ValidatorId   uint32
	}
	if err := managerABI.Methods["getValidatorInfo"].Outputs.Copy(&dec, out); err != nil {
		return Validator{}, fmt.Errorf("decode getValidatorInfo(%d): %w", idx, err)
	}
	if len(dec.Pubkey) != len(phase0.BLSPubKey{}) {
		return Validator{}, fmt.Errorf("megapool validator %d: pubkey has %d bytes, want 48", idx, len(dec.Pubkey))
	}
	v := Validator{GlobalIndex: idx, Megapool: dec.Megapool, ID: dec.ValidatorId}
	copy(v.Pubkey[:], dec.Pubkey)
	in := dec.ValidatorInfo
	v.Info = Info{
		Staked: in.Staked, Exited: in.Exited, Exiting: in.Exiting, Locked: in.Locked,
		Dissolved: in.Dissolved, InPrestake: in.InPrestake, LockedTime: in.LockedTime,
	}
	return v, nil
}

// EncodeChallenge builds challengeExit calldata for a batch.
func EncodeChallenge(b Batch) ([]byte, error) {
	arg := make([]bindings.RocketMegapoolManagerExitChallenge, len(b.Challenges))
	for i, c := range b.Challenges {
		arg[i] = bindings.RocketMegapoolManagerExitChallenge{Megapool: c.Megapool, ValidatorIds: append([]uint32(nil), c.IDs...)}
	}
	data, err := managerABI.Pack("challengeExit", arg)
	if err != nil {
		return nil, fmt.Errorf("encode challengeExit: %w", err)
	}
	return data, nil
}
