package beacon

import (
	"slices"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// Attestation model.
//
// Every active validator has one duty per epoch (its committee slot s). It
// attests with its participation rate. An attestation is included either in
// the first block after s ("primary") or, with the late-inclusion rate, in the
// first block at or after s+d(s), d(s) in [2, SLOTS_PER_EPOCH] drawn per slot
// ("late"), provided that block lies within the end of the next epoch. Each
// block carries one aggregate per attested slot (Electra: all committees of
// the slot in one aggregate with committee_bits; Deneb: one per committee).
// When a block has more attested slots than the fork allows aggregates, the
// most recent slots are kept and the older ones dropped (those attestations
// are never included).

// lastInclusionSlot is the end of the epoch after the duty's epoch.
func (c *Chain) lastInclusionSlot(s phase0.Slot) phase0.Slot {
	return c.firstSlot(c.epochOf(s)+2) - 1
}

// primaryInclusion is the first block after s, or false outside the window.
func (c *Chain) primaryInclusion(s phase0.Slot) (phase0.Slot, bool) {
	b := c.nextBlockSlot(s)
	return b, b <= c.lastInclusionSlot(s)
}

// lateInclusion is the block where late attestations of slot s go.
func (c *Chain) lateInclusion(s phase0.Slot) (phase0.Slot, bool) {
	spe := c.sc.SlotsPerEpoch
	d := uint64(2)
	if spe > 2 {
		d += draw(c.sc.Seed, purposeLateDelay, uint64(s), 0) % (spe - 1)
	}
	b := c.nextBlockSlot(s + phase0.Slot(d) - 1)
	return b, b <= c.lastInclusionSlot(s)
}

// attests reports whether validator v attests for its duty at slot s.
func (c *Chain) attests(v phase0.ValidatorIndex, s phase0.Slot) bool {
	ppm := c.sc.participationPPM
	if c.isProto[v] {
		pv := c.sc.protocol[v]
		if c.epochOf(s) >= pv.slashedEpoch {
			return false
		}
		ppm = pv.participationPPM
	}
	return chance(c.sc.Seed, purposeAttest, uint64(v), uint64(s), ppm)
}

// isLate reports whether v's attestation for s goes to the late block.
func (c *Chain) isLate(v phase0.ValidatorIndex, s phase0.Slot) bool {
	return chance(c.sc.Seed, purposeLate, uint64(v), uint64(s), c.sc.latePPM)
}

// maxAggregates per block for the fork of block b.
func (c *Chain) maxAggregates(b phase0.Slot) uint64 {
	if c.VersionAt(b) == spec.DataVersionDeneb {
		return 128
	}
	return 8
}

// attestedSlots lists the duty slots whose aggregates block b carries, most
// recent first, after applying the per-block cap.
func (c *Chain) attestedSlots(b phase0.Slot) ([]phase0.Slot, error) {
	if b == 0 {
		return nil, nil
	}
	var lo phase0.Slot
	if span := phase0.Slot(2 * c.sc.SlotsPerEpoch); b > span {
		lo = b - span
	}
	var out []phase0.Slot
	used := uint64(0)
	limit := c.maxAggregates(b)
	deneb := c.VersionAt(b) == spec.DataVersionDeneb
	for s := b - 1; ; s-- {
		p, pok := c.primaryInclusion(s)
		l, lok := c.lateInclusion(s)
		if (pok && p == b) || (lok && l == b) {
			cost := uint64(1)
			if deneb {
				ec, err := c.Committees(c.epochOf(s))
				if err != nil {
					return nil, err
				}
				cost = ec.CommitteesPerSlot
			}
			if used+cost > limit {
				break
			}
			used += cost
			out = append(out, s)
		}
		if s == lo {
			break
		}
	}
	return out, nil
}

// Inclusion is the oracle: the slot of the block that includes validator v's
// attestation for its duty at slot s, or false if it is never included (not
// attesting, dropped, or beyond the window). It does not check that v has a
// duty at s, nor the head.
func (c *Chain) Inclusion(v phase0.ValidatorIndex, s phase0.Slot) (phase0.Slot, bool, error) {
	if !c.attests(v, s) {
		return 0, false, nil
	}
	var b phase0.Slot
	var ok bool
	if c.isLate(v, s) {
		b, ok = c.lateInclusion(s)
	} else {
		b, ok = c.primaryInclusion(s)
	}
	if !ok {
		return 0, false, nil
	}
	slots, err := c.attestedSlots(b)
	if err != nil {
		return 0, false, err
	}
	return b, slices.Contains(slots, s), nil
}

// includedHere reports whether v's attestation for s is in block b (s in attestedSlots(b)).
func (c *Chain) includedHere(v phase0.ValidatorIndex, s, b phase0.Slot, primaryOK, lateOK bool, primary, late phase0.Slot) bool {
	if !c.attests(v, s) {
		return false
	}
	if c.isLate(v, s) {
		return lateOK && late == b
	}
	return primaryOK && primary == b
}

// inclusionKeys are the hoisted draw keys of attests and isLate.
type inclusionKeys struct{ attest, late uint64 }

func (c *Chain) inclusionKeys() inclusionKeys {
	return inclusionKeys{attest: drawKey(c.sc.Seed, purposeAttest), late: drawKey(c.sc.Seed, purposeLate)}
}

// includedAt is includedHere for a block that is (wantPrimary) the primary
// and/or (wantLate) the late inclusion block of slot s, with the draw keys
// hoisted out of the per-member loop; the decisions are the same draws.
func (c *Chain) includedAt(v phase0.ValidatorIndex, s phase0.Slot, wantPrimary, wantLate bool, k inclusionKeys) bool {
	ppm := c.sc.participationPPM
	if c.isProto[v] {
		pv := c.sc.protocol[v]
		if c.epochOf(s) >= pv.slashedEpoch {
			return false
		}
		ppm = pv.participationPPM
	}
	if ppm < ppmScale && drawKeyed(k.attest, uint64(v), uint64(s))%ppmScale >= ppm {
		return false
	}
	if c.sc.latePPM >= ppmScale || drawKeyed(k.late, uint64(v), uint64(s))%ppmScale < c.sc.latePPM {
		return wantLate
	}
	return wantPrimary
}
