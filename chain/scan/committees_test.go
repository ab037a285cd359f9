package scan

import (
	"context"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// TestEpochMembers: LocalCommittees.EpochMembers gives, for epochs asked in
// order, out of order, concurrently and with a selection that changes between
// calls, exactly the places shuffle.ComputeMembers gives from the epoch's
// active list, with validators activating and exiting inside the range, and
// for epochs below and beyond 32 bits (the registry pass uses 32-bit epochs
// when it can).
func TestEpochMembers(t *testing.T) {
	sp := shuffle.MainnetSpec()
	const n = 5000
	vals := make([]*phase0.Validator, n)
	for i := range vals {
		v := &phase0.Validator{ActivationEpoch: 0, ExitEpoch: shuffle.FarFutureEpoch}
		switch i % 11 {
		case 3:
			v.ActivationEpoch = phase0.Epoch(100 + i%7) // activates inside the range
		case 5:
			v.ExitEpoch = phase0.Epoch(102 + i%5) // exits inside the range
		case 7:
			v.ActivationEpoch = phase0.Epoch(math.MaxUint32 + 5) // beyond 32 bits: never active here
		}
		vals[i] = v
	}
	mixes := make([]phase0.Root, sp.EpochsPerHistoricalVector)
	for i := range mixes {
		mixes[i] = phase0.Root{byte(i), byte(i >> 8), 7}
	}
	lc, err := NewLocalCommittees(sp, phase0.Slot(110*32), vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	reg := make([]shuffle.ValidatorEpochs, n)
	for i, v := range vals {
		reg[i] = shuffle.ValidatorEpochs{ActivationEpoch: v.ActivationEpoch, ExitEpoch: v.ExitEpoch}
	}
	wantOf := func(mod phase0.ValidatorIndex) func(phase0.ValidatorIndex) bool {
		return func(v phase0.ValidatorIndex) bool { return v%mod == 1 }
	}
	expect := func(e phase0.Epoch, want func(phase0.ValidatorIndex) bool) *shuffle.EpochMembers {
		seed, err := sp.SeedFromMixes(e, mixes)
		if err != nil {
			t.Fatal(err)
		}
		em, err := sp.ComputeMembers(e, shuffle.ActiveIndices(reg, e), seed, want)
		if err != nil {
			t.Fatal(err)
		}
		return em
	}
	check := func(e phase0.Epoch, mod phase0.ValidatorIndex) {
		t.Helper()
		got, err := lc.EpochMembers(context.Background(), e, wantOf(mod))
		if err != nil {
			t.Fatalf("epoch %d: %v", e, err)
		}
		if want := expect(e, wantOf(mod)); !reflect.DeepEqual(got, want) {
			t.Fatalf("epoch %d (every %d-th): %d members of %d active, want %d of %d", e, mod, len(got.Members), got.Active, len(want.Members), want.Active)
		}
	}
	for e := phase0.Epoch(98); e <= 111; e++ { // in order
		check(e, 3)
	}
	for _, e := range []phase0.Epoch{104, 100, 107, 101, 99} { // out of order
		check(e, 3)
	}
	for e := phase0.Epoch(100); e <= 106; e++ { // the selection changes every epoch
		check(e, phase0.ValidatorIndex(3+e%2))
	}
	var wg sync.WaitGroup
	for e := phase0.Epoch(98); e <= 111; e++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check(e, 5)
		}()
	}
	wg.Wait()
	// Epochs past 32 bits take the 64-bit pass (validators activating there).
	far := phase0.Epoch(math.MaxUint32 + 9)
	lcFar, err := NewLocalCommittees(sp, phase0.Slot(far+1)*32, vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lcFar.EpochMembers(context.Background(), far, wantOf(7))
	if err != nil {
		t.Fatal(err)
	}
	if want := expect(far, wantOf(7)); !reflect.DeepEqual(got, want) || got.Active <= 4000 {
		t.Fatalf("epoch %d: %d members of %d active, want %d of %d", far, len(got.Members), got.Active, len(want.Members), want.Active)
	}
	// Beyond the state's reach.
	if _, err := lc.EpochMembers(context.Background(), 112, wantOf(3)); err == nil {
		t.Fatal("epoch 112 from a state of epoch 110 accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lc.EpochMembers(ctx, 105, wantOf(3)); err == nil {
		t.Fatal("cancelled context accepted")
	}
}
