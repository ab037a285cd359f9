package scan

import (
	"testing"
	"time"
)

// Mainnet: genesis 1606824023 (2020-12-01T12:00:23Z), 12 s slots, 32 slots per epoch.
const (
	mainnetGenesis = 1606824023
	day            = 86400
)

func unix(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(v.Unix())
}

// TestTimingMainnet51 reproduces mainnet interval 51's header fields
// (canonical rp-rewards-mainnet-51.json: consensusStartBlock 14678880,
// consensusEndBlock 14880479, startTime 2026-07-02T05:36:23Z, endTime
// 2026-07-30T05:36:11Z) from the on-chain interval boundaries (05:35:39).
func TestTimingMainnet51(t *testing.T) {
	start := unix(t, "2026-07-02T05:35:39Z") // claimIntervalTimeStart after interval 50
	interval := uint64(28 * day)
	// Head a day after the interval end: one interval passed.
	head := unix(t, "2026-07-31T05:35:39Z")
	n, err := IntervalsPassed(head, start, interval)
	if err != nil || n != 1 {
		t.Fatalf("intervals passed %d, %v", n, err)
	}
	end := IntervalEndTime(start, interval, n)
	if end != unix(t, "2026-07-30T05:35:39Z") {
		t.Fatalf("end time %d", end)
	}
	// (1785389739 - 1606824023) / 12 = 178565716 / 12 = 14880476.33 -> ceil 14880477.
	target, err := TargetSlot(end, mainnetGenesis, 12)
	if err != nil || target != 14880477 {
		t.Fatalf("target slot %d, %v", target, err)
	}
	// 14880477 / 32 = 465014 (465014*32 = 14880448); last slot 14880448 + 31.
	snap := SnapshotSlot(target, 32)
	if snap != 14880479 {
		t.Fatalf("snapshot slot %d", snap)
	}
	if got := SlotTime(mainnetGenesis, 12, snap); got != unix(t, "2026-07-30T05:36:11Z") {
		t.Fatalf("end slot time %d", got)
	}
	// Interval 50's snapshot block was 14678879 (its endTime 05:36:11 on 07-02).
	cs := ConsensusStartSlot(14678879, 32)
	if cs != 14678880 || SlotTime(mainnetGenesis, 12, cs) != unix(t, "2026-07-02T05:36:23Z") {
		t.Fatalf("consensus start slot %d", cs)
	}
	// Target epoch 465014 needs epoch 465015 finalized.
	if FinalizedEnough(465014, target, 32) || !FinalizedEnough(465015, target, 32) {
		t.Fatal("finality rule")
	}
	// 14678880/32 = 458715, 14880479/32 = 465014.
	s, e, last, err := EpochRange(14678880, 14880479, 32)
	if err != nil || s != 458715 || e != 465014 || last != 465015 {
		t.Fatalf("epoch range %d %d %d %v", s, e, last, err)
	}
	if e-s+1 != 6300 {
		t.Fatalf("%d duty epochs, want 6300 (28 days)", e-s+1)
	}
}

func TestTimingEdges(t *testing.T) {
	if _, err := IntervalsPassed(1, 0, 0); err == nil {
		t.Error("zero interval time accepted")
	}
	if n, _ := IntervalsPassed(99, 100, 10); n != 0 {
		t.Errorf("before start: %d", n)
	}
	if n, _ := IntervalsPassed(100+25, 100, 10); n != 2 {
		t.Errorf("two and a half intervals: %d", n)
	}
	// Exactly on a slot boundary: (1000 + 24 - 1000) / 12 = 2, no rounding up.
	if s, _ := TargetSlot(1024, 1000, 12); s != 2 {
		t.Errorf("target slot on boundary: %d", s)
	}
	if _, err := TargetSlot(999, 1000, 12); err == nil {
		t.Error("end before genesis accepted")
	}
	if _, err := TargetSlot(2000, 1000, 0); err == nil {
		t.Error("zero seconds per slot accepted")
	}
	if _, _, _, err := EpochRange(100, 99, 32); err == nil {
		t.Error("end before start accepted")
	}
	if s := SnapshotSlot(64, 32); s != 95 {
		t.Errorf("snapshot of the first slot of epoch 2: %d", s)
	}
}
