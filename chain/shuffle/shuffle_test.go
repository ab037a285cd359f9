package shuffle

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"gopkg.in/yaml.v3"

	"github.com/odaowatch/watchtower/internal/testutil"
)

type vector struct {
	Seed    string   `yaml:"seed"`
	Count   uint64   `yaml:"count"`
	Mapping []uint64 `yaml:"mapping"`
}

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	dir := filepath.Join(testutil.SharedTestdata(t), "shuffling")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	out := map[string]vector{}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "shuffle_") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "mapping.yaml"))
		if err != nil {
			t.Fatalf("read vector %s: %v", e.Name(), err)
		}
		var v vector
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatalf("parse vector %s: %v", e.Name(), err)
		}
		if uint64(len(v.Mapping)) != v.Count {
			t.Fatalf("vector %s: %d mapping entries for count %d", e.Name(), len(v.Mapping), v.Count)
		}
		out[e.Name()] = v
	}
	// The README lists 34 vectors; all of them must be exercised.
	if len(out) != 34 {
		t.Fatalf("found %d shuffling vectors, want 34", len(out))
	}
	return out
}

func seedOf(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 32 {
		t.Fatalf("bad seed %q: %v", s, err)
	}
	var out [32]byte
	copy(out[:], b)
	return out
}

func TestComputeShuffledIndexVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		seed := seedOf(t, v.Seed)
		for i := range v.Count {
			got, err := ComputeShuffledIndex(i, v.Count, seed, 90)
			if err != nil {
				t.Fatalf("%s: index %d: %v", name, i, err)
			}
			if got != v.Mapping[i] {
				t.Fatalf("%s: index %d: got %d want %d", name, i, got, v.Mapping[i])
			}
		}
	}
}

func TestShuffleListVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		seed := seedOf(t, v.Seed)
		ident := make([]uint64, v.Count)
		for i := range ident {
			ident[i] = uint64(i)
		}
		got, err := ShuffleList(ident, seed, 90)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			if got[i] != v.Mapping[i] {
				t.Fatalf("%s: position %d: got %d want %d", name, i, got[i], v.Mapping[i])
			}
		}
		// The generic (branching) path must agree: shuffle uint32 values too.
		ident32 := make([]uint32, v.Count)
		for i := range ident32 {
			ident32[i] = uint32(i)
		}
		got32, err := ShuffleList(ident32, seed, 90)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got32 {
			if uint64(got32[i]) != v.Mapping[i] {
				t.Fatalf("%s (uint32): position %d: got %d want %d", name, i, got32[i], v.Mapping[i])
			}
		}
		// Input untouched.
		for i := range ident {
			if ident[i] != uint64(i) {
				t.Fatalf("%s: input modified at %d", name, i)
			}
		}
	}
}

func TestComputeShuffledIndexErrors(t *testing.T) {
	var seed [32]byte
	if _, err := ComputeShuffledIndex(0, 0, seed, 90); err == nil {
		t.Fatal("count 0 accepted")
	}
	if _, err := ComputeShuffledIndex(5, 5, seed, 90); err == nil {
		t.Fatal("index == count accepted")
	}
	if _, err := ComputeShuffledIndex(0, MaxShuffleListSize, seed, 90); err == nil {
		t.Fatal("count 2^40 accepted")
	}
}

func TestCommitteesPerSlot(t *testing.T) {
	s := MainnetSpec()
	cases := []struct{ active, want uint64 }{
		{0, 1},          // max(1, 0)
		{4095, 1},       // 4095/32/128 = 0 -> 1
		{8192, 2},       // 8192/32/128 = 2
		{262143, 63},    // 262143/32 = 8191, /128 = 63
		{262144, 64},    // 262144/32/128 = 64
		{1_100_000, 64}, // 1100000/32 = 34375, /128 = 268 -> capped at 64
	}
	for _, c := range cases {
		if got := s.CommitteesPerSlot(c.active); got != c.want {
			t.Errorf("CommitteesPerSlot(%d) = %d, want %d", c.active, got, c.want)
		}
	}
}

func TestSeedMixIndex(t *testing.T) {
	s := MainnetSpec()
	// (e + 65536 - 1 - 1) mod 65536
	if got := s.SeedMixIndex(0); got != 65534 {
		t.Errorf("epoch 0: %d", got)
	}
	if got := s.SeedMixIndex(1); got != 65535 {
		t.Errorf("epoch 1: %d", got)
	}
	if got := s.SeedMixIndex(2); got != 0 {
		t.Errorf("epoch 2: %d", got)
	}
	if got := s.SeedMixIndex(400_000); got != (400_000-2)%65536 {
		t.Errorf("epoch 400000: %d", got)
	}
}

// TestCommitteesMatchSpecDefinition checks every committee against the spec's
// compute_committee written with the per-index function (pinned by the vectors).
func TestCommitteesMatchSpecDefinition(t *testing.T) {
	s := MainnetSpec()
	s.SlotsPerEpoch = 8
	s.TargetCommitteeSize = 16
	registry := make([]ValidatorEpochs, 1000)
	for i := range registry {
		registry[i] = ValidatorEpochs{ActivationEpoch: 0, ExitEpoch: FarFutureEpoch}
		switch {
		case i%7 == 0:
			registry[i].ActivationEpoch = 10 // not yet active at epoch 5
		case i%11 == 0:
			registry[i].ExitEpoch = 5 // exited exactly at epoch 5 -> inactive
		}
	}
	epoch := phase0.Epoch(5)
	active := ActiveIndices(registry, epoch)
	// 1000 - 143 (multiples of 7: 0..994) - (multiples of 11 not of 7: 91 - 13 = 78) = 779
	if len(active) != 779 {
		t.Fatalf("active = %d, want 779", len(active))
	}
	mixes := make([]phase0.Root, s.EpochsPerHistoricalVector)
	mixes[s.SeedMixIndex(epoch)] = phase0.Root{0xaa, 0xbb}
	vals := make([]*phase0.Validator, len(registry))
	for i, r := range registry {
		vals[i] = &phase0.Validator{ActivationEpoch: r.ActivationEpoch, ExitEpoch: r.ExitEpoch}
	}
	ec, err := s.ComputeFromState(epoch, vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	// 779/8/16 = 6
	if ec.CommitteesPerSlot != 6 {
		t.Fatalf("committees per slot %d, want 6", ec.CommitteesPerSlot)
	}
	seed := s.Seed(epoch, mixes[s.SeedMixIndex(epoch)])
	n, c := uint64(len(active)), ec.Count()
	seen := map[phase0.ValidatorIndex]bool{}
	var k uint64
	ec.ForEach(func(slot phase0.Slot, index phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
		start, end := n*k/c, n*(k+1)/c
		if uint64(len(members)) != end-start {
			t.Fatalf("committee %d: size %d want %d", k, len(members), end-start)
		}
		for j, m := range members {
			idx, err := ComputeShuffledIndex(start+uint64(j), n, seed, s.ShuffleRoundCount)
			if err != nil {
				t.Fatal(err)
			}
			if m != active[idx] {
				t.Fatalf("slot %d committee %d pos %d: %d want %d", slot, index, j, m, active[idx])
			}
			seen[m] = true
		}
		byAPI, err := ec.Committee(slot, index)
		if err != nil || len(byAPI) != len(members) || (len(members) > 0 && byAPI[0] != members[0]) {
			t.Fatalf("Committee(%d,%d) disagrees with ForEach: %v", slot, index, err)
		}
		k++
	})
	if k != 48 || len(seen) != 779 {
		t.Fatalf("visited %d committees and %d validators", k, len(seen))
	}
	if _, err := ec.Committee(phase0.Slot(48), 0); err == nil {
		t.Fatal("slot outside epoch accepted")
	}
	if _, err := ec.Committee(phase0.Slot(40), 6); err == nil {
		t.Fatal("committee index out of range accepted")
	}
	if _, err := s.Compute(epoch, []phase0.ValidatorIndex{1, 3, 2}, seed); err == nil {
		t.Fatal("unsorted active indices accepted")
	}
	if _, err := s.ComputeFromState(epoch, vals, mixes[:10]); err == nil {
		t.Fatal("short randao mixes accepted")
	}
}

func BenchmarkShuffleListMainnet(b *testing.B) {
	list := make([]phase0.ValidatorIndex, 1_100_000)
	for i := range list {
		list[i] = phase0.ValidatorIndex(i)
	}
	seed := [32]byte{1, 2, 3}
	b.ResetTimer()
	for b.Loop() {
		if err := ShuffleListInPlace(list, seed, 90); err != nil {
			b.Fatal(err)
		}
	}
}

// TestShuffleListMatchesIndex compares the whole-list shuffle (uint64 fast path
// and the generic path) with compute_shuffled_index for sizes around the
// 256-position hash chunks and random seeds.
func TestShuffleListMatchesIndex(t *testing.T) {
	for _, n := range []uint64{2, 3, 255, 256, 257, 511, 512, 513, 1000, 4097} {
		for s := range byte(3) {
			seed := [32]byte{s, byte(n), byte(n >> 8), 7}
			list := make([]phase0.ValidatorIndex, n)
			list32 := make([]uint32, n)
			for i := range list {
				list[i] = phase0.ValidatorIndex(i)
				list32[i] = uint32(i)
			}
			if err := ShuffleListInPlace(list, seed, 90); err != nil {
				t.Fatal(err)
			}
			if err := ShuffleListInPlace(list32, seed, 90); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				want, err := ComputeShuffledIndex(i, n, seed, 90)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(list[i]) != want || uint64(list32[i]) != want {
					t.Fatalf("n=%d seed=%d position %d: got %d / %d, want %d", n, s, i, list[i], list32[i], want)
				}
			}
		}
	}
}
