package scan

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/store"
)

func without(list []phase0.ValidatorIndex, drop ...phase0.ValidatorIndex) []phase0.ValidatorIndex {
	return slices.DeleteFunc(slices.Clone(list), func(v phase0.ValidatorIndex) bool { return slices.Contains(drop, v) })
}

// TestScanAheadThenFinal: the daemon's path. Epochs are scanned while the
// interval runs, for the protocol validators known at each moment (one
// joins already active: a solo migration; one activates mid-interval; one
// non-protocol validator is scanned early and dropped later). The final
// scan rescans exactly the units where a validator they lack had a duty,
// and its record and per-epoch digests equal a one-shot scan's.
func TestScanAheadThenFinal(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 60)
	want := digest(t, f.oracle(t, false))
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	oneShot, err := scan(t, f, localCommittees(t, r, f.iv.EndSlot), r, f.iv)
	if err != nil {
		t.Fatal(err)
	}
	if oneShot.RecordDigest != want {
		t.Fatalf("one-shot digest %s, oracle %s", oneShot.RecordDigest, want)
	}

	const late = phase0.ValidatorIndex(6) // activates at epoch 4 (fixture)
	migrated := f.protocol[10]            // active from genesis, joins the protocol later
	const stranger = phase0.ValidatorIndex(9000)
	if slices.Contains(f.protocol, stranger) {
		t.Fatal("fixture changed: 9000 is a protocol validator")
	}
	path := filepath.Join(t.TempDir(), "scan.db")
	ctx := context.Background()
	ahead := func(stateSlot, last uint64, set []phase0.ValidatorIndex) *AheadResult {
		t.Helper()
		st, err := store.New(ctx, store.WithPath(path), store.WithNoSync(true))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := New(ctx, WithCommittees(localCommittees(t, r, stateSlot)), WithBlocks(r), WithStore(st))
		if err != nil {
			t.Fatal(err)
		}
		iv := f.iv
		iv.EndSlot = 0 // not known while the interval runs
		res, err := s.ScanEpochs(ctx, iv, last, set)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Finalized through epoch 3 (state of epoch 4): units 2..3.
	a := ahead(4*32, 3, append(without(f.protocol, late, migrated), stranger))
	if a.Scanned != 2 || a.Rescanned != 0 || a.Kept != 0 {
		t.Fatalf("stage A: %+v", a)
	}
	// Through epoch 5, the migrated validator known now: units 2..3 are
	// rescanned (it had duties there), 4..5 are new.
	b := ahead(6*32, 5, without(f.protocol, late))
	if b.Scanned != 4 || b.Rescanned != 2 || b.Kept != 0 {
		t.Fatalf("stage B: %+v", b)
	}
	// Same again: nothing to do.
	if c := ahead(6*32, 5, without(f.protocol, late)); c.Scanned != 0 || c.Kept != 4 {
		t.Fatalf("stage C: %+v", c)
	}

	// Final: the late validator is active from epoch 4, so units 4..5 (duty
	// epochs 3..5) are rescanned and 2..3 kept; 6..8 are new. A crash during
	// the first replacement loses nothing.
	crash := errors.New("simulated crash")
	st, err := store.New(ctx, store.WithPath(path), store.WithNoSync(true), store.WithCommitHook(func(string, uint64) error { return crash }))
	if err != nil {
		t.Fatal(err)
	}
	lc := localCommittees(t, r, f.iv.EndSlot)
	s, err := New(ctx, WithCommittees(lc), WithBlocks(r), WithStore(st), WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scan(ctx, f.iv, f.protocol); !errors.Is(err, crash) {
		t.Fatalf("crash not reported: %v", err)
	}
	_ = st.Close()
	st, err = store.New(ctx, store.WithPath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := scan(t, f, lc, r, f.iv, WithStore(st))
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned != 5 || res.Resumed != 2 {
		t.Fatalf("final: scanned %d resumed %d, want 5 and 2", res.Scanned, res.Resumed)
	}
	if res.RecordDigest != want {
		t.Fatalf("final digest %s, oracle %s", res.RecordDigest, want)
	}
	if !slices.Equal(res.EpochDigests, oneShot.EpochDigests) {
		e, _ := FirstDivergence(res.EpochDigests, oneShot.EpochDigests)
		t.Fatalf("epoch digests differ from the one-shot scan from epoch %d", e)
	}
	// A source without activity data (the committees API) cannot tell that
	// the late validator had no duty in units 2..3: it rescans them.
	res, err = scan(t, f, apiCommittees(t, r, f.iv.EndSlot), r, f.iv, WithStore(st))
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned != 2 || res.Resumed != 5 || res.RecordDigest != want {
		t.Fatalf("api source: scanned %d resumed %d (want 2 and 5) digest %s", res.Scanned, res.Resumed, res.RecordDigest)
	}
}

// TestScanAheadPastEnd: units stored beyond the interval's last block epoch
// are not part of its record.
func TestScanAheadPastEnd(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 30)
	want := digest(t, f.oracle(t, false))
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	lc := localCommittees(t, r, 10*32)
	s, err := New(context.Background(), WithCommittees(lc), WithBlocks(r))
	if err != nil {
		t.Fatal(err)
	}
	iv := f.iv
	iv.EndSlot = 0
	if _, err := s.ScanEpochs(context.Background(), iv, 10, f.protocol); err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(context.Background(), f.iv, f.protocol)
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned != 0 || res.Resumed != 7 || res.RecordDigest != want {
		t.Fatalf("scanned %d resumed %d digest %s (oracle %s)", res.Scanned, res.Resumed, res.RecordDigest, want)
	}
}
