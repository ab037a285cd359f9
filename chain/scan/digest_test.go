package scan

import (
	"testing"

	"github.com/odaowatch/watchtower/rewards"
)

// TestRecordDigestMatchesRewards: the streamed digest equals
// rewards.DutyRecord.Digest (one buffer) for empty, unsorted and
// withdrawal-carrying records.
func TestRecordDigestMatchesRewards(t *testing.T) {
	recs := []*rewards.DutyRecord{
		{Version: rewards.DutyRecordVersion, Index: 3, StartSlot: 64, EndSlot: 127, FirstEpoch: 2},
		{Version: rewards.DutyRecordVersion, Index: 4, StartSlot: 64, EndSlot: 127, FirstEpoch: 2,
			Validators:  []rewards.ValidatorDuties{{Index: 9, Duties: []byte{1, 2, 0xff}}, {Index: 2, Duties: []byte{0, 0x80}}, {Index: 5}},
			Withdrawals: []rewards.Withdrawal{{Slot: 90, ValidatorIndex: 9, AmountGwei: 7}, {Slot: 70, ValidatorIndex: 2, AmountGwei: 1 << 40}}},
	}
	for i, r := range recs {
		want, err := r.Digest()
		if err != nil {
			t.Fatal(err)
		}
		got, err := recordDigest(r)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("record %d: streamed digest %s, rewards digest %s", i, got, want)
		}
	}
}
