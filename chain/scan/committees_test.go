package scan

import (
	"context"
	"fmt"
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
	check := func(e phase0.Epoch, mod phase0.ValidatorIndex) error {
		got, err := lc.EpochMembers(context.Background(), e, wantOf(mod))
		if err != nil {
			return fmt.Errorf("epoch %d: %w", e, err)
		}
		if want := expect(e, wantOf(mod)); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("epoch %d (every %d-th): %d members of %d active, want %d of %d", e, mod, len(got.Members), got.Active, len(want.Members), want.Active)
		}
		return nil
	}
	for e := phase0.Epoch(98); e <= 111; e++ { // in order
		if err := check(e, 3); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []phase0.Epoch{104, 100, 107, 101, 99} { // out of order
		if err := check(e, 3); err != nil {
			t.Fatal(err)
		}
	}
	for e := phase0.Epoch(100); e <= 106; e++ { // the selection changes every epoch
		if err := check(e, phase0.ValidatorIndex(3+e%2)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for e := phase0.Epoch(98); e <= 111; e++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := check(e, 5); err != nil {
				t.Error(err)
			}
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

// TestEpochMembersOf: the list-based placement equals EpochMembers for the
// same selection — with churn inside the activity window, validators that are
// never active, listed validators beyond the registry, epochs far apart (the
// window is rebuilt) and concurrent callers — and refuses unsorted lists.
func TestEpochMembersOf(t *testing.T) {
	sp := shuffle.MainnetSpec()
	const n = 7000
	vals := make([]*phase0.Validator, n)
	for i := range vals {
		v := &phase0.Validator{ActivationEpoch: 0, ExitEpoch: shuffle.FarFutureEpoch}
		switch i % 13 {
		case 2:
			v.ActivationEpoch = phase0.Epoch(20_000 + 37*i%9000) // activates over a long span
		case 4:
			v.ExitEpoch = phase0.Epoch(15_000 + 53*i%12000) // exits over a long span
		case 6:
			v.ActivationEpoch, v.ExitEpoch = 30_000, 30_000 // never active
		case 8:
			v.ActivationEpoch, v.ExitEpoch = phase0.Epoch(25_000+i%3), phase0.Epoch(25_002+i%5) // active briefly
		}
		vals[i] = v
	}
	mixes := make([]phase0.Root, sp.EpochsPerHistoricalVector)
	for i := range mixes {
		mixes[i] = phase0.Root{byte(i), byte(i >> 8), 9}
	}
	lc, err := NewLocalCommittees(sp, phase0.Slot(40_000*32), vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	var list []phase0.ValidatorIndex
	for v := phase0.ValidatorIndex(1); v < n+40; v += 3 { // some beyond the registry
		list = append(list, v)
	}
	set := newBitset(list)
	check := func(e phase0.Epoch) error {
		got, err := lc.EpochMembersOf(context.Background(), e, list)
		if err != nil {
			return fmt.Errorf("epoch %d: %w", e, err)
		}
		want, err := lc.EpochMembers(context.Background(), e, set.has)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("epoch %d: %d members of %d active, want %d of %d", e, len(got.Members), got.Active, len(want.Members), want.Active)
		}
		return nil
	}
	for _, e := range []phase0.Epoch{25_000, 25_001, 25_003, 25_006, 20_000, 29_500, 14_000, 38_000, 40_001, 25_002} {
		if err := check(e); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for e := phase0.Epoch(24_990); e < 25_010; e++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := check(e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := lc.EpochMembersOf(context.Background(), 25_000, []phase0.ValidatorIndex{5, 4}); err == nil {
		t.Fatal("unsorted list accepted")
	}
	if _, err := lc.EpochMembersOf(context.Background(), 40_002, list); err == nil {
		t.Fatal("epoch beyond the state accepted")
	}
}
