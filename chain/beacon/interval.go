package beacon

import (
	"context"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// SnapshotBlock walks back from snapshotSlot to the latest slot that has a
// block with an execution payload (rewards-rules.md §2.1, consensusBlock),
// looking at most maxBack slots back. It returns that block (its slot and
// execution block number).
func (s *Service) SnapshotBlock(ctx context.Context, snapshotSlot phase0.Slot, maxBack uint64) (*Block, error) {
	for back := uint64(0); back <= maxBack && uint64(snapshotSlot) >= back; back++ {
		slot := snapshotSlot - phase0.Slot(back)
		b, err := s.Block(ctx, slot, false)
		if err != nil {
			return nil, fmt.Errorf("snapshot block: %w", err)
		}
		if b != nil && b.HasPayload {
			return b, nil
		}
	}
	return nil, fmt.Errorf("snapshot block: no block with an execution payload within %d slots before slot %d", maxBack, snapshotSlot)
}

// FirstBlockFrom returns the first block at or after slot (ConsensusStartBlock
// from the consensus start slot), looking at most maxForward slots ahead.
func (s *Service) FirstBlockFrom(ctx context.Context, slot phase0.Slot, maxForward uint64) (*Block, error) {
	for fwd := uint64(0); fwd <= maxForward; fwd++ {
		b, err := s.Block(ctx, slot+phase0.Slot(fwd), false)
		if err != nil {
			return nil, fmt.Errorf("first block from slot %d: %w", slot, err)
		}
		if b != nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("first block from slot %d: no block within %d slots", slot, maxForward)
}

// FinalizedEpoch is the finalized checkpoint's epoch at the head.
func (s *Service) FinalizedEpoch(ctx context.Context) (phase0.Epoch, error) {
	f, err := s.Finality(ctx, "head")
	if err != nil {
		return 0, err
	}
	return f.Finalized.Epoch, nil
}
