package beacon

import (
	"context"
	"fmt"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1deneb "github.com/attestantio/go-eth2-client/api/v1/deneb"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func payloadHeader(p *deneb.ExecutionPayload) (*deneb.ExecutionPayloadHeader, error) {
	h := &deneb.ExecutionPayloadHeader{
		ParentHash: p.ParentHash, FeeRecipient: p.FeeRecipient, StateRoot: p.StateRoot, ReceiptsRoot: p.ReceiptsRoot,
		LogsBloom: p.LogsBloom, PrevRandao: p.PrevRandao, BlockNumber: p.BlockNumber, GasLimit: p.GasLimit,
		GasUsed: p.GasUsed, Timestamp: p.Timestamp, ExtraData: p.ExtraData, BaseFeePerGas: p.BaseFeePerGas,
		BlockHash: p.BlockHash, BlobGasUsed: p.BlobGasUsed, ExcessBlobGas: p.ExcessBlobGas,
	}
	var err error
	if h.TransactionsRoot, err = transactionsRoot(p.Transactions); err != nil {
		return nil, err
	}
	if h.WithdrawalsRoot, err = withdrawalsRoot(p.Withdrawals); err != nil {
		return nil, err
	}
	return h, nil
}

// BlindedBlock returns the block at slot s with its payload replaced by the
// payload header (*apiv1deneb.SignedBlindedBeaconBlock or *apiv1electra.SignedBlindedBeaconBlock).
func (c *Chain) BlindedBlock(ctx context.Context, s phase0.Slot) (any, error) {
	blk, err := c.Block(ctx, s)
	if err != nil {
		return nil, err
	}
	return blindedOf(s, blk)
}

// blindedOf is the blinded form of the generated block blk at slot s.
func blindedOf(s phase0.Slot, blk *spec.VersionedSignedBeaconBlock) (any, error) {
	switch blk.Version {
	case spec.DataVersionDeneb:
		m := blk.Deneb.Message
		ph, err := payloadHeader(m.Body.ExecutionPayload)
		if err != nil {
			return nil, fmt.Errorf("blinded block at slot %d: %w", s, err)
		}
		b := m.Body
		return &apiv1deneb.SignedBlindedBeaconBlock{
			Message: &apiv1deneb.BlindedBeaconBlock{
				Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot,
				Body: &apiv1deneb.BlindedBeaconBlockBody{
					RANDAOReveal: b.RANDAOReveal, ETH1Data: b.ETH1Data, Graffiti: b.Graffiti,
					ProposerSlashings: b.ProposerSlashings, AttesterSlashings: b.AttesterSlashings,
					Attestations: b.Attestations, Deposits: b.Deposits, VoluntaryExits: b.VoluntaryExits,
					SyncAggregate: b.SyncAggregate, ExecutionPayloadHeader: ph,
					BLSToExecutionChanges: b.BLSToExecutionChanges, BlobKZGCommitments: b.BlobKZGCommitments,
				},
			},
			Signature: blk.Deneb.Signature,
		}, nil
	default:
		m := blk.Electra.Message
		ph, err := payloadHeader(m.Body.ExecutionPayload)
		if err != nil {
			return nil, fmt.Errorf("blinded block at slot %d: %w", s, err)
		}
		b := m.Body
		return &apiv1electra.SignedBlindedBeaconBlock{
			Message: &apiv1electra.BlindedBeaconBlock{
				Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot,
				Body: &apiv1electra.BlindedBeaconBlockBody{
					RANDAOReveal: b.RANDAOReveal, ETH1Data: b.ETH1Data, Graffiti: b.Graffiti,
					ProposerSlashings: b.ProposerSlashings, AttesterSlashings: b.AttesterSlashings,
					Attestations: b.Attestations, Deposits: b.Deposits, VoluntaryExits: b.VoluntaryExits,
					SyncAggregate: b.SyncAggregate, ExecutionPayloadHeader: ph,
					BLSToExecutionChanges: b.BLSToExecutionChanges, BlobKZGCommitments: b.BlobKZGCommitments,
					ExecutionRequests: b.ExecutionRequests,
				},
			},
			Signature: blk.Electra.Signature,
		}, nil
	}
}

// Header returns the headers-endpoint view of the block at slot s. The body
// root is the real hash-tree-root of the served body; the block root is the
// chain's synthetic label.
func (c *Chain) Header(ctx context.Context, s phase0.Slot) (*apiv1.BeaconBlockHeader, error) {
	blk, err := c.Block(ctx, s)
	if err != nil {
		return nil, err
	}
	return c.headerOf(s, blk)
}

// headerOf is the headers-endpoint view of the generated block blk at slot s.
func (c *Chain) headerOf(s phase0.Slot, blk *spec.VersionedSignedBeaconBlock) (*apiv1.BeaconBlockHeader, error) {
	var err error
	var bodyRoot phase0.Root
	var msg *phase0.BeaconBlockHeader
	var sig phase0.BLSSignature
	switch blk.Version {
	case spec.DataVersionDeneb:
		m := blk.Deneb.Message
		if bodyRoot, err = m.Body.HashTreeRoot(); err != nil {
			return nil, fmt.Errorf("body root of slot %d: %w", s, err)
		}
		msg = &phase0.BeaconBlockHeader{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot, BodyRoot: bodyRoot}
		sig = blk.Deneb.Signature
	default:
		m := blk.Electra.Message
		if bodyRoot, err = m.Body.HashTreeRoot(); err != nil {
			return nil, fmt.Errorf("body root of slot %d: %w", s, err)
		}
		msg = &phase0.BeaconBlockHeader{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot, BodyRoot: bodyRoot}
		sig = blk.Electra.Signature
	}
	return &apiv1.BeaconBlockHeader{
		Root:      c.BlockRoot(s),
		Canonical: true,
		Header:    &phase0.SignedBeaconBlockHeader{Message: msg, Signature: sig},
	}, nil
}
