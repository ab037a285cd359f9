package beacon

import (
	"context"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func TestDenebModeThroughClient(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkDeneb))
	srv := newTestServer(t, c)
	cl := newClient(t, srv.URL(), false)
	st, err := cl.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: "head"})
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	if st.Data.Version != spec.DataVersionDeneb || len(st.Data.Deneb.Validators) != 4096 {
		t.Fatalf("deneb state: version %v", st.Data.Version)
	}
	b, err := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: "head"})
	if err != nil {
		t.Fatalf("block: %v", err)
	}
	if b.Data.Version != spec.DataVersionDeneb || len(b.Data.Deneb.Message.Body.Attestations) == 0 {
		t.Fatalf("deneb block: version %v", b.Data.Version)
	}
	// State JSON through the client as well.
	jcl := newClient(t, srv.URL(), true)
	sj, err := jcl.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: "40"})
	if err != nil {
		t.Fatalf("json state: %v", err)
	}
	if sj.Data.Deneb.Slot != 40 {
		t.Fatalf("json state slot %d", sj.Data.Deneb.Slot)
	}
}

// TestForkTransition: Deneb blocks and states before ELECTRA_FORK_EPOCH, Electra after, through the client.
func TestForkTransition(t *testing.T) {
	ctx := context.Background()
	sc := testScenario(42, ForkElectra)
	sc.ElectraForkEpoch = 3
	c := newTestChain(t, sc)
	srv := newTestServer(t, c)
	cl := newClient(t, srv.URL(), false)
	sp, err := cl.(eth2client.SpecProvider).Spec(ctx, &api.SpecOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Data["ELECTRA_FORK_EPOCH"] != uint64(3) {
		t.Fatalf("ELECTRA_FORK_EPOCH %v", sp.Data["ELECTRA_FORK_EPOCH"])
	}
	for _, x := range []struct {
		slot string
		want spec.DataVersion
	}{{"23", spec.DataVersionDeneb}, {"24", spec.DataVersionElectra}} {
		st, err := cl.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: x.slot})
		if err != nil {
			t.Fatal(err)
		}
		if st.Data.Version != x.want {
			t.Fatalf("state %s: %v", x.slot, st.Data.Version)
		}
	}
	seen := map[spec.DataVersion]bool{}
	for s := phase0.Slot(16); s < 32; s++ {
		if !c.HasBlock(s) {
			continue
		}
		b, err := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: slotID(s)})
		if err != nil {
			t.Fatal(err)
		}
		want := spec.DataVersionDeneb
		if s >= 24 {
			want = spec.DataVersionElectra
		}
		if b.Data.Version != want {
			t.Fatalf("block %d: %v", s, b.Data.Version)
		}
		seen[b.Data.Version] = true
	}
	if len(seen) != 2 {
		t.Fatal("no blocks on both sides of the fork")
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkElectra))
	t.Run("errors", func(t *testing.T) {
		srv := newTestServer(t, c, WithFaults(Faults{ErrorRate: 1, SkipNodeEndpoints: true}))
		cl := newClient(t, srv.URL(), false)
		if _, err := cl.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{}); err == nil {
			t.Fatal("genesis succeeded with a 100% error rate")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		srv := newTestServer(t, c, WithFaults(Faults{TruncateRate: 1, SkipNodeEndpoints: true}))
		cl := newClient(t, srv.URL(), false)
		if _, err := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: "head"}); err == nil {
			t.Fatal("truncated block decoded")
		}
	})
	t.Run("wrong data", func(t *testing.T) {
		srv := newTestServer(t, c, WithFaults(Faults{WrongDataRate: 1, SkipNodeEndpoints: true}))
		cl := newClient(t, srv.URL(), true)
		good, err := c.Committees(3)
		if err != nil {
			t.Fatal(err)
		}
		e := good.Epoch
		got, err := cl.(eth2client.BeaconCommitteesProvider).BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: "head", Epoch: &e})
		if err != nil {
			return // a corrupted byte may break decoding; also acceptable
		}
		same := true
		for _, bc := range got.Data {
			m, _ := good.Committee(bc.Slot, bc.Index)
			for i := range m {
				if i >= len(bc.Validators) || m[i] != bc.Validators[i] {
					same = false
				}
			}
		}
		if same {
			t.Fatal("wrong-data fault left committees intact")
		}
	})
	t.Run("latency", func(t *testing.T) {
		srv := newTestServer(t, c, WithFaults(Faults{Latency: 50 * time.Millisecond, SkipNodeEndpoints: true}))
		cl := newClient(t, srv.URL(), false)
		start := time.Now()
		if _, err := cl.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{}); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 50*time.Millisecond {
			t.Fatal("latency not applied")
		}
	})
	if _, err := NewServer(ctx, WithChain(c), WithListenAddress("0.0.0.0:0")); err == nil {
		t.Fatal("non-loopback listen address accepted")
	}
}

func TestScenarioValidation(t *testing.T) {
	bad := []string{
		"validator_count: 0\n",
		"validator_count: 10\nfork: capella\n",
		"validator_count: 10\nmissed_slot_rate: 1.5\n",
		"validator_count: 10\nunknown_field: 1\n",
		"validator_count: 10\nprotocol_validators:\n- pubkey: '0x12'\n",
		"validator_count: 10\nprotocol_validators:\n- pubkey: '0x" + pad96("1") + "'\n  index: 10\n",
		"validator_count: 10\nprotocol_validators:\n- pubkey: '0x" + pad96("1") + "'\n  exit_epoch: 5\n  activation_epoch: 6\n",
		"validator_count: 10\nprotocol_validators:\n- pubkey: '0x" + pad96("1") + "'\n  proposals: [{slot: 3, kind: weird}]\n",
	}
	for _, y := range bad {
		sc, err := ParseScenario([]byte(y))
		if err == nil {
			_, err = New(context.Background(), WithScenario(sc))
		}
		if err == nil {
			t.Errorf("scenario accepted:\n%s", y)
		}
	}
	sc, err := ParseScenario([]byte("seed: 5\nvalidator_count: 64\nslots_per_epoch: 4\nhead_slot: 20\nprotocol_validators:\n- pubkey: '0x" + pad96("1") + "'\n  participation: 0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), WithScenario(sc)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background()); err == nil {
		t.Fatal("chain without scenario accepted")
	}
}

func pad96(s string) string {
	for len(s) < 96 {
		s = "0" + s
	}
	return s
}
