package scan

import (
	"context"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// BenchmarkCommitteesMainnetShape: one epoch's committees from a state of
// 1,000,000 active validators (64 committees per slot) and the duty table
// of 45,000 protocol validators — the per-epoch committee cost of a mainnet
// interval (multiply by 6,300 epochs, divide by cores).
func BenchmarkCommitteesMainnetShape(b *testing.B) {
	const n, nProto = 1_000_000, 45_000
	sp := shuffle.MainnetSpec()
	vals := make([]*phase0.Validator, n)
	for i := range vals {
		vals[i] = &phase0.Validator{ExitEpoch: shuffle.FarFutureEpoch}
	}
	mixes := make([]phase0.Root, sp.EpochsPerHistoricalVector)
	for i := range mixes {
		mixes[i][0], mixes[i][1] = byte(i), byte(i>>8)
	}
	lc, err := NewLocalCommittees(sp, phase0.Slot(300_000*32), vals, mixes)
	if err != nil {
		b.Fatal(err)
	}
	proto := make([]phase0.ValidatorIndex, nProto)
	for i := range proto {
		proto[i] = phase0.ValidatorIndex(i * (n / nProto))
	}
	set := newBitset(proto)
	b.ReportAllocs()
	e := phase0.Epoch(299_000)
	for b.Loop() {
		ec, err := lc.EpochCommittees(context.Background(), e)
		if err != nil {
			b.Fatal(err)
		}
		t := newDutyTable(ec, set)
		if len(t.duties) != nProto {
			b.Fatalf("%d duties", len(t.duties))
		}
		e++
	}
}
