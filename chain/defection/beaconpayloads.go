package defection

import (
	"context"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/beacon"
)

// BeaconPayloads adapts the CL reader (chain/beacon.Service, or anything with its Block method) to
// BeaconBlockReader for ELBlocks: proposer and payload hash from the (blinded) block, no transactions.
type BeaconPayloads struct {
	Blocks interface {
		Block(ctx context.Context, slot phase0.Slot, full bool) (*beacon.Block, error)
	}
}

// PayloadAt implements BeaconBlockReader.
func (b BeaconPayloads) PayloadAt(ctx context.Context, slot uint64) (phase0.ValidatorIndex, uint64, common.Hash, bool, error) {
	blk, err := b.Blocks.Block(ctx, phase0.Slot(slot), false)
	if err != nil {
		return 0, 0, common.Hash{}, false, err
	}
	if blk == nil || !blk.HasPayload {
		return 0, 0, common.Hash{}, false, nil
	}
	return blk.ProposerIndex, blk.ExecutionBlockNumber, common.Hash(blk.ExecutionBlockHash), true, nil
}
