package beacon

import (
	"context"
	"fmt"

	"github.com/OffchainLabs/go-bitfield"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// VersionAt is the fork of blocks and states at slot s.
func (c *Chain) VersionAt(s phase0.Slot) spec.DataVersion {
	if c.sc.Fork == ForkDeneb || c.epochOf(s) < phase0.Epoch(c.sc.ElectraForkEpoch) {
		return spec.DataVersionDeneb
	}
	return spec.DataVersionElectra
}

// electraForkEpoch is the first Electra epoch (far future in Deneb mode).
func (c *Chain) electraForkEpoch() phase0.Epoch {
	if c.sc.Fork == ForkDeneb {
		return farFuture
	}
	return phase0.Epoch(c.sc.ElectraForkEpoch)
}

// Fork is the fork of the state at slot t: Deneb (previous = current, epoch 0) before the Electra fork,
// Deneb → Electra from it on.
func (c *Chain) Fork(t phase0.Slot) *phase0.Fork {
	if c.VersionAt(t) == spec.DataVersionDeneb {
		return &phase0.Fork{PreviousVersion: denebForkVersion, CurrentVersion: denebForkVersion, Epoch: 0}
	}
	return &phase0.Fork{PreviousVersion: denebForkVersion, CurrentVersion: electraForkVersion, Epoch: c.electraForkEpoch()}
}

func (c *Chain) signature(purpose, a uint64) phase0.BLSSignature {
	var sig phase0.BLSSignature
	fill(sig[:], c.sc.Seed, purposeSignature, purpose<<56^a)
	return sig
}

// checkpoint of epoch e: root of the latest block at or before its first slot.
func (c *Chain) checkpoint(e phase0.Epoch) *phase0.Checkpoint {
	return &phase0.Checkpoint{Epoch: e, Root: c.BlockRoot(c.prevBlockSlot(c.firstSlot(e)))}
}

func (c *Chain) attestationData(s phase0.Slot, index phase0.CommitteeIndex) *phase0.AttestationData {
	e := c.epochOf(s)
	src := phase0.Epoch(0)
	if e > 0 {
		src = e - 1
	}
	return &phase0.AttestationData{
		Slot:            s,
		Index:           index,
		BeaconBlockRoot: c.BlockRoot(c.prevBlockSlot(s)),
		Source:          c.checkpoint(src),
		Target:          c.checkpoint(e),
	}
}

// electraAttestations builds the aggregates of block b.
func (c *Chain) electraAttestations(b phase0.Slot) ([]*electra.Attestation, error) {
	slots, err := c.attestedSlots(b)
	if err != nil {
		return nil, err
	}
	out := make([]*electra.Attestation, 0, len(slots))
	keys := c.inclusionKeys()
	for _, s := range slots {
		ec, err := c.Committees(c.epochOf(s))
		if err != nil {
			return nil, err
		}
		comms, err := ec.SlotCommittees(s)
		if err != nil {
			return nil, err
		}
		p, pok := c.primaryInclusion(s)
		l, lok := c.lateInclusion(s)
		wantP, wantL := pok && p == b, lok && l == b
		committeeBits := bitfield.NewBitvector64()
		positions := make([]uint64, 0, len(ec.Shuffled)/int(c.sc.SlotsPerEpoch)+1)
		total := uint64(0)
		for ci, members := range comms {
			before := len(positions)
			for i, v := range members {
				if c.includedAt(v, s, wantP, wantL, keys) {
					positions = append(positions, total+uint64(i))
				}
			}
			if len(positions) == before {
				continue
			}
			committeeBits.SetBitAt(uint64(ci), true)
			total += uint64(len(members))
		}
		if len(positions) == 0 {
			continue
		}
		bits := bitfield.NewBitlist(total)
		for _, pos := range positions {
			bits.SetBitAt(pos, true)
		}
		out = append(out, &electra.Attestation{
			AggregationBits: bits,
			Data:            c.attestationData(s, 0),
			Signature:       c.signature(1, uint64(s)<<20^uint64(b)),
			CommitteeBits:   committeeBits,
		})
	}
	return out, nil
}

// denebAttestations builds the per-committee aggregates of block b.
func (c *Chain) denebAttestations(b phase0.Slot) ([]*phase0.Attestation, error) {
	slots, err := c.attestedSlots(b)
	if err != nil {
		return nil, err
	}
	out := make([]*phase0.Attestation, 0)
	for _, s := range slots {
		ec, err := c.Committees(c.epochOf(s))
		if err != nil {
			return nil, err
		}
		comms, err := ec.SlotCommittees(s)
		if err != nil {
			return nil, err
		}
		p, pok := c.primaryInclusion(s)
		l, lok := c.lateInclusion(s)
		for ci, members := range comms {
			bits := bitfield.NewBitlist(uint64(len(members)))
			any := false
			for i, v := range members {
				if c.includedHere(v, s, b, pok, lok, p, l) {
					bits.SetBitAt(uint64(i), true)
					any = true
				}
			}
			if !any {
				continue
			}
			out = append(out, &phase0.Attestation{
				AggregationBits: bits,
				Data:            c.attestationData(s, phase0.CommitteeIndex(ci)),
				Signature:       c.signature(1, uint64(s)<<20^uint64(b)<<8^uint64(ci)),
			})
		}
	}
	return out, nil
}

// proposerSlashings of block b: protocol validators slashed in b's epoch
// appear in the first block of that epoch.
func (c *Chain) proposerSlashings(b phase0.Slot) []*phase0.ProposerSlashing {
	out := make([]*phase0.ProposerSlashing, 0)
	e := c.epochOf(b)
	victims := c.slashedBy[e]
	if len(victims) == 0 || c.firstBlockOfEpoch(e) != b {
		return out
	}
	for i, v := range victims {
		if i == 16 {
			break // MAX_PROPOSER_SLASHINGS; the scenario should spread them
		}
		hdr := func(k uint64) *phase0.SignedBeaconBlockHeader {
			return &phase0.SignedBeaconBlockHeader{
				Message: &phase0.BeaconBlockHeader{
					Slot:          c.firstSlot(e),
					ProposerIndex: v,
					ParentRoot:    c.BlockRoot(c.prevBlockSlot(c.firstSlot(e))),
					StateRoot:     phase0.Root(hash32(c.sc.Seed, purposeStateRoot, uint64(v)<<8^k)),
					BodyRoot:      phase0.Root(hash32(c.sc.Seed, purposeBlockRoot, uint64(v)<<8^k)),
				},
				Signature: c.signature(3, uint64(v)<<8^k),
			}
		}
		out = append(out, &phase0.ProposerSlashing{SignedHeader1: hdr(1), SignedHeader2: hdr(2)})
	}
	return out
}

// firstBlockOfEpoch is the first slot at or after the start of e with a block.
func (c *Chain) firstBlockOfEpoch(e phase0.Epoch) phase0.Slot {
	s := c.firstSlot(e)
	if s == 0 {
		return 0
	}
	return c.nextBlockSlot(s - 1)
}

// voluntaryExits of block b: protocol validators that exit (unslashed) sign
// their exit MAX_SEED_LOOKAHEAD+1 epochs ahead; it lands in the first block
// of that epoch.
func (c *Chain) voluntaryExits(b phase0.Slot) []*phase0.SignedVoluntaryExit {
	out := make([]*phase0.SignedVoluntaryExit, 0)
	e := c.epochOf(b)
	leavers := c.exitsBy[e]
	if len(leavers) == 0 || c.firstBlockOfEpoch(e) != b {
		return out
	}
	for i, v := range leavers {
		if i == 16 {
			break // MAX_VOLUNTARY_EXITS
		}
		out = append(out, &phase0.SignedVoluntaryExit{
			Message:   &phase0.VoluntaryExit{Epoch: e, ValidatorIndex: v},
			Signature: c.signature(6, uint64(v)),
		})
	}
	return out
}

func (c *Chain) eth1Data() *phase0.ETH1Data {
	h := c.elHash(0)
	return &phase0.ETH1Data{
		DepositRoot:  phase0.Root(hash32(c.sc.Seed, purposeELHash, ^uint64(1))),
		DepositCount: c.sc.ValidatorCount,
		BlockHash:    h[:],
	}
}

func (c *Chain) syncAggregate(b phase0.Slot) *altair.SyncAggregate {
	bits := bitfield.NewBitvector512()
	for i := range uint64(512) {
		if chance(c.sc.Seed, purposeSyncCommittee, uint64(b), i, c.sc.participationPPM) {
			bits.SetBitAt(i, true)
		}
	}
	return &altair.SyncAggregate{SyncCommitteeBits: bits, SyncCommitteeSignature: c.signature(4, uint64(b))}
}

// Block generates the signed block at slot s, or ErrNotFound for a missed
// or future slot.
func (c *Chain) Block(ctx context.Context, s phase0.Slot) (*spec.VersionedSignedBeaconBlock, error) {
	if !c.HasBlock(s) {
		return nil, fmt.Errorf("block at slot %d: %w", s, ErrNotFound)
	}
	bp, err := c.Proposal(s)
	if err != nil {
		return nil, err
	}
	eb, err := c.executionBlock(ctx, s, bp)
	if err != nil {
		return nil, err
	}
	var parent phase0.Root
	if s > 0 {
		parent = c.BlockRoot(c.prevBlockSlot(s - 1))
	}
	var graffiti [32]byte
	copy(graffiti[:], fmt.Sprintf("simnet slot %d", s))
	randao := c.signature(2, uint64(s))
	sig := c.signature(5, uint64(s))
	payload, err := c.payload(eb, s)
	if err != nil {
		return nil, err
	}

	out := &spec.VersionedSignedBeaconBlock{Version: c.VersionAt(s)}
	switch out.Version {
	case spec.DataVersionDeneb:
		atts, err := c.denebAttestations(s)
		if err != nil {
			return nil, err
		}
		out.Deneb = &deneb.SignedBeaconBlock{
			Message: &deneb.BeaconBlock{
				Slot: s, ProposerIndex: bp.Proposer, ParentRoot: parent, StateRoot: c.StateRoot(s),
				Body: &deneb.BeaconBlockBody{
					RANDAOReveal: randao, ETH1Data: c.eth1Data(), Graffiti: graffiti,
					ProposerSlashings: c.proposerSlashings(s), AttesterSlashings: []*phase0.AttesterSlashing{},
					Attestations: atts, Deposits: []*phase0.Deposit{}, VoluntaryExits: c.voluntaryExits(s),
					SyncAggregate: c.syncAggregate(s), ExecutionPayload: payload,
					BLSToExecutionChanges: []*capella.SignedBLSToExecutionChange{}, BlobKZGCommitments: []deneb.KZGCommitment{},
				},
			},
			Signature: sig,
		}
	default:
		atts, err := c.electraAttestations(s)
		if err != nil {
			return nil, err
		}
		out.Electra = &electra.SignedBeaconBlock{
			Message: &electra.BeaconBlock{
				Slot: s, ProposerIndex: bp.Proposer, ParentRoot: parent, StateRoot: c.StateRoot(s),
				Body: &electra.BeaconBlockBody{
					RANDAOReveal: randao, ETH1Data: c.eth1Data(), Graffiti: graffiti,
					ProposerSlashings: c.proposerSlashings(s), AttesterSlashings: []*electra.AttesterSlashing{},
					Attestations: atts, Deposits: []*phase0.Deposit{}, VoluntaryExits: c.voluntaryExits(s),
					SyncAggregate: c.syncAggregate(s), ExecutionPayload: payload,
					BLSToExecutionChanges: []*capella.SignedBLSToExecutionChange{}, BlobKZGCommitments: []deneb.KZGCommitment{},
					ExecutionRequests: &electra.ExecutionRequests{
						Deposits:       []*electra.DepositRequest{},
						Withdrawals:    []*electra.WithdrawalRequest{},
						Consolidations: []*electra.ConsolidationRequest{},
					},
				},
			},
			Signature: sig,
		}
	}
	return out, nil
}
