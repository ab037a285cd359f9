package scan

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/shuffle"
)

// bitset is a set of validator indices.
type bitset []uint64

func newBitset(indices []phase0.ValidatorIndex) bitset {
	var maxIdx phase0.ValidatorIndex
	for _, i := range indices {
		maxIdx = max(maxIdx, i)
	}
	b := make(bitset, uint64(maxIdx)/64+1)
	for _, i := range indices {
		b[i/64] |= 1 << (i % 64)
	}
	return b
}

func (b bitset) has(i phase0.ValidatorIndex) bool {
	w := uint64(i) / 64
	return w < uint64(len(b)) && b[w]&(1<<(uint64(i)%64)) != 0
}

// protoDuty is a protocol validator's place in a committee.
type protoDuty struct {
	validator phase0.ValidatorIndex
	pos       uint32 // position inside the committee
	k         uint32 // committee number in the epoch: slotOffset*cps + index
}

// dutyTable holds the protocol validators' duties of one epoch and what is
// needed to decode aggregation bits (committee sizes follow from n and the
// committee count).
type dutyTable struct {
	epoch phase0.Epoch
	spe   uint64
	cps   uint64
	n     uint64
	start []int32 // duties of committee k: duties[start[k]:start[k+1]]
	// duties in (k, pos) order.
	duties []protoDuty
}

func newDutyTable(ec *shuffle.EpochCommittees, proto bitset) *dutyTable {
	t := &dutyTable{epoch: ec.Epoch, spe: ec.SlotsPerEpoch, cps: ec.CommitteesPerSlot, n: uint64(len(ec.Shuffled))}
	t.start = make([]int32, ec.Count()+1)
	k := uint32(0)
	ec.ForEach(func(_ phase0.Slot, _ phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
		t.start[k] = int32(len(t.duties))
		for i, v := range members {
			if proto.has(v) {
				t.duties = append(t.duties, protoDuty{validator: v, pos: uint32(i), k: k})
			}
		}
		k++
	})
	t.start[k] = int32(len(t.duties))
	return t
}

// newDutyTableFromMembers is newDutyTable from the protocol validators'
// places only (ascending shuffled positions).
func newDutyTableFromMembers(em *shuffle.EpochMembers) (*dutyTable, error) {
	t := &dutyTable{epoch: em.Epoch, spe: em.SlotsPerEpoch, cps: em.CommitteesPerSlot, n: em.Active}
	count := t.cps * t.spe
	t.start = make([]int32, count+1)
	t.duties = make([]protoDuty, 0, len(em.Members))
	k := uint64(0)
	for i, m := range em.Members {
		if m.Position >= t.n || (i > 0 && m.Position <= em.Members[i-1].Position) {
			return nil, fmt.Errorf("committees of epoch %d: member %d at position %d out of order or range (%d active)", em.Epoch, m.Validator, m.Position, t.n)
		}
		for t.n*(k+1)/count <= m.Position {
			k++
			t.start[k] = int32(len(t.duties))
		}
		t.duties = append(t.duties, protoDuty{validator: m.Validator, pos: uint32(m.Position - t.n*k/count), k: uint32(k)})
	}
	for k < count {
		k++
		t.start[k] = int32(len(t.duties))
	}
	return t, nil
}

func (t *dutyTable) size(k uint64) uint64 {
	c := t.cps * t.spe
	return t.n*(k+1)/c - t.n*k/c
}

func (t *dutyTable) dutySlot(d protoDuty) phase0.Slot {
	return phase0.Slot(uint64(t.epoch)*t.spe + uint64(d.k)/t.cps)
}

// apply marks, for each protocol duty covered by attestation a with a set
// bit, inclusion at blockSlot unless an earlier one is known. inc is indexed
// like t.duties.
func (t *dutyTable) apply(a *beacon.Attestation, blockSlot phase0.Slot, inc []phase0.Slot) error {
	j := uint64(a.Slot) % t.spe
	mark := func(k, offset uint64) {
		for di := t.start[k]; di < t.start[k+1]; di++ {
			if a.AggregationBits.BitAt(offset+uint64(t.duties[di].pos)) && inc[di] == 0 {
				inc[di] = blockSlot
			}
		}
	}
	if a.CommitteeBits != nil {
		offset := uint64(0)
		for _, ci := range a.CommitteeBits.BitIndices() {
			if uint64(ci) >= t.cps {
				return fmt.Errorf("block at slot %d: attestation for slot %d selects committee %d of %d", blockSlot, a.Slot, ci, t.cps)
			}
			k := j*t.cps + uint64(ci)
			mark(k, offset)
			offset += t.size(k)
		}
		if offset == 0 {
			return fmt.Errorf("block at slot %d: attestation for slot %d selects no committee", blockSlot, a.Slot)
		}
		if a.AggregationBits.Len() != offset {
			return fmt.Errorf("block at slot %d: attestation for slot %d has %d aggregation bits for %d committee members", blockSlot, a.Slot, a.AggregationBits.Len(), offset)
		}
		return nil
	}
	if uint64(a.CommitteeIndex) >= t.cps {
		return fmt.Errorf("block at slot %d: attestation for slot %d names committee %d of %d", blockSlot, a.Slot, a.CommitteeIndex, t.cps)
	}
	k := j*t.cps + uint64(a.CommitteeIndex)
	if size := t.size(k); a.AggregationBits.Len() != size {
		return fmt.Errorf("block at slot %d: attestation for slot %d committee %d has %d aggregation bits for %d members", blockSlot, a.Slot, a.CommitteeIndex, a.AggregationBits.Len(), size)
	}
	mark(k, 0)
	return nil
}
