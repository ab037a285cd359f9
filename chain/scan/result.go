package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// unitResult is what one block epoch b contributes:
//   - duties: every protocol duty of epoch b (when b is a duty epoch);
//   - inclusions: the earliest inclusion, within blocks of epoch b, of
//     protocol duties of epochs b-1 and b;
//   - withdrawals to protocol validators in blocks of epoch b (when asked
//     for and b is a duty epoch).
//
// Reducing the units in epoch order (minimum over the inclusions of a duty)
// gives the duty record; the encoding is canonical, so its sha256 is the
// epoch's digest.
type unitResult struct {
	epoch       uint64
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

const unitVersion = 1

func (u *unitResult) canonicalize() {
	slices.SortFunc(u.duties, func(a, b unitDuty) int {
		if a.validator != b.validator {
			return cmpU(a.validator, b.validator)
		}
		return cmpU(a.slot, b.slot)
	})
	slices.SortFunc(u.inclusions, func(a, b unitInclusion) int {
		if a.dutySlot/32 != b.dutySlot/32 {
			return cmpU(a.dutySlot, b.dutySlot)
		}
		if a.validator != b.validator {
			return cmpU(a.validator, b.validator)
		}
		return cmpU(a.dutySlot, b.dutySlot)
	})
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

func (u *unitResult) encode() []byte {
	u.canonicalize()
	out := make([]byte, 0, 1+8+12+len(u.duties)*16+len(u.inclusions)*24+len(u.withdrawals)*24)
	out = append(out, unitVersion)
	out = binary.BigEndian.AppendUint64(out, u.epoch)
	out = binary.BigEndian.AppendUint32(out, uint32(len(u.duties)))
	for _, d := range u.duties {
		out = binary.BigEndian.AppendUint64(out, d.validator)
		out = binary.BigEndian.AppendUint64(out, d.slot)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(u.inclusions)))
	for _, i := range u.inclusions {
		out = binary.BigEndian.AppendUint64(out, i.validator)
		out = binary.BigEndian.AppendUint64(out, i.dutySlot)
		out = binary.BigEndian.AppendUint64(out, i.inclSlot)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(u.withdrawals)))
	for _, w := range u.withdrawals {
		out = binary.BigEndian.AppendUint64(out, w.slot)
		out = binary.BigEndian.AppendUint64(out, w.validator)
		out = binary.BigEndian.AppendUint64(out, w.amount)
	}
	return out
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errors.New("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) count(rec int) int {
	if r.err != nil || len(r.b) < 4 {
		r.err = errors.New("truncated")
		return 0
	}
	n := int(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	if n*rec > len(r.b) {
		r.err = errors.New("count beyond data")
		return 0
	}
	return n
}

func decodeUnit(b []byte) (*unitResult, error) {
	if len(b) < 1 || b[0] != unitVersion {
		return nil, errors.New("decode epoch result: unknown version")
	}
	r := &reader{b: b[1:]}
	u := &unitResult{epoch: r.u64()}
	u.duties = make([]unitDuty, r.count(16))
	for i := range u.duties {
		u.duties[i] = unitDuty{r.u64(), r.u64()}
	}
	u.inclusions = make([]unitInclusion, r.count(24))
	for i := range u.inclusions {
		u.inclusions[i] = unitInclusion{r.u64(), r.u64(), r.u64()}
	}
	u.withdrawals = make([]unitWithdrawal, r.count(24))
	for i := range u.withdrawals {
		u.withdrawals[i] = unitWithdrawal{r.u64(), r.u64(), r.u64()}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode epoch result: %w", r.err)
	}
	return u, nil
}
