package shuffle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// FarFutureEpoch is the spec's FAR_FUTURE_EPOCH.
const FarFutureEpoch = phase0.Epoch(^uint64(0))

// Spec holds the constants committee computation depends on.
type Spec struct {
	SlotsPerEpoch             uint64
	MaxCommitteesPerSlot      uint64
	TargetCommitteeSize       uint64
	ShuffleRoundCount         uint8
	MinSeedLookahead          uint64
	EpochsPerHistoricalVector uint64
	DomainBeaconAttester      phase0.DomainType
}

// MainnetSpec returns the mainnet preset values.
func MainnetSpec() Spec {
	return Spec{
		SlotsPerEpoch:             32,
		MaxCommitteesPerSlot:      64,
		TargetCommitteeSize:       128,
		ShuffleRoundCount:         90,
		MinSeedLookahead:          1,
		EpochsPerHistoricalVector: 65536,
		DomainBeaconAttester:      phase0.DomainType{0x01, 0x00, 0x00, 0x00},
	}
}

// Validate reports constants that would make committee computation meaningless.
func (s Spec) Validate() error {
	switch {
	case s.SlotsPerEpoch == 0:
		return errors.New("spec: slots per epoch is zero")
	case s.MaxCommitteesPerSlot == 0:
		return errors.New("spec: max committees per slot is zero")
	case s.TargetCommitteeSize == 0:
		return errors.New("spec: target committee size is zero")
	case s.EpochsPerHistoricalVector == 0:
		return errors.New("spec: epochs per historical vector is zero")
	case s.MinSeedLookahead+1 > s.EpochsPerHistoricalVector:
		return errors.New("spec: min seed lookahead does not fit the historical vector")
	}
	return nil
}

// ValidatorEpochs is the part of a validator record that decides activity.
type ValidatorEpochs struct {
	ActivationEpoch phase0.Epoch
	ExitEpoch       phase0.Epoch
}

// IsActive is the spec's is_active_validator.
func (v ValidatorEpochs) IsActive(epoch phase0.Epoch) bool {
	return v.ActivationEpoch <= epoch && epoch < v.ExitEpoch
}

// ActiveIndices is get_active_validator_indices over a registry given as
// activation/exit epochs, in ascending index order.
func ActiveIndices(registry []ValidatorEpochs, epoch phase0.Epoch) []phase0.ValidatorIndex {
	out := make([]phase0.ValidatorIndex, 0, len(registry))
	for i, v := range registry {
		if v.IsActive(epoch) {
			out = append(out, phase0.ValidatorIndex(i))
		}
	}
	return out
}

// ActiveIndicesFromValidators is ActiveIndices over a state's validator list.
func ActiveIndicesFromValidators(validators []*phase0.Validator, epoch phase0.Epoch) ([]phase0.ValidatorIndex, error) {
	out := make([]phase0.ValidatorIndex, 0, len(validators))
	for i, v := range validators {
		if v == nil {
			return nil, fmt.Errorf("active indices: validator %d is nil", i)
		}
		if v.ActivationEpoch <= epoch && epoch < v.ExitEpoch {
			out = append(out, phase0.ValidatorIndex(i))
		}
	}
	return out, nil
}

// SeedMixIndex is the position in randao_mixes whose value seeds the
// attester shuffle of epoch: (epoch + EPOCHS_PER_HISTORICAL_VECTOR -
// MIN_SEED_LOOKAHEAD - 1) mod EPOCHS_PER_HISTORICAL_VECTOR.
func (s Spec) SeedMixIndex(epoch phase0.Epoch) uint64 {
	return (uint64(epoch) + s.EpochsPerHistoricalVector - s.MinSeedLookahead - 1) % s.EpochsPerHistoricalVector
}

// Seed is get_seed(state, epoch, DOMAIN_BEACON_ATTESTER) given the mix the
// state holds at SeedMixIndex(epoch).
func (s Spec) Seed(epoch phase0.Epoch, mix [32]byte) [32]byte {
	var buf [4 + 8 + 32]byte
	copy(buf[:4], s.DomainBeaconAttester[:])
	binary.LittleEndian.PutUint64(buf[4:12], uint64(epoch))
	copy(buf[12:], mix[:])
	return sha256.Sum256(buf[:])
}

// SeedFromMixes is Seed reading the mix from a state's randao_mixes vector.
func (s Spec) SeedFromMixes(epoch phase0.Epoch, mixes []phase0.Root) ([32]byte, error) {
	if uint64(len(mixes)) != s.EpochsPerHistoricalVector {
		return [32]byte{}, fmt.Errorf("seed for epoch %d: randao mixes has %d entries, spec expects %d",
			epoch, len(mixes), s.EpochsPerHistoricalVector)
	}
	return s.Seed(epoch, mixes[s.SeedMixIndex(epoch)]), nil
}

// CommitteesPerSlot is get_committee_count_per_slot for activeCount active validators:
// max(1, min(MAX_COMMITTEES_PER_SLOT, activeCount / SLOTS_PER_EPOCH / TARGET_COMMITTEE_SIZE)).
func (s Spec) CommitteesPerSlot(activeCount uint64) uint64 {
	return max(1, min(s.MaxCommitteesPerSlot, activeCount/s.SlotsPerEpoch/s.TargetCommitteeSize))
}

// EpochCommittees holds all beacon committees of one epoch as one shuffled
// list; committees are sub-slices of it (do not modify them).
type EpochCommittees struct {
	Epoch             phase0.Epoch
	SlotsPerEpoch     uint64
	CommitteesPerSlot uint64
	// Shuffled is the active-index list in committee order.
	Shuffled []phase0.ValidatorIndex
}

// Compute builds the committees of epoch from its active indices (ascending,
// as get_active_validator_indices returns them) and its attester seed.
func (s Spec) Compute(epoch phase0.Epoch, active []phase0.ValidatorIndex, seed [32]byte) (*EpochCommittees, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	for i := 1; i < len(active); i++ {
		if active[i] <= active[i-1] {
			return nil, fmt.Errorf("committees of epoch %d: active indices not strictly ascending at position %d", epoch, i)
		}
	}
	shuffled, err := ShuffleList(active, seed, s.ShuffleRoundCount)
	if err != nil {
		return nil, fmt.Errorf("shuffle epoch %d: %w", epoch, err)
	}
	return &EpochCommittees{
		Epoch:             epoch,
		SlotsPerEpoch:     s.SlotsPerEpoch,
		CommitteesPerSlot: s.CommitteesPerSlot(uint64(len(active))),
		Shuffled:          shuffled,
	}, nil
}

// ComputeFromState builds the committees of epoch from a state's validator
// registry and randao mixes. Any state from which epoch's seed mix is still
// in the vector works (the mix index must not have been overwritten: the
// state must be less than EPOCHS_PER_HISTORICAL_VECTOR - MIN_SEED_LOOKAHEAD - 1
// epochs past epoch).
func (s Spec) ComputeFromState(epoch phase0.Epoch, validators []*phase0.Validator, mixes []phase0.Root) (*EpochCommittees, error) {
	active, err := ActiveIndicesFromValidators(validators, epoch)
	if err != nil {
		return nil, fmt.Errorf("committees of epoch %d: %w", epoch, err)
	}
	seed, err := s.SeedFromMixes(epoch, mixes)
	if err != nil {
		return nil, err
	}
	return s.Compute(epoch, active, seed)
}

// Count is the number of committees in the epoch.
func (e *EpochCommittees) Count() uint64 { return e.CommitteesPerSlot * e.SlotsPerEpoch }

// Committee returns the committee index of slot (which must be in the epoch).
func (e *EpochCommittees) Committee(slot phase0.Slot, index phase0.CommitteeIndex) ([]phase0.ValidatorIndex, error) {
	if uint64(slot)/e.SlotsPerEpoch != uint64(e.Epoch) {
		return nil, fmt.Errorf("committee: slot %d is not in epoch %d", slot, e.Epoch)
	}
	if uint64(index) >= e.CommitteesPerSlot {
		return nil, fmt.Errorf("committee: index %d out of range (%d per slot)", index, e.CommitteesPerSlot)
	}
	k := (uint64(slot)%e.SlotsPerEpoch)*e.CommitteesPerSlot + uint64(index)
	return e.byNumber(k), nil
}

// byNumber is compute_committee's slice [n*k/c, n*(k+1)/c).
func (e *EpochCommittees) byNumber(k uint64) []phase0.ValidatorIndex {
	n, c := uint64(len(e.Shuffled)), e.Count()
	start, end := n*k/c, n*(k+1)/c
	return e.Shuffled[start:end:end]
}

// SlotCommittees returns all committees of slot in index order.
func (e *EpochCommittees) SlotCommittees(slot phase0.Slot) ([][]phase0.ValidatorIndex, error) {
	if uint64(slot)/e.SlotsPerEpoch != uint64(e.Epoch) {
		return nil, fmt.Errorf("slot committees: slot %d is not in epoch %d", slot, e.Epoch)
	}
	base := (uint64(slot) % e.SlotsPerEpoch) * e.CommitteesPerSlot
	out := make([][]phase0.ValidatorIndex, e.CommitteesPerSlot)
	for i := range out {
		out[i] = e.byNumber(base + uint64(i))
	}
	return out, nil
}

// ForEach calls fn for every committee of the epoch in (slot, index) order.
func (e *EpochCommittees) ForEach(fn func(slot phase0.Slot, index phase0.CommitteeIndex, members []phase0.ValidatorIndex)) {
	first := uint64(e.Epoch) * e.SlotsPerEpoch
	for k := range e.Count() {
		fn(phase0.Slot(first+k/e.CommitteesPerSlot), phase0.CommitteeIndex(k%e.CommitteesPerSlot), e.byNumber(k))
	}
}
