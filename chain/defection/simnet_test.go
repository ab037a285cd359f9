package defection_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/defection"
	"github.com/odaowatch/watchtower/chain/execution"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

const runScenario = `name: defection-run
seed: 5
genesis_time: 1700000000
seconds_per_slot: 12
slots_per_epoch: 8
rewards:
  interval_seconds: 86400
  interval_start: 1700000000
  pending_rpl: 100 rpl
odao:
  - {name: odao-1, joined_time: 1690000000}
nodes:
  - name: honest
    registration_time: 1600000000
    smoothing_pool: {opted_in: true, time: 1690000000}
    legacy_rpl: 100 rpl
    minipools:
      - pubkey: '0xa10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'
        status_time: 1650000000
  - name: outside
    registration_time: 1600000000
    smoothing_pool: {opted_in: false, time: 0}
    legacy_rpl: 100 rpl
    minipools:
      - pubkey: '0xa20000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'
        status_time: 1650000000
  - name: thief
    registration_time: 1600000000
    smoothing_pool: {opted_in: true, time: 1690000000}
    defector: true
    legacy_rpl: 100 rpl
    minipools:
      - pubkey: '0xa30000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'
        status_time: 1650000000
`

// End to end on the simulated network (EL node + beacon chain whose payloads are the EL blocks): the fee recipient
// comes from the EL header, the node state from the contracts at the payload's block. The honest opted-in node
// pays the Smoothing Pool, the opted-out node its distributor, the defector itself.
func TestDetectorOnSimulatedNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s, err := scenario.Parse([]byte(runScenario))
	if err != nil {
		t.Fatal(err)
	}
	r, err := scenario.Start(ctx, scenario.RunConfig{Scenario: s, SlotsPerSecond: 1000, Beacon: simbeacon.Scenario{Seed: 2, ValidatorCount: 8}})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer r.Close()
	const last = 48
	for uint64(r.HeadSlot()) < last+1 {
		if err := r.Step(ctx); err != nil {
			t.Fatalf("step: %v", err)
		}
	}
	bn, err := beacon.New(ctx, beacon.WithAddresses(r.Server.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer bn.Close()
	el := r.EL.Client()
	storage := r.Net.Deployment.StorageAddress
	reg, err := defection.LoadRegistry(ctx, el, storage, bn, "head", nil)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	if reg.Len() != 3 {
		t.Fatalf("registry: %d validators, want 3", reg.Len())
	}
	// The daemon's path: the same registry from the batched EL reader's snapshot.
	xr, err := execution.New(ctx, execution.WithClient(el), execution.WithStorageAddress(storage), execution.WithMulticall(r.Net.Deployment.Multicall))
	if err != nil {
		t.Fatal(err)
	}
	head, err := el.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := xr.ReadSnapshot(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	reg2, err := defection.RegistryFromSnapshot(ctx, snap, bn, "head")
	if err != nil {
		t.Fatal(err)
	}
	if reg2.Len() != reg.Len() {
		t.Fatalf("registry from snapshot: %d validators, sequential reader %d", reg2.Len(), reg.Len())
	}
	for i := range phase0.ValidatorIndex(64) {
		a, okA := reg.Lookup(i)
		b, okB := reg2.Lookup(i)
		if okA != okB || okA && *a != *b {
			t.Fatalf("validator %d: sequential %+v, from snapshot %+v", i, a, b)
		}
	}
	st, err := defection.NewChainState(ctx, el, storage, reg)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := defection.NewELBlocks(defection.BeaconPayloads{Blocks: bn}, el, big.NewInt(scenario.ELChainID))
	if err != nil {
		t.Fatal(err)
	}
	det, err := defection.New(ctx, defection.WithState(st), defection.WithBlocks(blocks),
		defection.WithTiming(defection.Timing{GenesisTime: s.GenesisTime, SecondsPerSlot: 12, SlotsPerEpoch: 8}))
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]int{}
	nodeName := map[string]string{}
	for _, n := range r.Net.Nodes {
		nodeName[n.Address.Hex()] = n.Name
	}
	for slot := uint64(1); slot <= last; slot++ {
		rec, err := det.Examine(ctx, slot)
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		if rec == nil {
			continue
		}
		name := nodeName[rec.Node.Hex()]
		byNode[name]++
		want := defection.Legal
		if name == "thief" {
			want = defection.Defection
			if rec.Actual != rec.Node {
				t.Fatalf("slot %d: defector paid %s, scenario says its node address", slot, rec.Actual.Hex())
			}
		}
		if name == "outside" && rec.Actual != r.Net.FeeDistributors["outside"] {
			t.Fatalf("slot %d: opted-out node paid %s, want its distributor", slot, rec.Actual.Hex())
		}
		if rec.Verdict != want {
			t.Fatalf("slot %d (%s): verdict %s, want %s (%+v)", slot, name, rec.Verdict, want, rec)
		}
	}
	for _, n := range []string{"honest", "outside", "thief"} {
		if byNode[n] == 0 {
			t.Fatalf("node %s proposed no block in slots 1..%d (%v); pick another seed", n, last, byNode)
		}
	}
}
