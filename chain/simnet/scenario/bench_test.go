package scenario_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// BenchmarkDeployAndSeed measures deploying the protocol and seeding the two-interval scenario on the
// simulated backend.
func BenchmarkDeployAndSeed(b *testing.B) {
	s, err := scenario.Load("testdata/two-intervals.yaml")
	if err != nil {
		b.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(100_000_000))
		if _, err := scenario.Seed(context.Background(), sim.Client(), s, big.NewInt(1337), func() { sim.Commit() }); err != nil {
			b.Fatal(err)
		}
		_ = sim.Close()
	}
}

// BenchmarkRunnerStep measures one slot of the in-process network (events, EL block, beacon clock).
func BenchmarkRunnerStep(b *testing.B) {
	s, err := scenario.Load("testdata/two-intervals.yaml")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r, err := scenario.Start(ctx, scenario.RunConfig{Scenario: s, Beacon: beacon.Scenario{Seed: 1, ValidatorCount: 1024}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for b.Loop() {
		if err := r.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
