package beacon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

func f64(v float64) *float64 { return &v }

func testChain(t testing.TB, fork string) *simbeacon.Chain {
	t.Helper()
	c, err := simbeacon.New(context.Background(), simbeacon.WithScenario(&simbeacon.Scenario{
		Seed: 11, GenesisTime: 1_700_000_000, SlotsPerEpoch: 32, ValidatorCount: 2048, HeadSlot: 32*6 + 5,
		Fork: fork, Participation: f64(0.9), MissedSlotRate: 0.15, LateInclusionRate: 0.1, MEVRate: 0.3,
		ProtocolValidators: []simbeacon.ProtocolValidator{{Pubkey: fmt.Sprintf("0x%096x", 1)}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func server(t testing.TB, c *simbeacon.Chain, f simbeacon.Faults) string {
	t.Helper()
	s, err := simbeacon.NewServer(context.Background(), simbeacon.WithChain(c), simbeacon.WithListenAddress("127.0.0.1:0"), simbeacon.WithFaults(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s.URL()
}

func reader(t testing.TB, params ...Parameter) *Service {
	t.Helper()
	s, err := New(context.Background(), append([]Parameter{WithBackoff(time.Millisecond, 5*time.Millisecond), WithTimeout(10 * time.Second)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestParameters(t *testing.T) {
	for name, params := range map[string][]Parameter{
		"no addresses":  nil,
		"bad address":   {WithAddresses("localhost:5052")},
		"duplicate":     {WithAddresses("http://127.0.0.1:1", "http://127.0.0.1:1")},
		"zero attempts": {WithAddresses("http://127.0.0.1:1"), WithAttempts(0)},
		"bad backoff":   {WithAddresses("http://127.0.0.1:1"), WithBackoff(2*time.Second, time.Second)},
		"zero timeout":  {WithAddresses("http://127.0.0.1:1"), WithTimeout(0)},
	} {
		if _, err := New(context.Background(), params...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := redact("https://user:pw@node.example:5052/path?key=1"); got != "https://node.example:5052" {
		t.Errorf("redact: %s", got)
	}
}

// TestBlocksMatchChain: full and blinded blocks, SSZ and JSON, verified
// against headers, carry exactly the chain's attestations; empty slots are nil.
func TestBlocksMatchChain(t *testing.T) {
	for _, fork := range []string{simbeacon.ForkElectra, simbeacon.ForkDeneb} {
		c := testChain(t, fork)
		url := server(t, c, simbeacon.Faults{})
		for _, json := range []bool{false, true} {
			r := reader(t, WithAddresses(url), WithEnforceJSON(json))
			ctx := context.Background()
			empty, full := 0, 0
			for slot := phase0.Slot(30); slot < 70; slot++ {
				for _, wantFull := range []bool{false, true} {
					b, err := r.Block(ctx, slot, wantFull)
					if err != nil {
						t.Fatalf("%s json=%v slot %d: %v", fork, json, slot, err)
					}
					if !c.HasBlock(slot) {
						if b != nil {
							t.Fatalf("slot %d: block for an empty slot", slot)
						}
						empty++
						continue
					}
					full++
					want, err := c.Block(ctx, slot)
					if err != nil {
						t.Fatal(err)
					}
					if b.Slot != slot || b.Blinded == wantFull {
						t.Fatalf("slot %d: got slot %d blinded %v", slot, b.Slot, b.Blinded)
					}
					var n int
					if fork == simbeacon.ForkDeneb {
						n = len(want.Deneb.Message.Body.Attestations)
						if wantFull && len(b.Withdrawals) != len(want.Deneb.Message.Body.ExecutionPayload.Withdrawals) {
							t.Fatalf("slot %d: withdrawals %d", slot, len(b.Withdrawals))
						}
					} else {
						n = len(want.Electra.Message.Body.Attestations)
						for i, a := range b.Attestations {
							w := want.Electra.Message.Body.Attestations[i]
							if a.Slot != w.Data.Slot || string(a.CommitteeBits) != string(w.CommitteeBits) || string(a.AggregationBits) != string(w.AggregationBits) {
								t.Fatalf("slot %d attestation %d differs", slot, i)
							}
						}
					}
					if len(b.Attestations) != n {
						t.Fatalf("slot %d: %d attestations, want %d", slot, len(b.Attestations), n)
					}
					if !wantFull && b.Withdrawals != nil {
						t.Fatalf("slot %d: blinded block with withdrawals", slot)
					}
				}
			}
			if empty == 0 || full == 0 {
				t.Fatalf("scenario lacks empty (%d) or full (%d) slots", empty, full)
			}
		}
	}
}

// TestFailover: one dead node, one failing half its requests with 5xx and
// truncated bodies, one slow: every block still arrives, and the metrics
// show retries on the failing endpoints.
func TestFailover(t *testing.T) {
	c := testChain(t, simbeacon.ForkElectra)
	bad := server(t, c, simbeacon.Faults{ErrorRate: 0.3, TruncateRate: 0.3, SkipNodeEndpoints: true})
	slow := server(t, c, simbeacon.Faults{Latency: 2 * time.Millisecond})
	dead := "http://127.0.0.1:1"
	// Answers after 2 s while the reader gives up after 300 ms: timeouts.
	stuck := server(t, c, simbeacon.Faults{Latency: 2 * time.Second, SkipNodeEndpoints: true})
	reg := prometheus.NewRegistry()
	r := reader(t, WithAddresses(dead, bad, stuck, slow), WithRegisterer(reg), WithAttempts(8), WithTimeout(300*time.Millisecond))
	ctx := context.Background()
	for slot := phase0.Slot(1); slot < 64; slot++ {
		b, err := r.Block(ctx, slot, slot%2 == 0)
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		if (b != nil) != c.HasBlock(slot) {
			t.Fatalf("slot %d: presence %v", slot, b != nil)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	retries, requests, timeouts := 0.0, 0.0, 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ep := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" {
					ep = l.GetValue()
				}
			}
			switch mf.GetName() {
			case "watchtower_beacon_retries_total":
				if ep == redact(stuck) && mf.GetName() == "watchtower_beacon_retries_total" {
					timeouts += m.GetCounter().GetValue()
				}
				if ep == redact(bad) || ep == redact(dead) {
					retries += m.GetCounter().GetValue()
				}
			case "watchtower_beacon_requests_total":
				requests += m.GetCounter().GetValue()
			}
		}
	}
	if retries == 0 || requests < 63 || timeouts == 0 {
		t.Errorf("metrics: %v retries on failing endpoints, %v after timeouts, %v requests", retries, timeouts, requests)
	}
}

// TestWrongDataRejected: a node that corrupts bytes is never silently used:
// every block either matches the chain or the call fails with ErrMismatch.
func TestWrongDataRejected(t *testing.T) {
	c := testChain(t, simbeacon.ForkElectra)
	url := server(t, c, simbeacon.Faults{WrongDataRate: 1, SkipNodeEndpoints: true})
	r := reader(t, WithAddresses(url), WithAttempts(2))
	ctx := context.Background()
	mismatches := 0
	for slot := phase0.Slot(33); slot < 45; slot++ {
		if !c.HasBlock(slot) {
			continue
		}
		b, err := r.Block(ctx, slot, false)
		if err == nil {
			// Only a flip in a field nobody uses (a signature) can pass:
			// then what was returned must equal the chain's block.
			want, _ := c.Block(ctx, slot)
			atts := want.Electra.Message.Body.Attestations
			if b.ProposerIndex != want.Electra.Message.ProposerIndex || len(b.Attestations) != len(atts) {
				t.Fatalf("slot %d: corrupted block accepted", slot)
			}
			for i, a := range b.Attestations {
				if a.Slot != atts[i].Data.Slot || string(a.AggregationBits) != string(atts[i].AggregationBits) || string(a.CommitteeBits) != string(atts[i].CommitteeBits) {
					t.Fatalf("slot %d: corrupted attestation accepted", slot)
				}
			}
			continue
		}
		if errors.Is(err, ErrMismatch) {
			mismatches++
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("slot %d", slot)) {
			t.Fatalf("error does not name the slot: %v", err)
		}
	}
	if mismatches == 0 {
		t.Fatal("no mismatch detected")
	}
}

func TestStateCommitteesValidators(t *testing.T) {
	c := testChain(t, simbeacon.ForkElectra)
	url := server(t, c, simbeacon.Faults{})
	r := reader(t, WithAddresses(url), WithIndexChunkSize(100))
	ctx := context.Background()
	sp, err := r.ShuffleSpec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sp != c.Spec() {
		t.Fatalf("spec %+v, chain %+v", sp, c.Spec())
	}
	st, err := r.BeaconState(ctx, "160")
	if err != nil {
		t.Fatal(err)
	}
	mixes, err := RandaoMixes(st)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := st.Validators()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := sp.ComputeFromState(4, vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.Committees(4)
	if fmt.Sprint(ec.Shuffled) != fmt.Sprint(want.Shuffled) {
		t.Fatal("committees from the state differ from the chain's")
	}
	api, err := r.BeaconCommittees(ctx, "head", 4)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(api)) != want.Count() {
		t.Fatalf("%d committees from the API", len(api))
	}
	idx := make([]phase0.ValidatorIndex, 250)
	for i := range idx {
		idx[i] = phase0.ValidatorIndex(i * 8)
	}
	vs, err := r.Validators(ctx, "head", idx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 250 || vs[8].Validator.PublicKey != c.Pubkey(8) {
		t.Fatalf("validators: %d", len(vs))
	}
	fin, err := r.Finality(ctx, "head")
	if err != nil || fin.Finalized.Epoch != 4 {
		t.Fatalf("finality %v %v", fin, err)
	}
}

// TestIntervalBlocks: the snapshot block is the latest block at or before
// the slot, with its payload's EL block number; the start block the first
// block at or after.
func TestIntervalBlocks(t *testing.T) {
	c := testChain(t, simbeacon.ForkElectra)
	r := reader(t, WithAddresses(server(t, c, simbeacon.Faults{})))
	ctx := context.Background()
	checked := 0
	for slot := phase0.Slot(40); slot < 100; slot++ {
		b, err := r.SnapshotBlock(ctx, slot, 64)
		if err != nil {
			t.Fatal(err)
		}
		want := slot
		for !c.HasBlock(want) {
			want--
		}
		full, _ := c.Block(ctx, want)
		if b.Slot != want || !b.HasPayload || b.ExecutionBlockNumber != full.Electra.Message.Body.ExecutionPayload.BlockNumber {
			t.Fatalf("snapshot block for %d: slot %d el %d, want %d", slot, b.Slot, b.ExecutionBlockNumber, want)
		}
		f, err := r.FirstBlockFrom(ctx, slot, 64)
		if err != nil {
			t.Fatal(err)
		}
		want = slot
		for !c.HasBlock(want) {
			want++
		}
		if f.Slot != want {
			t.Fatalf("first block from %d: %d, want %d", slot, f.Slot, want)
		}
		if want != slot {
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no empty slot exercised")
	}
	if e, err := r.FinalizedEpoch(ctx); err != nil || e != 4 {
		t.Fatalf("finalized epoch %d %v", e, err)
	}
	if _, err := r.FirstBlockFrom(ctx, 10_000, 3); err == nil {
		t.Fatal("blocks beyond the head found")
	}
}
