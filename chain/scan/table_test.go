package scan

import (
	"context"
	"reflect"
	"strings"
	"testing"

	bitfield "github.com/OffchainLabs/go-bitfield"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/shuffle"
	"github.com/odaowatch/watchtower/rewards"
)

// handCommittees: 960 validators, 3 committees of 10 per slot; epoch e's
// list is 0..959 rotated by 7e.
type handCommittees struct{}

const handN = 960

func (handCommittees) EpochCommittees(_ context.Context, e phase0.Epoch) (*shuffle.EpochCommittees, error) {
	l := make([]phase0.ValidatorIndex, handN)
	for i := range l {
		l[i] = phase0.ValidatorIndex((uint64(i) + 7*uint64(e)) % handN)
	}
	return &shuffle.EpochCommittees{Epoch: e, SlotsPerEpoch: 32, CommitteesPerSlot: 3, Shuffled: l}, nil
}

// where: slot, committee index and position of v in epoch e.
func where(e uint64, v uint64) (slot uint64, index uint64, pos uint64) {
	p := (v + handN - 7*e%handN) % handN
	k := p / 10
	return e*32 + k/3, k % 3, p % 10
}

type handBlocks map[phase0.Slot]*beacon.Block

func (h handBlocks) Block(_ context.Context, s phase0.Slot, _ bool) (*beacon.Block, error) {
	return h[s], nil
}

func (h handBlocks) add(blockSlot phase0.Slot, a beacon.Attestation) {
	b := h[blockSlot]
	if b == nil {
		b = &beacon.Block{Slot: blockSlot}
		h[blockSlot] = b
	}
	b.Attestations = append(b.Attestations, a)
}

// electraAtt covers the given committees of slot with the listed
// (committee, position) bits set.
func electraAtt(slot uint64, committees []uint64, set map[[2]uint64]bool) beacon.Attestation {
	cb := bitfield.NewBitvector64()
	for _, c := range committees {
		cb.SetBitAt(c, true)
	}
	bits := bitfield.NewBitlist(uint64(10 * len(committees)))
	off := uint64(0)
	for c := range uint64(3) {
		if !cb.BitAt(c) {
			continue
		}
		for p := range uint64(10) {
			if set[[2]uint64{c, p}] {
				bits.SetBitAt(off+p, true)
			}
		}
		off += 10
	}
	return beacon.Attestation{Slot: phase0.Slot(slot), CommitteeBits: cb, AggregationBits: bits}
}

func phase0Att(slot, committee uint64, positions ...uint64) beacon.Attestation {
	bits := bitfield.NewBitlist(10)
	for _, p := range positions {
		bits.SetBitAt(p, true)
	}
	return beacon.Attestation{Slot: phase0.Slot(slot), CommitteeIndex: phase0.CommitteeIndex(committee), AggregationBits: bits}
}

// TestHandBuiltBlocks: interval slots 70..127 (duty epochs 2..3, blocks of
// epochs 2..4), four protocol validators with hand-placed inclusions.
func TestHandBuiltBlocks(t *testing.T) {
	const va, vb, vc, vd = 11, 222, 333, 444
	for _, electra := range []bool{true, false} {
		blocks := handBlocks{}
		att := func(slot, committee uint64, positions ...uint64) beacon.Attestation {
			if !electra {
				return phase0Att(slot, committee, positions...)
			}
			set := map[[2]uint64]bool{}
			for _, p := range positions {
				set[[2]uint64{committee, p}] = true
			}
			// Cover a neighbour committee too, with all bits set, so the
			// offsets matter.
			other := (committee + 1) % 3
			for p := range uint64(10) {
				set[[2]uint64{other, p}] = true
			}
			cs := []uint64{committee, other}
			if other < committee {
				cs = []uint64{other, committee}
			}
			return electraAtt(slot, cs, set)
		}
		bld := rewards.NewDutyRecordBuilder(9, 70, 127)
		// va, epoch 2: first included 1 slot later; a second copy 3 slots later is ignored.
		s, c, p := where(2, va)
		blocks.add(phase0.Slot(s+3), att(s, c, p))
		blocks.add(phase0.Slot(s+1), att(s, c, p))
		must(t, bld.AddDuty(va, s, s+1))
		// vb, epoch 2: included 40 slots late (class "late", counts only in v11).
		s, c, p = where(2, vb)
		blocks.add(phase0.Slot(s+40), att(s, c, p))
		must(t, bld.AddDuty(vb, s, s+40))
		// vb, epoch 3: never included (an aggregate of its slot without its bit).
		s, c, p = where(3, vb)
		blocks.add(phase0.Slot(s+1), att(s, c, (p+1)%10))
		must(t, bld.AddDuty(vb, s, 0))
		// vc, epochs 2 and 3: missed, and in epoch 3 included at the last scanned slot.
		s, _, _ = where(2, vc)
		must(t, bld.AddDuty(vc, s, 0))
		s, c, p = where(3, vc)
		blocks.add(phase0.Slot(4*32+31), att(s, c, p))
		must(t, bld.AddDuty(vc, s, 4*32+31))
		// vd, epoch 3: included in the trailing epoch.
		s, c, p = where(3, vd)
		blocks.add(phase0.Slot(s+33), att(s, c, p))
		must(t, bld.AddDuty(vd, s, s+33))
		// The remaining duties: none included.
		for _, v := range []uint64{va, vd} {
			for e := uint64(2); e <= 3; e++ {
				s, _, _ := where(e, v)
				_ = bld.AddDuty(v, s, 0) // already added ones fail: fine
			}
		}
		// Attestations for epoch 1 (before the interval) in epoch 2's blocks are ignored.
		s, c, p = where(1, va)
		blocks.add(phase0.Slot(64+1), att(s, c, p))
		// Empty blocks count as present.
		blocks[90] = &beacon.Block{Slot: 90}

		want := bld.Build()
		sc, err := New(context.Background(), WithCommittees(handCommittees{}), WithBlocks(blocks), WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		res, err := sc.Scan(context.Background(), Interval{Index: 9, StartSlot: 70, EndSlot: 127}, []phase0.ValidatorIndex{vd, va, vb, vc, va})
		if err != nil {
			t.Fatalf("electra=%v: %v", electra, err)
		}
		wd, _ := want.Digest()
		if res.RecordDigest != wd {
			t.Fatalf("electra=%v: got %+v\nwant %+v", electra, res.Record.Validators, want.Validators)
		}
		// vb epoch 2 is late: byte class 2.
		for _, v := range res.Record.Validators {
			if v.Index == vb && v.Duties[0]>>5 != rewards.InclusionLate {
				t.Fatalf("vb epoch 2 duty byte %#x, want late", v.Duties[0])
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMalformedAttestations: each malformed aggregate is an error naming the block.
func TestMalformedAttestations(t *testing.T) {
	s, c, _ := where(2, 11)
	long := bitfield.NewBitlist(11)
	cases := map[string]beacon.Attestation{
		"bits length (phase0)":   {Slot: phase0.Slot(s), CommitteeIndex: phase0.CommitteeIndex(c), AggregationBits: long},
		"committee out of range": phase0Att(s, 3, 1),
		"electra bits length":    electraAtt(s, []uint64{0, 1}, nil),
		"electra no committee":   {Slot: phase0.Slot(s), CommitteeBits: bitfield.NewBitvector64(), AggregationBits: bitfield.NewBitlist(0)},
		"electra committee 5":    electraAtt(s, []uint64{5}, nil),
		"not earlier slot":       phase0Att(s+1, c, 1),
		"two epochs old":         phase0Att(s-64, c, 1),
	}
	for name, a := range cases {
		blocks := handBlocks{}
		if name == "electra bits length" {
			a.AggregationBits = bitfield.NewBitlist(19)
		}
		blocks.add(phase0.Slot(s+1), a)
		sc, err := New(context.Background(), WithCommittees(handCommittees{}), WithBlocks(blocks))
		if err != nil {
			t.Fatal(err)
		}
		_, err = sc.Scan(context.Background(), Interval{StartSlot: 64, EndSlot: 127}, []phase0.ValidatorIndex{11})
		if err == nil || !strings.Contains(err.Error(), "block at slot") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAPICommitteesValidation(t *testing.T) {
	sp := shuffle.MainnetSpec()
	ec, _ := handCommittees{}.EpochCommittees(context.Background(), 2)
	_ = ec
	// 64 validators: 1 committee per slot of 2.
	mk := func() []*apiv1.BeaconCommittee {
		var out []*apiv1.BeaconCommittee
		for s := range uint64(32) {
			out = append(out, &apiv1.BeaconCommittee{Slot: phase0.Slot(64 + s), Index: 0, Validators: []phase0.ValidatorIndex{phase0.ValidatorIndex(2 * s), phase0.ValidatorIndex(2*s + 1)}})
		}
		return out
	}
	got, err := FromAPICommittees(sp, 2, mk())
	if err != nil || len(got.Shuffled) != 64 || got.CommitteesPerSlot != 1 {
		t.Fatalf("valid list: %v", err)
	}
	dup := mk()
	dup[3].Validators[0] = 0
	wrongSlot := mk()
	wrongSlot[5].Slot = 200
	short := mk()[:31]
	uneven := mk()
	uneven[0].Validators = append(uneven[0].Validators, 900)
	for name, l := range map[string][]*apiv1.BeaconCommittee{"duplicate": dup, "slot": wrongSlot, "count": short, "sizes": uneven} {
		if _, err := FromAPICommittees(sp, 2, l); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLocalCommitteesCovers(t *testing.T) {
	sp := shuffle.MainnetSpec()
	mixes := make([]phase0.Root, sp.EpochsPerHistoricalVector)
	vals := []*phase0.Validator{{ExitEpoch: shuffle.FarFutureEpoch}}
	lc, err := NewLocalCommittees(sp, phase0.Slot(100*32), vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	// State epoch 100: epochs up to 101 are known; epoch 100-65534 = ... below 100-65533 overwritten.
	if lc.Covers(101) != nil || lc.Covers(102) == nil {
		t.Error("future bound")
	}
	lc2, _ := NewLocalCommittees(sp, phase0.Slot(70000*32), vals, mixes)
	// 70000 - e < 65536 - 2 = 65534  <=>  e > 4466.
	if lc2.Covers(4467) != nil || lc2.Covers(4466) == nil {
		t.Error("past bound")
	}
	if _, err := NewLocalCommittees(sp, 0, vals, mixes[:10]); err == nil {
		t.Error("short mixes accepted")
	}
	// Cross-check catches a different source.
	cc := &CheckedCommittees{Primary: handCommittees{}, Check: shifted{}, Every: 1}
	if _, err := cc.EpochCommittees(context.Background(), 3); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("cross-check: %v", err)
	}
}

type shifted struct{}

func (shifted) EpochCommittees(ctx context.Context, e phase0.Epoch) (*shuffle.EpochCommittees, error) {
	return handCommittees{}.EpochCommittees(ctx, e+1)
}

// TestDutyTableFromMembers: the table built from the protocol validators'
// places (inverse shuffle) equals the one built from every committee, with
// several committees per slot, inactive gaps, and committees without
// protocol validators.
func TestDutyTableFromMembers(t *testing.T) {
	sp := shuffle.MainnetSpec()
	for _, n := range []int{40, 5000, 300_000} {
		var active []phase0.ValidatorIndex
		for i := range phase0.ValidatorIndex(n) {
			if i%9 != 4 {
				active = append(active, i)
			}
		}
		var proto []phase0.ValidatorIndex
		for i := phase0.ValidatorIndex(3); i < phase0.ValidatorIndex(n); i += phase0.ValidatorIndex(1 + n/500) {
			proto = append(proto, i)
		}
		bs := newBitset(proto)
		seed := [32]byte{byte(n), 1}
		ec, err := sp.Compute(11, active, seed)
		if err != nil {
			t.Fatal(err)
		}
		em, err := sp.ComputeMembers(11, active, seed, bs.has)
		if err != nil {
			t.Fatal(err)
		}
		want := newDutyTable(ec, bs)
		got, err := newDutyTableFromMembers(em)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("n=%d: tables differ: %d vs %d duties, %d per slot", n, len(got.duties), len(want.duties), want.cps)
		}
		if n == 300_000 && want.cps < 2 {
			t.Fatalf("n=%d: want several committees per slot, got %d", n, want.cps)
		}
	}
	bad := &shuffle.EpochMembers{Epoch: 1, SlotsPerEpoch: 32, CommitteesPerSlot: 1, Active: 64,
		Members: []shuffle.Member{{Validator: 1, Position: 9}, {Validator: 2, Position: 9}}}
	if _, err := newDutyTableFromMembers(bad); err == nil {
		t.Fatal("members out of order accepted")
	}
}
