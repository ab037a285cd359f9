//go:build integration

package scan

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/store"
)

// TestIntegrationLarger: 131,072 validators (32 committees per slot), 24
// duty epochs, 2,000 protocol validators, three nodes (two faulty), bbolt
// store, killed twice and resumed; the record equals the chain's ground truth.
func TestIntegrationLarger(t *testing.T) {
	sc := &simbeacon.Scenario{
		Seed: 77, GenesisTime: 1_700_000_000, SlotsPerEpoch: 32, ValidatorCount: 131072, HeadSlot: 32*30 + 7,
		Participation: f64(0.96), MissedSlotRate: 0.08, LateInclusionRate: 0.15,
	}
	for i := range 2000 {
		sc.ProtocolValidators = append(sc.ProtocolValidators, simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 5000+i)})
	}
	c, err := simbeacon.New(context.Background(), simbeacon.WithScenario(sc), simbeacon.WithCommitteeCache(64))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{chain: c, iv: Interval{Index: 7, StartSlot: 3*32 + 9, EndSlot: 26*32 + 30}}
	for k := range uint64(2000) {
		f.protocol = append(f.protocol, phase0.ValidatorIndex((k+1)*131072/2001))
	}
	want := digest(t, f.oracle(t, false))
	faults := simbeacon.Faults{ErrorRate: 0.05, TruncateRate: 0.05, SkipNodeEndpoints: true}
	r := newReader(t, []string{serve(t, c, faults), serve(t, c, faults), serve(t, c, simbeacon.Faults{})})
	cp, err := CommitteesFromBeacon(context.Background(), r, phase0.Slot(f.iv.EndSlot), CommitteesLocal)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scan.db")
	for _, kill := range []int64{4*32 + 3, 11*32 + 17} {
		st, err := store.New(context.Background(), store.WithPath(path))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := New(ctx, WithCommittees(cp), WithBlocks(&cancelAfter{BlockProvider: r, n: kill, cancel: cancel}), WithStore(st), WithConcurrency(4))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Scan(ctx, f.iv, f.protocol); err == nil {
			t.Fatal("killed scan finished")
		}
		cancel()
		_ = st.Close()
	}
	st, err := store.New(context.Background(), store.WithPath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now()
	res, err := scan(t, f, cp, r, f.iv, WithStore(st), WithConcurrency(16))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed %d epochs, scanned %d in %v", res.Resumed, res.Scanned, time.Since(t0))
	if res.RecordDigest != want {
		t.Fatalf("digest %s, oracle %s", res.RecordDigest, want)
	}
	if res.Resumed == 0 {
		t.Fatal("nothing resumed")
	}
}
