package beacon

import (
	"context"
	"testing"
)

// FuzzScenario: arbitrary YAML never panics; accepted small scenarios build a chain and a block.
func FuzzScenario(f *testing.F) {
	f.Add([]byte("validator_count: 64\nslots_per_epoch: 4\nhead_slot: 9\n"))
	f.Add([]byte("validator_count: 3\nslots_per_epoch: 2\nhead_slot: 5\nmissed_slot_rate: 0.99\nfork: deneb\n"))
	f.Add([]byte("validator_count: 1\nhead_slot: 40\nslots_per_epoch: 4\nprotocol_validators:\n- pubkey: '0x" + pad96("1") + "'\n  slashed_epoch: 1\n"))
	f.Add([]byte("validator_count: 8\nprotocol_validators: [{pubkey: 1}]\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sc, err := ParseScenario(raw)
		if err != nil {
			return
		}
		if sc.ValidatorCount > 4096 || sc.HeadSlot > 256 || sc.SlotsPerEpoch > 64 || sc.SlotsPerEpoch == 0 || sc.HeadSlot == 0 {
			return // keep each case cheap
		}
		c, err := New(context.Background(), WithScenario(sc))
		if err != nil {
			return
		}
		head := c.HeadSlot()
		if c.HasBlock(head) {
			_, _ = c.Block(context.Background(), head)
		}
		_, _ = c.State(context.Background(), head)
	})
}
