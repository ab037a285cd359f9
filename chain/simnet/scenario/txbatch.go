package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
)

// maxCommits bounds how many blocks a flush may mine while waiting for its transactions.
const maxCommits = 16

// txBatch sends guardian transactions with consecutive nonces and a 1.5× gas margin over the estimate, then
// mines and checks them together. The first error sticks and is returned by the next flush.
type txBatch struct {
	ctx     context.Context
	backend contracts.Backend
	from    *bind.TransactOpts
	commit  func()
	nonce   uint64
	pending []batchTx
	err     error
}

type batchTx struct {
	what string
	tx   *types.Transaction
}

func newTxBatch(ctx context.Context, backend contracts.Backend, from *bind.TransactOpts, commit func()) (*txBatch, error) {
	n, err := backend.PendingNonceAt(ctx, from.From)
	if err != nil {
		return nil, fmt.Errorf("seed: read guardian nonce: %w", err)
	}
	return &txBatch{ctx: ctx, backend: backend, from: from, commit: commit, nonce: n}, nil
}

func (b *txBatch) opts() *bind.TransactOpts {
	o := *b.from
	o.Context = b.ctx
	o.Nonce = new(big.Int).SetUint64(b.nonce)
	return &o
}

func (b *txBatch) send(what string, fn func(*bind.TransactOpts) (*types.Transaction, error)) {
	if b.err != nil {
		return
	}
	probe := b.opts()
	probe.NoSend = true
	tx, err := fn(probe)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", what, err)
		return
	}
	o := b.opts()
	o.GasLimit = tx.Gas()*3/2 + 50_000
	if tx, err = fn(o); err != nil {
		b.err = fmt.Errorf("%s: %w", what, err)
		return
	}
	b.nonce++
	b.pending = append(b.pending, batchTx{what: what, tx: tx})
}

func (b *txBatch) flush() error {
	_, err := b.flushReceipts()
	return err
}

func (b *txBatch) flushReceipts() ([]*types.Receipt, error) {
	defer func() { b.pending = b.pending[:0] }()
	if b.err != nil {
		err := b.err
		b.err = nil
		if len(b.pending) > 0 {
			// Mine what was sent so the nonce sequence stays consistent.
			_, _ = b.wait()
		}
		return nil, err
	}
	return b.wait()
}

func (b *txBatch) wait() ([]*types.Receipt, error) {
	out := make([]*types.Receipt, len(b.pending))
	if b.commit == nil {
		for i, p := range b.pending {
			r, err := bind.WaitMined(b.ctx, b.backend, p.tx)
			if err != nil {
				return nil, fmt.Errorf("%s: wait for receipt: %w", p.what, err)
			}
			out[i] = r
		}
	} else {
		i := 0
		for commits := 0; i < len(b.pending); {
			r, err := b.backend.TransactionReceipt(b.ctx, b.pending[i].tx.Hash())
			if errors.Is(err, ethereum.NotFound) {
				if commits == maxCommits {
					return nil, fmt.Errorf("%s: not mined after %d blocks", b.pending[i].what, maxCommits)
				}
				b.commit()
				commits++
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s: receipt: %w", b.pending[i].what, err)
			}
			out[i] = r
			i++
		}
	}
	for i, r := range out {
		if r.Status != types.ReceiptStatusSuccessful {
			return nil, fmt.Errorf("%s: transaction %s reverted", b.pending[i].what, b.pending[i].tx.Hash().Hex())
		}
	}
	return out, nil
}
