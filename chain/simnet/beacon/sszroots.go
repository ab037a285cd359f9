package beacon

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	ssz "github.com/pk910/dynamic-ssz/hasher"
)

const (
	maxTransactionsPerPayload = 1 << 20
	maxBytesPerTransaction    = 1 << 30
)

// transactionsRoot is hash_tree_root(List[ByteList[MAX_BYTES_PER_TRANSACTION], MAX_TRANSACTIONS_PER_PAYLOAD]).
func transactionsRoot(txs []bellatrix.Transaction) (phase0.Root, error) {
	hh := ssz.NewHasher()
	outer := hh.Index()
	for _, tx := range txs {
		if len(tx) > maxBytesPerTransaction {
			return phase0.Root{}, fmt.Errorf("transactions root: transaction of %d bytes too long", len(tx))
		}
		inner := hh.Index()
		hh.AppendBytes32(tx)
		hh.MerkleizeWithMixin(inner, uint64(len(tx)), (maxBytesPerTransaction+31)/32)
	}
	hh.MerkleizeWithMixin(outer, uint64(len(txs)), maxTransactionsPerPayload)
	r, err := hh.HashRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("transactions root: %w", err)
	}
	return phase0.Root(r), nil
}

// withdrawalsRoot is hash_tree_root(List[Withdrawal, MAX_WITHDRAWALS_PER_PAYLOAD]).
func withdrawalsRoot(ws []*capella.Withdrawal) (phase0.Root, error) {
	hh := ssz.NewHasher()
	idx := hh.Index()
	for _, w := range ws {
		if err := w.HashTreeRootWith(hh); err != nil {
			return phase0.Root{}, fmt.Errorf("withdrawals root: %w", err)
		}
	}
	hh.MerkleizeWithMixin(idx, uint64(len(ws)), maxWithdrawalsPerPayload)
	r, err := hh.HashRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("withdrawals root: %w", err)
	}
	return phase0.Root(r), nil
}
