package scan

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func randomUnit(rng *rand.Rand, epoch uint64) *unitResult {
	u := &unitResult{epoch: epoch}
	switch rng.IntN(3) {
	case 1:
		u.chained = true
		u.firstParent[3], u.lastRoot[30] = byte(epoch), byte(epoch+1)
	case 2:
		u.unchained = true
	}
	u.set[7] = byte(rng.IntN(256))
	v := uint64(0)
	for range rng.IntN(200) {
		v += 1 + uint64(rng.IntN(5000))
		slot := epoch*32 + uint64(rng.IntN(32))
		u.duties = append(u.duties, unitDuty{validator: v, slot: slot})
		if rng.IntN(3) > 0 && slot%32 != 31 {
			u.inclusions = append(u.inclusions, unitInclusion{validator: v, dutySlot: slot, inclSlot: slot + 1 + uint64(rng.IntN(int(31-slot%32)))})
		}
	}
	if epoch > 0 {
		v = 0
		for range rng.IntN(50) {
			v += 1 + uint64(rng.IntN(5000))
			slot := (epoch-1)*32 + uint64(rng.IntN(32))
			u.inclusions = append(u.inclusions, unitInclusion{validator: v, dutySlot: slot, inclSlot: epoch*32 + uint64(rng.IntN(32))})
		}
	}
	for range rng.IntN(20) {
		u.withdrawals = append(u.withdrawals, unitWithdrawal{slot: epoch*32 + uint64(rng.IntN(32)), validator: rng.Uint64N(1 << 22), amount: rng.Uint64()})
	}
	return u
}

// TestUnitRoundTrip: decode(encode(u)) == u for random units, and the
// compact form stays small (mainnet: ~45k duties per epoch).
func TestUnitRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		u := randomUnit(rng, uint64(i))
		enc, err := u.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeUnit(enc)
		if err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
		norm := func(x *unitResult) {
			if len(x.duties) == 0 {
				x.duties = nil
			}
			if len(x.inclusions) == 0 {
				x.inclusions = nil
			}
			if len(x.withdrawals) == 0 {
				x.withdrawals = nil
			}
		}
		norm(got)
		norm(u)
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("unit %d differs after round trip", i)
		}
		if len(u.duties) > 50 && len(enc) > 6*len(u.duties)+28*len(u.withdrawals)+5*50+20 {
			t.Fatalf("unit %d: %d bytes for %d duties", i, len(enc), len(u.duties))
		}
	}
	// A duty-less inclusion is refused at encode time.
	bad := &unitResult{epoch: 3, inclusions: []unitInclusion{{validator: 5, dutySlot: 96, inclSlot: 97}}}
	if _, err := bad.encode(); err == nil {
		t.Fatal("inclusion without a duty encoded")
	}
}

func FuzzDecodeUnit(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		enc, _ := randomUnit(rng, uint64(i+1)).encode()
		f.Add(enc)
	}
	f.Add(append([]byte{unitVersion}, append(make([]byte, 32), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUnit(b)
		if err != nil {
			return
		}
		enc, err := u.encode()
		if err != nil {
			return // decodable but not canonical (e.g. an inclusion twice)
		}
		u2, err := decodeUnit(enc)
		if err != nil {
			t.Fatalf("re-encoded unit does not decode: %v", err)
		}
		enc2, _ := u2.encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not stable")
		}
	})
}

// TestRestrict: a unit restricted to a subset keeps exactly the subset's
// duties, inclusions and withdrawals; as the last unit it keeps only the
// previous epoch's inclusions. Its body then encodes like a unit built for
// the subset alone.
func TestRestrict(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 100 {
		epoch := uint64(10 + i)
		u := randomUnit(rng, epoch)
		var keepList []phase0.ValidatorIndex
		for _, d := range u.duties {
			if rng.IntN(2) == 0 {
				keepList = append(keepList, phase0.ValidatorIndex(d.validator))
			}
		}
		for _, in := range u.inclusions {
			if rng.IntN(2) == 0 {
				keepList = append(keepList, phase0.ValidatorIndex(in.validator))
			}
		}
		for _, w := range u.withdrawals {
			if rng.IntN(2) == 0 {
				keepList = append(keepList, phase0.ValidatorIndex(w.validator))
			}
		}
		keep := newValidatorSet(canonicalSet(keepList))
		last := i%3 == 0
		want := &unitResult{epoch: u.epoch, chained: u.chained, unchained: u.unchained, firstParent: u.firstParent, lastRoot: u.lastRoot}
		for _, d := range u.duties {
			if keep.bits.has(phase0.ValidatorIndex(d.validator)) && !last {
				want.duties = append(want.duties, d)
			}
		}
		for _, in := range u.inclusions {
			if keep.bits.has(phase0.ValidatorIndex(in.validator)) && (!last || in.dutySlot/32 < epoch) {
				want.inclusions = append(want.inclusions, in)
			}
		}
		for _, w := range u.withdrawals {
			if keep.bits.has(phase0.ValidatorIndex(w.validator)) && !last {
				want.withdrawals = append(want.withdrawals, w)
			}
		}
		u.restrict(keep.bits, last)
		got, err := u.encodeBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		exp, err := want.encodeBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, exp) {
			t.Fatalf("unit %d (last %v): restricted body differs from the subset's own", i, last)
		}
		if last && (len(u.duties) != 0 || slices.ContainsFunc(u.inclusions, func(in unitInclusion) bool { return in.dutySlot/32 == epoch })) {
			t.Fatalf("unit %d: last unit kept its own epoch's duties", i)
		}
	}
}
