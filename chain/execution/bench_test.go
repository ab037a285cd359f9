package execution_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// BenchmarkReadSnapshot reads a 300-node, 1,200-minipool, 60-megapool (240 validators) network on the simulated
// backend: ~18,000 contract calls per snapshot, batched by 300.
//
//	go test -run XXX -bench ReadSnapshot -benchtime 5x ./chain/execution/
func BenchmarkReadSnapshot(b *testing.B) {
	var y strings.Builder
	y.WriteString("name: bench\nseed: 1\ngenesis_time: 1700000000\nrewards: {interval_seconds: 2419200}\nodao:\n  - {name: o1, joined_time: 1}\nnodes:\n")
	pk := 0
	next := func() string { pk++; return fmt.Sprintf("'0x%096x'", pk) }
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&y, "  - name: n%d\n    registration_time: 1600000000\n    smoothing_pool: {opted_in: true, time: 1650000000}\n    legacy_rpl: 1000 rpl\n", i)
		if i%5 == 0 {
			y.WriteString("    megapool_rpl: 100 rpl\n    megapool_eth_bonded: 16 eth\n    megapool:\n      validators:\n")
			for j := 0; j < 4; j++ {
				fmt.Fprintf(&y, "        - {pubkey: %s}\n", next())
			}
			continue
		}
		y.WriteString("    minipools:\n")
		for j := 0; j < 5; j++ {
			fmt.Fprintf(&y, "      - {pubkey: %s, status_time: 1650000000}\n", next())
		}
	}
	s, err := scenario.Parse([]byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		b.Fatal(err)
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(1_000_000_000)) // seeding mines ~1,300 deployments at once
	defer sim.Close()
	ctx := context.Background()
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(1337), func() { sim.Commit() })
	if err != nil {
		b.Fatal(err)
	}
	head, err := sim.Client().BlockNumber(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cc := &countingClient{Client: sim.Client()}
	svc, err := execution.New(ctx, execution.WithClient(cc), execution.WithStorageAddress(net.Deployment.StorageAddress), execution.WithMulticall(net.Deployment.Multicall))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snap, err := svc.ReadSnapshot(ctx, head)
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Minipools) != 1200 || len(snap.Megapools) != 60 || len(snap.Nodes) != 301 {
			b.Fatalf("read %d minipools, %d megapools, %d nodes", len(snap.Minipools), len(snap.Megapools), len(snap.Nodes))
		}
	}
	b.ReportMetric(float64(cc.calls.Load())/float64(b.N), "requests/op")
}
