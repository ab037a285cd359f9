package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// unitResult is what one block epoch b contributes:
//   - duties: every protocol duty of epoch b (when b is a duty epoch);
//   - inclusions: the earliest inclusion, within blocks of epoch b, of
//     protocol duties of epochs b-1 and b;
//   - withdrawals to protocol validators in blocks of epoch b (when asked
//     for and b is a duty epoch).
//
// A unit does not depend on the interval's end: the last unit (end+1) is
// stored like any other and its own epoch's duties are dropped when the
// record is reduced. It records the digest of the validator set it was
// scanned for, so a later scan for a larger set rescans only units where a
// new validator had a duty.
//
// Reducing the units in epoch order (minimum over the inclusions of a duty)
// gives the duty record; the body encoding is canonical, so the sha256 of
// the body restricted to the final validator set is the epoch's digest.
type unitResult struct {
	epoch uint64
	// set is the digest of the validator set the unit was scanned for.
	set [32]byte
	// chained: the epoch has blocks with known roots; firstParent is the
	// parent_root of its first block, lastRoot the root of its last block.
	chained     bool
	unchained   bool // the epoch has blocks whose roots are unknown
	firstParent [32]byte
	lastRoot    [32]byte
	duties      []unitDuty
	inclusions  []unitInclusion
	withdrawals []unitWithdrawal
}

type unitDuty struct {
	validator uint64
	slot      uint64
}

type unitInclusion struct {
	validator uint64
	dutySlot  uint64
	inclSlot  uint64
}

type unitWithdrawal struct {
	slot, validator, amount uint64
}

// unitVersion 3: set digest, end-independent compact body (see encode).
const unitVersion = 3

// unitHeader is the length of version and set digest before the body.
const unitHeader = 1 + 32

// unitSet reads the set digest of an encoded unit without decoding it.
func unitSet(b []byte) ([32]byte, error) {
	var d [32]byte
	if len(b) < unitHeader || b[0] != unitVersion {
		return d, errors.New("decode epoch result: unknown version (stored by another release?)")
	}
	copy(d[:], b[1:unitHeader])
	return d, nil
}

// restrict keeps only what the record of a scan for the validators in keep
// uses: when last is set (the unit of block epoch end+1), only the
// inclusions of the previous epoch's duties.
func (u *unitResult) restrict(keep bitset, last bool) {
	if last {
		u.duties, u.withdrawals = nil, nil
	}
	u.duties = slices.DeleteFunc(u.duties, func(d unitDuty) bool { return !keep.has(phase0.ValidatorIndex(d.validator)) })
	u.inclusions = slices.DeleteFunc(u.inclusions, func(in unitInclusion) bool {
		return !keep.has(phase0.ValidatorIndex(in.validator)) || (last && in.dutySlot/slotsPerEpoch == u.epoch)
	})
	u.withdrawals = slices.DeleteFunc(u.withdrawals, func(w unitWithdrawal) bool { return !keep.has(phase0.ValidatorIndex(w.validator)) })
}

func (u *unitResult) canonicalize() {
	dc := func(a, b unitDuty) int {
		if a.validator != b.validator {
			return cmpU(a.validator, b.validator)
		}
		return cmpU(a.slot, b.slot)
	}
	if !slices.IsSortedFunc(u.duties, dc) {
		slices.SortFunc(u.duties, dc)
	}
	ic := func(a, b unitInclusion) int {
		if a.dutySlot/32 != b.dutySlot/32 {
			return cmpU(a.dutySlot, b.dutySlot)
		}
		if a.validator != b.validator {
			return cmpU(a.validator, b.validator)
		}
		return cmpU(a.dutySlot, b.dutySlot)
	}
	if !slices.IsSortedFunc(u.inclusions, ic) {
		slices.SortFunc(u.inclusions, ic)
	}
	slices.SortFunc(u.withdrawals, func(a, b unitWithdrawal) int {
		if a.slot != b.slot {
			return cmpU(a.slot, b.slot)
		}
		if a.validator != b.validator {
			return cmpU(a.validator, b.validator)
		}
		return cmpU(a.amount, b.amount)
	})
}

// encode writes version | set digest (32) | body.
func (u *unitResult) encode() ([]byte, error) {
	body, err := u.encodeBody(make([]byte, unitHeader, unitHeader+16+len(u.duties)*4+len(u.inclusions)*2+len(u.withdrawals)*12))
	if err != nil {
		return nil, err
	}
	body[0] = unitVersion
	copy(body[1:unitHeader], u.set[:])
	return body, nil
}

// encodeBody appends the canonical compact body (about 3 bytes per duty):
//
//	epoch (uvarint) | chain flag (1: 0 no blocks, 1 roots follow,
//	2 blocks with unknown roots) [| first parent (32) | last root (32)]
//	duties:     count | per duty, by validator: validator delta (uvarint),
//	            slot offset in the epoch (1 byte), first inclusion delay in
//	            this epoch's blocks (uvarint, 0 = none)
//	previous:   count | per inclusion of an epoch b-1 duty, by validator:
//	            validator delta, duty slot offset (1 byte), delay (uvarint)
//	withdrawals: count | slot offset (1 byte), validator (uvarint), amount (uvarint)
func (u *unitResult) encodeBody(out []byte) ([]byte, error) {
	u.canonicalize()
	out = binary.AppendUvarint(out, u.epoch)
	if u.chained {
		out = append(out, 1)
		out = append(out, u.firstParent[:]...)
		out = append(out, u.lastRoot[:]...)
	} else if u.unchained {
		out = append(out, 2)
	} else {
		out = append(out, 0)
	}
	first := u.epoch * slotsPerEpoch
	var prevIncs, curIncs []unitInclusion
	for _, in := range u.inclusions {
		switch {
		case in.inclSlot <= in.dutySlot:
			return nil, fmt.Errorf("epoch %d: inclusion at slot %d not after duty slot %d", u.epoch, in.inclSlot, in.dutySlot)
		case in.dutySlot/slotsPerEpoch == u.epoch:
			curIncs = append(curIncs, in)
		case in.dutySlot/slotsPerEpoch+1 == u.epoch:
			prevIncs = append(prevIncs, in)
		default:
			return nil, fmt.Errorf("epoch %d: inclusion for duty slot %d outside epochs %d..%d", u.epoch, in.dutySlot, u.epoch-1, u.epoch)
		}
	}
	out = binary.AppendUvarint(out, uint64(len(u.duties)))
	last := uint64(0)
	ci := 0
	for i, d := range u.duties {
		if d.slot/slotsPerEpoch != u.epoch {
			return nil, fmt.Errorf("epoch %d: duty slot %d outside the epoch", u.epoch, d.slot)
		}
		if i > 0 && d.validator <= last {
			return nil, fmt.Errorf("epoch %d: validator %d has two duties", u.epoch, d.validator)
		}
		delay := uint64(0)
		if ci < len(curIncs) && curIncs[ci].validator == d.validator {
			if curIncs[ci].dutySlot != d.slot {
				return nil, fmt.Errorf("epoch %d: inclusion of validator %d for slot %d, duty at %d", u.epoch, d.validator, curIncs[ci].dutySlot, d.slot)
			}
			delay = curIncs[ci].inclSlot - d.slot
			ci++
		}
		out = binary.AppendUvarint(out, d.validator-last)
		out = append(out, byte(d.slot-first))
		out = binary.AppendUvarint(out, delay)
		last = d.validator
	}
	if ci != len(curIncs) {
		return nil, fmt.Errorf("epoch %d: inclusion of validator %d matches no duty", u.epoch, curIncs[ci].validator)
	}
	out = binary.AppendUvarint(out, uint64(len(prevIncs)))
	last = 0
	for _, in := range prevIncs {
		out = binary.AppendUvarint(out, in.validator-last)
		out = append(out, byte(in.dutySlot-(first-slotsPerEpoch)))
		out = binary.AppendUvarint(out, in.inclSlot-in.dutySlot)
		last = in.validator
	}
	out = binary.AppendUvarint(out, uint64(len(u.withdrawals)))
	for _, w := range u.withdrawals {
		if w.slot/slotsPerEpoch != u.epoch {
			return nil, fmt.Errorf("epoch %d: withdrawal at slot %d outside the epoch", u.epoch, w.slot)
		}
		out = append(out, byte(w.slot-first))
		out = binary.AppendUvarint(out, w.validator)
		out = binary.AppendUvarint(out, w.amount)
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() uint64 {
	if r.err != nil || len(r.b) == 0 {
		r.err = errors.New("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return uint64(v)
}

// count reads a count and bounds it by the bytes left (minimum record size).
func (r *reader) count(minRec int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minRec) {
		r.err = fmt.Errorf("count %d beyond the data", n)
		return 0
	}
	return int(n)
}

func decodeUnit(b []byte) (*unitResult, error) {
	set, err := unitSet(b)
	if err != nil {
		return nil, err
	}
	r := &reader{b: b[unitHeader:]}
	u := &unitResult{set: set, epoch: r.uvarint()}
	if u.epoch > 1<<58 {
		return nil, errors.New("decode epoch result: epoch out of range")
	}
	switch r.byte() {
	case 0:
	case 2:
		u.unchained = true
	case 1:
		u.chained = true
		if len(r.b) < 64 {
			return nil, errors.New("decode epoch result: truncated roots")
		}
		copy(u.firstParent[:], r.b[:32])
		copy(u.lastRoot[:], r.b[32:64])
		r.b = r.b[64:]
	default:
		r.err = errors.New("bad chained flag")
	}
	first := u.epoch * slotsPerEpoch
	u.duties = make([]unitDuty, r.count(3))
	var curIncs []unitInclusion
	last := uint64(0)
	for i := range u.duties {
		v := last + r.uvarint()
		off, delay := r.byte(), r.uvarint()
		if off >= slotsPerEpoch || (i > 0 && v == last) {
			r.err = errors.New("malformed duty")
		}
		u.duties[i] = unitDuty{validator: v, slot: first + off}
		if delay != 0 {
			curIncs = append(curIncs, unitInclusion{validator: v, dutySlot: first + off, inclSlot: first + off + delay})
		}
		last = v
	}
	n := r.count(3)
	last = 0
	for range n {
		v := last + r.uvarint()
		off, delay := r.byte(), r.uvarint()
		if off >= slotsPerEpoch || delay == 0 || first < slotsPerEpoch {
			r.err = errors.New("malformed inclusion")
		}
		ds := first - slotsPerEpoch + off
		u.inclusions = append(u.inclusions, unitInclusion{validator: v, dutySlot: ds, inclSlot: ds + delay})
		last = v
	}
	u.inclusions = append(u.inclusions, curIncs...)
	u.withdrawals = make([]unitWithdrawal, r.count(3))
	for i := range u.withdrawals {
		off := r.byte()
		if off >= slotsPerEpoch {
			r.err = errors.New("malformed withdrawal")
		}
		u.withdrawals[i] = unitWithdrawal{slot: first + off, validator: r.uvarint(), amount: r.uvarint()}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode epoch result: %w", r.err)
	}
	u.canonicalize()
	return u, nil
}
