package beacon

import (
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/rewards"
)

// DutyRecord is the chain model's own ground truth for a reward interval: every attestation duty of the given
// validators in the epochs of [startSlot, endSlot] with the slot of its first inclusion (from the model, not
// from scanning blocks), and — when withdrawals is set — the withdrawals they received in those epochs' blocks.
// Tests compare scanners against it. The rewards duty record assumes 32 slots per epoch.
func (c *Chain) DutyRecord(index, startSlot, endSlot uint64, protocol []phase0.ValidatorIndex, withdrawals bool) (*rewards.DutyRecord, error) {
	const slotsPerEpoch = 32
	isProto := make(map[phase0.ValidatorIndex]bool, len(protocol))
	for _, v := range protocol {
		isProto[v] = true
	}
	bld := rewards.NewDutyRecordBuilder(index, startSlot, endSlot)
	for e := startSlot / slotsPerEpoch; e <= endSlot/slotsPerEpoch; e++ {
		ec, err := c.Committees(phase0.Epoch(e))
		if err != nil {
			return nil, err
		}
		var ferr error
		ec.ForEach(func(s phase0.Slot, _ phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
			for _, v := range members {
				if ferr != nil || !isProto[v] {
					continue
				}
				b, ok, err := c.Inclusion(v, s)
				if err != nil {
					ferr = err
					return
				}
				if !ok {
					b = 0
				}
				ferr = bld.AddDuty(uint64(v), uint64(s), uint64(b))
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		if !withdrawals {
			continue
		}
		for s := e * slotsPerEpoch; s < (e+1)*slotsPerEpoch; s++ {
			if !c.HasBlock(phase0.Slot(s)) {
				continue
			}
			for _, w := range c.Withdrawals(phase0.Slot(s)) {
				if isProto[w.ValidatorIndex] {
					bld.AddWithdrawal(rewards.Withdrawal{Slot: s, ValidatorIndex: uint64(w.ValidatorIndex), AmountGwei: uint64(w.Amount)})
				}
			}
		}
	}
	r := bld.Build()
	r.Withdrawals = r.Canonical().Withdrawals
	return r, nil
}
