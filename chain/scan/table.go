package scan

import (
	"cmp"
	"fmt"
	"slices"

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

// kEntry is one duty of a committee: its index in duties and its position.
type kEntry struct {
	duty int32
	pos  uint32
}

// dutyTable holds the protocol validators' duties of one epoch and what is
// needed to decode aggregation bits (committee sizes follow from n and the
// committee count).
type dutyTable struct {
	epoch phase0.Epoch
	spe   uint64
	cps   uint64
	n     uint64
	// duties by ascending validator index: the order of a unit's duties and
	// inclusions, so encoding a unit finds them already sorted.
	duties []protoDuty
	// byK lists the duties of committee k in byK[start[k]:start[k+1]]
	// (ascending validator within a committee).
	start []int32
	byK   []kEntry
}

func newDutyTable(ec *shuffle.EpochCommittees, proto bitset) *dutyTable {
	t := &dutyTable{epoch: ec.Epoch, spe: ec.SlotsPerEpoch, cps: ec.CommitteesPerSlot, n: uint64(len(ec.Shuffled))}
	k := uint32(0)
	ec.ForEach(func(_ phase0.Slot, _ phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
		for i, v := range members {
			if proto.has(v) {
				t.duties = append(t.duties, protoDuty{validator: v, pos: uint32(i), k: k})
			}
		}
		k++
	})
	slices.SortFunc(t.duties, func(a, b protoDuty) int { return cmp.Compare(a.validator, b.validator) })
	t.index()
	return t
}

// newDutyTableFromMembers is newDutyTable from the protocol validators'
// places only (ascending validator index, distinct positions).
func newDutyTableFromMembers(em *shuffle.EpochMembers) (*dutyTable, error) {
	t := &dutyTable{epoch: em.Epoch, spe: em.SlotsPerEpoch, cps: em.CommitteesPerSlot, n: em.Active}
	count := t.cps * t.spe
	if count == 0 || t.n == 0 && len(em.Members) > 0 {
		return nil, fmt.Errorf("committees of epoch %d: %d committees for %d active validators", em.Epoch, count, t.n)
	}
	t.duties = make([]protoDuty, len(em.Members))
	taken := make(bitset, t.n/64+1)
	for i, m := range em.Members {
		switch {
		case m.Position >= t.n:
			return nil, fmt.Errorf("committees of epoch %d: member %d at position %d out of range (%d active)", em.Epoch, m.Validator, m.Position, t.n)
		case i > 0 && m.Validator <= em.Members[i-1].Validator:
			return nil, fmt.Errorf("committees of epoch %d: member %d out of order or listed twice", em.Epoch, m.Validator)
		case taken.has(phase0.ValidatorIndex(m.Position)):
			return nil, fmt.Errorf("committees of epoch %d: member %d at position %d, already taken", em.Epoch, m.Validator, m.Position)
		}
		taken[m.Position/64] |= 1 << (m.Position % 64)
		// The committee k with n*k/count <= p < n*(k+1)/count.
		k := ((m.Position+1)*count - 1) / t.n
		lo := t.n * k / count
		if lo > m.Position || t.n*(k+1)/count <= m.Position {
			return nil, fmt.Errorf("internal: position %d placed in committee %d of %d (%d active)", m.Position, k, count, t.n)
		}
		t.duties[i] = protoDuty{validator: m.Validator, pos: uint32(m.Position - lo), k: uint32(k)}
	}
	t.index()
	return t, nil
}

// index builds byK from duties (a counting sort by committee).
func (t *dutyTable) index() {
	count := t.cps * t.spe
	t.start = make([]int32, count+1)
	for _, d := range t.duties {
		t.start[d.k+1]++
	}
	for k := range count {
		t.start[k+1] += t.start[k]
	}
	t.byK = make([]kEntry, len(t.duties))
	next := slices.Clone(t.start[:count])
	for i, d := range t.duties {
		t.byK[next[d.k]] = kEntry{duty: int32(i), pos: d.pos}
		next[d.k]++
	}
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
		for _, e := range t.byK[t.start[k]:t.start[k+1]] {
			if inc[e.duty] == 0 && a.AggregationBits.BitAt(offset+uint64(e.pos)) {
				inc[e.duty] = blockSlot
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
