package defection

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Proposal is the part of a beacon block the detector needs.
type Proposal struct {
	Slot          uint64
	ProposerIndex phase0.ValidatorIndex
	BlockNumber   uint64
	BlockHash     common.Hash
	FeeRecipient  common.Address
}

// BlockSource yields proposals and, on demand, the last transaction of a proposal's payload.
type BlockSource interface {
	// Proposal returns the block at slot, nil for an empty slot or a block without an execution payload.
	Proposal(ctx context.Context, slot uint64) (*Proposal, error)
	// LastPayment returns the payload's last transaction (nil when the payload has none).
	LastPayment(ctx context.Context, p *Proposal) (*Payment, error)
}

// BeaconBlocks reads proposals from a beacon node (go-eth2-client). The Beacon API serves the fee recipient only
// with the full block, so the block of the most recent proposal is kept to answer LastPayment without a second
// download; transactions are decoded only for LastPayment.
type BeaconBlocks struct {
	api     eth2client.SignedBeaconBlockProvider
	chainID *big.Int

	mu   sync.Mutex
	slot uint64
	txs  [][]byte
}

// NewBeaconBlocks wraps a block provider; chainID recovers the sender of payload transactions.
func NewBeaconBlocks(p eth2client.SignedBeaconBlockProvider, chainID *big.Int) (*BeaconBlocks, error) {
	if p == nil {
		return nil, errors.New("beacon blocks: no block provider")
	}
	if chainID == nil || chainID.Sign() <= 0 {
		return nil, errors.New("beacon blocks: chain id required")
	}
	return &BeaconBlocks{api: p, chainID: new(big.Int).Set(chainID)}, nil
}

// Proposal implements BlockSource.
func (b *BeaconBlocks) Proposal(ctx context.Context, slot uint64) (*Proposal, error) {
	resp, err := b.api.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: strconv.FormatUint(slot, 10)})
	if err != nil {
		var apiErr *api.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("read block at slot %d: %w", slot, err)
	}
	if resp == nil || resp.Data == nil {
		return nil, nil
	}
	blk := resp.Data
	if blk.Version < spec.DataVersionBellatrix {
		return nil, nil
	}
	got, err := blk.Slot()
	if err != nil || uint64(got) != slot {
		return nil, fmt.Errorf("block at slot %d: reports slot %d (%v)", slot, got, err)
	}
	proposer, err := blk.ProposerIndex()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: proposer: %w", slot, err)
	}
	payload, err := blk.ExecutionPayload()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: execution payload: %w", slot, err)
	}
	hash, err := payload.BlockHash()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: payload hash: %w", slot, err)
	}
	if hash == (phase0.Hash32{}) {
		return nil, nil // pre-merge empty payload
	}
	number, err := payload.BlockNumber()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: payload number: %w", slot, err)
	}
	fr, err := payload.FeeRecipient()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: fee recipient: %w", slot, err)
	}
	txs, err := payload.Transactions()
	if err != nil {
		return nil, fmt.Errorf("block at slot %d: transactions: %w", slot, err)
	}
	b.mu.Lock()
	b.slot = slot
	b.txs = make([][]byte, len(txs))
	for i, t := range txs {
		b.txs[i] = t
	}
	b.mu.Unlock()
	return &Proposal{Slot: slot, ProposerIndex: proposer, BlockNumber: number, BlockHash: common.Hash(hash), FeeRecipient: common.Address(fr)}, nil
}

// LastPayment implements BlockSource.
func (b *BeaconBlocks) LastPayment(ctx context.Context, p *Proposal) (*Payment, error) {
	b.mu.Lock()
	cached := b.slot == p.Slot && b.txs != nil
	txs := b.txs
	b.mu.Unlock()
	if !cached {
		if _, err := b.Proposal(ctx, p.Slot); err != nil {
			return nil, err
		}
		b.mu.Lock()
		txs = b.txs
		b.mu.Unlock()
	}
	if len(txs) == 0 {
		return nil, nil
	}
	return DecodePayment(txs[len(txs)-1], len(txs)-1, b.chainID)
}

// DecodePayment decodes a raw payload transaction into a Payment (sender recovered with chainID).
func DecodePayment(raw []byte, index int, chainID *big.Int) (*Payment, error) {
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("decode payload transaction %d: %w", index, err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(chainID), &tx)
	if err != nil {
		return nil, fmt.Errorf("recover sender of payload transaction %d: %w", index, err)
	}
	p := &Payment{TxHash: tx.Hash(), TxIndex: index, From: from, Value: new(big.Int).Set(tx.Value())}
	if tx.To() != nil {
		p.To = *tx.To()
	}
	return p, nil
}

// ELBlocks completes proposals from an execution client: the fee recipient is the EL block's coinbase, and the
// last transaction comes from the full EL block, fetched only when asked. Use it with a beacon reader that gives
// slot, proposer and payload hash (chain/beacon.Service.Block).
type ELBlocks struct {
	beacon  BeaconBlockReader
	el      ELReader
	chainID *big.Int
}

// BeaconBlockReader gives a slot's proposer and payload hash (nil for an empty slot).
type BeaconBlockReader interface {
	PayloadAt(ctx context.Context, slot uint64) (proposer phase0.ValidatorIndex, number uint64, hash common.Hash, ok bool, err error)
}

// ELReader is the part of an execution client ELBlocks uses (ethclient.Client implements it).
type ELReader interface {
	HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error)
	BlockByHash(ctx context.Context, hash common.Hash) (*types.Block, error)
}

// NewELBlocks combines a beacon reader with an execution client.
func NewELBlocks(b BeaconBlockReader, el ELReader, chainID *big.Int) (*ELBlocks, error) {
	if b == nil || el == nil {
		return nil, errors.New("EL blocks: beacon and execution readers are required")
	}
	if chainID == nil || chainID.Sign() <= 0 {
		return nil, errors.New("EL blocks: chain id required")
	}
	return &ELBlocks{beacon: b, el: el, chainID: new(big.Int).Set(chainID)}, nil
}

// Proposal implements BlockSource.
func (e *ELBlocks) Proposal(ctx context.Context, slot uint64) (*Proposal, error) {
	proposer, number, hash, ok, err := e.beacon.PayloadAt(ctx, slot)
	if err != nil {
		return nil, fmt.Errorf("read block at slot %d: %w", slot, err)
	}
	if !ok {
		return nil, nil
	}
	h, err := e.el.HeaderByHash(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("read EL header %s (slot %d): %w", hash.Hex(), slot, err)
	}
	if h.Number == nil || h.Number.Uint64() != number {
		return nil, fmt.Errorf("EL header %s (slot %d): number %v, beacon payload says %d", hash.Hex(), slot, h.Number, number)
	}
	return &Proposal{Slot: slot, ProposerIndex: proposer, BlockNumber: number, BlockHash: hash, FeeRecipient: h.Coinbase}, nil
}

// LastPayment implements BlockSource.
func (e *ELBlocks) LastPayment(ctx context.Context, p *Proposal) (*Payment, error) {
	blk, err := e.el.BlockByHash(ctx, p.BlockHash)
	if err != nil {
		return nil, fmt.Errorf("read EL block %s (slot %d): %w", p.BlockHash.Hex(), p.Slot, err)
	}
	txs := blk.Transactions()
	if len(txs) == 0 {
		return nil, nil
	}
	raw, err := txs[len(txs)-1].MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode last transaction of slot %d: %w", p.Slot, err)
	}
	return DecodePayment(raw, len(txs)-1, e.chainID)
}
