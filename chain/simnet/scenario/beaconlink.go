package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// Link ties an ELNode to a simulated beacon chain: Advance produces one EL block per beacon block (timestamp of
// the slot, coinbase of the proposal — the builder for MEV blocks —, the slot's withdrawals credited, parent
// beacon root = root of the previous beacon block), and the link serves those blocks back to the chain as its
// execution payloads (it implements beacon.ExecutionProvider). Builder payment transactions of MEV blocks are
// not replayed on the EL.
type Link struct {
	el *ELNode

	mu     sync.Mutex
	chain  *beacon.Chain
	feeAt  func(pubkey []byte, t uint64) (common.Address, bool)
	bySlot map[phase0.Slot]*beacon.ExecutionBlock
	last   phase0.Slot
}

// NewLink links el; the EL block of beacon slot 0 must already exist (ELNode.SealGenesis, or an ELNode without
// pre-genesis slots).
func NewLink(el *ELNode) (*Link, error) {
	if el == nil {
		return nil, errors.New("link: no EL node")
	}
	if !el.GenesisSealed() {
		return nil, errors.New("link: the EL block of beacon slot 0 is not produced yet (call SealGenesis)")
	}
	l := &Link{el: el, bySlot: map[phase0.Slot]*beacon.ExecutionBlock{}}
	n, err := el.client.BlockNumber(context.Background())
	if err != nil {
		return nil, fmt.Errorf("link: read genesis block number: %w", err)
	}
	b := el.Block(n)
	if b == nil {
		return nil, fmt.Errorf("link: EL block %d missing", n)
	}
	genesis, err := executionBlock(b, nil)
	if err != nil {
		return nil, err
	}
	l.bySlot[0] = genesis
	return l, nil
}

// Attach sets the beacon chain (created with WithExecutionProvider(link)).
func (l *Link) Attach(c *beacon.Chain) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.chain = c
}

// SetFeeRecipients makes locally built blocks of the validators it knows pay the recipient it returns for the
// slot's time (Network.FeeRecipientAt: Smoothing Pool opt-in/out over time) instead of the beacon scenario's
// static fee recipient.
func (l *Link) SetFeeRecipients(f func(pubkey []byte, t uint64) (common.Address, bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.feeAt = f
}

// LastSlot is the last beacon slot Advance has processed.
func (l *Link) LastSlot() phase0.Slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Advance produces the EL blocks of every beacon slot in (LastSlot, slot] that has a block.
func (l *Link) Advance(ctx context.Context, slot phase0.Slot) error {
	l.mu.Lock()
	c, from, feeAt := l.chain, l.last, l.feeAt
	l.mu.Unlock()
	if c == nil {
		return errors.New("link: no beacon chain attached")
	}
	sc := c.Scenario()
	genesis, secondsPerSlot := sc.GenesisTime, sc.SecondsPerSlot
	prevBlock := from
	for s := from; s > 0 && c.Missed(s); s-- {
		prevBlock = s - 1
	}
	for s := from + 1; s <= slot; s++ {
		if c.Missed(s) {
			continue
		}
		bp, err := c.Proposal(s)
		if err != nil {
			return fmt.Errorf("link: proposal of slot %d: %w", s, err)
		}
		fee := common.Address(bp.ProposerFeeRecipient)
		if bp.MEV {
			fee = common.Address(bp.Builder)
		} else if feeAt != nil && bp.ProposerFeeRecipient == c.FeeRecipient(bp.Proposer) {
			// No per-slot override in the beacon scenario: follow the node's state at the slot's time.
			pk := c.Pubkey(bp.Proposer)
			if a, ok := feeAt(pk[:], genesis+uint64(s)*secondsPerSlot); ok {
				fee = a
			}
		}
		cw := c.Withdrawals(s)
		ws := make(types.Withdrawals, len(cw))
		for i, w := range cw {
			ws[i] = &types.Withdrawal{Index: uint64(w.Index), Validator: uint64(w.ValidatorIndex), Address: common.Address(w.Address), Amount: uint64(w.Amount)}
		}
		h, err := l.el.ProduceBlock(ctx, uint64(s), BlockSpec{BeaconRoot: common.Hash(c.BlockRoot(prevBlock)), FeeRecipient: fee, Withdrawals: ws})
		if err != nil {
			return fmt.Errorf("link: %w", err)
		}
		b := l.el.Block(h.Number.Uint64())
		if b == nil {
			return fmt.Errorf("link: EL block %s of slot %d missing", h.Number, s)
		}
		eb, err := executionBlock(b, cw)
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.bySlot[s] = eb
		l.last = s
		l.mu.Unlock()
		prevBlock = s
	}
	l.mu.Lock()
	if slot > l.last {
		l.last = slot
	}
	l.mu.Unlock()
	return nil
}

// ExecutionBlock implements beacon.ExecutionProvider: the EL block produced for the slot.
func (l *Link) ExecutionBlock(_ context.Context, slot phase0.Slot, _ *beacon.BlockProposal, _ *beacon.ExecutionBlock) (*beacon.ExecutionBlock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	eb, ok := l.bySlot[slot]
	if !ok {
		return nil, fmt.Errorf("link: no EL block produced for slot %d (advanced to %d)", slot, l.last)
	}
	return eb, nil
}

func executionBlock(b *types.Block, withdrawals []*capella.Withdrawal) (*beacon.ExecutionBlock, error) {
	txs := make([][]byte, 0, len(b.Transactions()))
	for i, tx := range b.Transactions() {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("link: encode transaction %d of block %d: %w", i, b.NumberU64(), err)
		}
		txs = append(txs, raw)
	}
	if withdrawals == nil {
		withdrawals = []*capella.Withdrawal{}
	}
	return &beacon.ExecutionBlock{
		Number:        b.NumberU64(),
		Timestamp:     b.Time(),
		FeeRecipient:  b.Coinbase(),
		Hash:          b.Hash(),
		ParentHash:    b.ParentHash(),
		GasLimit:      b.GasLimit(),
		GasUsed:       b.GasUsed(),
		Transactions:  txs,
		Withdrawals:   withdrawals,
		StateRoot:     b.Root(),
		ReceiptsRoot:  b.ReceiptHash(),
		LogsBloom:     b.Bloom(),
		BaseFeePerGas: b.BaseFee(),
	}, nil
}
