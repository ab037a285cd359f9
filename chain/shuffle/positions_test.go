package shuffle

import (
	"cmp"
	"slices"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// TestInversePositions: the whole-list shuffle (itself checked against the
// spec vectors and compute_shuffled_index) must hold list[j] at the position
// InversePositions gives for j, for every j, sizes around the hash chunks.
func TestInversePositions(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 255, 256, 257, 513, 1000, 4097} {
		seed := [32]byte{9, byte(n), byte(n >> 8)}
		list := make([]uint64, n)
		js := make([]uint64, n)
		for i := range list {
			list[i] = uint64(i)
			js[i] = uint64(n - 1 - uint64(i)) // any order
		}
		shuffled, err := ShuffleList(list, seed, 90)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := InversePositions(js, n, seed, 90)
		if err != nil {
			t.Fatal(err)
		}
		for k, j := range js {
			if shuffled[pos[k]] != j {
				t.Fatalf("n=%d: validator at %d placed at %d, shuffled list has %d there", n, j, pos[k], shuffled[pos[k]])
			}
		}
		// Fewer positions than hash chunks: the lazy path.
		few := []uint64{n - 1, n / 2, 0}
		pos, err = InversePositions(few, n, seed, 90)
		if err != nil {
			t.Fatal(err)
		}
		for k, j := range few {
			if shuffled[pos[k]] != j {
				t.Fatalf("n=%d (few): validator at %d placed at %d, shuffled list has %d there", n, j, pos[k], shuffled[pos[k]])
			}
		}
	}
	if _, err := InversePositions([]uint64{5}, 5, [32]byte{}, 90); err == nil {
		t.Fatal("position out of range accepted")
	}
}

func TestComputeMembersMatchesCompute(t *testing.T) {
	sp := MainnetSpec()
	var active []phase0.ValidatorIndex
	for i := range phase0.ValidatorIndex(20000) {
		if i%7 != 3 { // gaps: inactive validators
			active = append(active, i)
		}
	}
	seed := [32]byte{1, 2, 3, 4}
	want := func(v phase0.ValidatorIndex) bool { return v%13 == 1 }
	ec, err := sp.Compute(5, active, seed)
	if err != nil {
		t.Fatal(err)
	}
	em, err := sp.ComputeMembers(5, active, seed, want)
	if err != nil {
		t.Fatal(err)
	}
	if em.CommitteesPerSlot != ec.CommitteesPerSlot || em.Active != uint64(len(ec.Shuffled)) || em.Epoch != 5 || em.SlotsPerEpoch != 32 {
		t.Fatalf("layout differs: %+v vs %d per slot, %d active", em, ec.CommitteesPerSlot, len(ec.Shuffled))
	}
	var expect []Member
	for i, v := range ec.Shuffled {
		if want(v) {
			expect = append(expect, Member{Validator: v, Position: uint64(i)})
		}
	}
	slices.SortFunc(expect, func(a, b Member) int { return cmp.Compare(a.Validator, b.Validator) })
	if len(expect) != len(em.Members) {
		t.Fatalf("%d members, want %d", len(em.Members), len(expect))
	}
	for i := range expect {
		if expect[i] != em.Members[i] {
			t.Fatalf("member %d: %+v, want %+v", i, em.Members[i], expect[i])
		}
	}
}

// BenchmarkComputeMembersMainnet: 45,000 of 1.1M validators (compare
// BenchmarkShuffleListMainnet, the whole list).
func BenchmarkComputeMembersMainnet(b *testing.B) {
	sp := MainnetSpec()
	active := make([]phase0.ValidatorIndex, 1_100_000)
	for i := range active {
		active[i] = phase0.ValidatorIndex(i)
	}
	want := func(v phase0.ValidatorIndex) bool { return v%24 == 0 }
	for b.Loop() {
		if _, err := sp.ComputeMembers(7, active, [32]byte{1, 2, 3}, want); err != nil {
			b.Fatal(err)
		}
	}
}
