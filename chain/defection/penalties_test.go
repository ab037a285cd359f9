package defection_test

import (
	"context"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/defection"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

const penaltyScenario = `name: penalties
seed: 77
genesis_time: 1700000000
rewards:
  interval_seconds: 86400
  interval_start: 1700000000
  pending_rpl: 100 rpl
odao:
  - {name: odao-1, joined_time: 1690000000}
  - {name: odao-2, joined_time: 1690000000}
  - {name: odao-3, joined_time: 1690000000}
nodes:
  - name: thief
    registration_time: 1600000000
    smoothing_pool: {opted_in: true, time: 1690000000}
    defector: true
    legacy_rpl: 100 rpl
    minipools:
      - pubkey: '0xd10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'
        status_time: 1650000000
  - name: mthief
    registration_time: 1600000000
    smoothing_pool: {opted_in: true, time: 1690000000}
    megapool_eth_bonded: 4 eth
    megapool:
      validators:
        - {pubkey: '0xd20000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'}
`

// committingSender sends through the tx manager and mines the simulated backend until the receipt arrives.
type committingSender struct {
	m   *txmgr.Manager
	sim *simulated.Backend
	n   int
}

func (c *committingSender) Address() common.Address { return c.m.Address() }

func (c *committingSender) Submit(ctx context.Context, duty string, req txmgr.Request) (*types.Receipt, *txmgr.Pending, error) {
	p, err := c.m.Send(ctx, duty, req)
	if err != nil {
		return nil, p, err
	}
	c.n++
	c.sim.Commit()
	r, err := c.m.Wait(ctx, p)
	return r, p, err
}

func TestPenaltyVotesOncePerBlockAcrossRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s, err := scenario.Parse([]byte(penaltyScenario))
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(100_000_000))
	defer sim.Close()
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(1337), func() { sim.Commit() })
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	sim.Commit()
	el := sim.Client()
	signer, err := txmgr.NewKeySigner(net.Members[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := txmgr.New(ctx, txmgr.WithBackend(el), txmgr.WithSigner(signer), txmgr.WithPollInterval(5*time.Millisecond), txmgr.WithLogger(zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	sender := &committingSender{m: tm, sim: sim}
	journal := filepath.Join(t.TempDir(), "votes.json")
	cfg := defection.VoterConfig{Sender: sender, Client: el, Storage: net.Deployment.StorageAddress, Journal: journal, MegapoolAmount: big.NewInt(1e16)}
	voter, err := defection.NewVoter(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	minipool := net.Minipools["0xd10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"]
	megapool := net.Megapools["mthief"]
	if minipool == (common.Address{}) || megapool == (common.Address{}) {
		t.Fatal("seeded minipool or megapool missing")
	}
	recs := []defection.Record{
		{Slot: 40, BlockNumber: 3, Validator: 12, Kind: defection.KindMinipool, Minipool: minipool, Verdict: defection.Defection},
		{Slot: 41, BlockNumber: 4, Validator: 13, Kind: defection.KindMegapool, Megapool: megapool, Verdict: defection.Defection},
	}
	for _, r := range recs {
		sent, err := voter.Vote(ctx, r)
		if err != nil || !sent {
			t.Fatalf("first vote slot %d: sent=%v err=%v", r.Slot, sent, err)
		}
		if sent, err := voter.Vote(ctx, r); err != nil || sent {
			t.Fatalf("repeat vote slot %d: sent=%v err=%v", r.Slot, sent, err)
		}
	}
	// Restart with the same journal: nothing is sent.
	again, err := defection.NewVoter(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if sent, err := again.Vote(ctx, r); err != nil || sent {
			t.Fatalf("vote after restart slot %d: sent=%v err=%v", r.Slot, sent, err)
		}
	}
	// Journal lost: the contracts' duplicate keys are read first, so still nothing is sent (a send would revert
	// with "Duplicate submission from node" and fail the call).
	cfg.Journal = filepath.Join(t.TempDir(), "fresh.json")
	fresh, err := defection.NewVoter(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if sent, err := fresh.Vote(ctx, r); err != nil || sent {
			t.Fatalf("vote with a lost journal slot %d: sent=%v err=%v", r.Slot, sent, err)
		}
	}
	if sender.n != 2 {
		t.Fatalf("%d transactions sent, want 2", sender.n)
	}
	call := &bind.CallOpts{Context: ctx}
	if n, err := net.Deployment.NetworkPenalties.GetSubmissionCount(call, minipool, big.NewInt(3)); err != nil || n.Int64() != 1 {
		t.Fatalf("minipool penalty votes %v (%v), want 1", n, err)
	}
	if n, err := net.Deployment.MegapoolPenalties.GetVoteCount(call, megapool, big.NewInt(4), big.NewInt(1e16)); err != nil || n.Int64() != 1 {
		t.Fatalf("megapool penalty votes %v (%v), want 1", n, err)
	}
	if _, err := voter.Vote(ctx, defection.Record{Verdict: defection.Legal}); err == nil {
		t.Fatal("a legal proposal must not be voted on")
	}
}

type fakeIndexer struct {
	idx map[phase0.BLSPubKey]phase0.ValidatorIndex
}

func (f fakeIndexer) ValidatorsByPubkey(_ context.Context, _ string, keys []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error) {
	out := map[phase0.ValidatorIndex]*apiv1.Validator{}
	for _, k := range keys {
		if i, ok := f.idx[k]; ok {
			out[i] = &apiv1.Validator{Index: i, Validator: &phase0.Validator{PublicKey: k}}
		}
	}
	return out, nil
}

// The chain-backed state reads the seeded protocol: registry from minipools and megapool validators, Smoothing
// Pool state and fee distributor per node.
func TestChainStateOnSimulatedContracts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s, err := scenario.Parse([]byte(penaltyScenario))
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(100_000_000))
	defer sim.Close()
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(1337), func() { sim.Commit() })
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	el := sim.Client()
	var k1, k2 phase0.BLSPubKey
	k1[0], k1[47] = 0xd1, 1
	k2[0], k2[47] = 0xd2, 1
	reg, err := defection.LoadRegistry(ctx, el, net.Deployment.StorageAddress, fakeIndexer{idx: map[phase0.BLSPubKey]phase0.ValidatorIndex{k1: 7, k2: 9}}, "head", nil)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	if reg.Len() != 2 {
		t.Fatalf("registry has %d validators, want 2", reg.Len())
	}
	thief, mthief := net.Nodes[0], net.Nodes[1]
	v7, ok := reg.Lookup(7)
	if !ok || v7.Kind != defection.KindMinipool || v7.Node != thief.Address || v7.Minipool != net.Minipools["0xd10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"] {
		t.Fatalf("validator 7: %+v", v7)
	}
	v9, ok := reg.Lookup(9)
	if !ok || v9.Kind != defection.KindMegapool || v9.Node != mthief.Address || v9.Megapool != net.Megapools["mthief"] {
		t.Fatalf("validator 9: %+v", v9)
	}
	cs, err := defection.NewChainState(ctx, el, net.Deployment.StorageAddress, reg)
	if err != nil {
		t.Fatal(err)
	}
	head, err := el.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.NodeState(ctx, thief.Address, head)
	if err != nil {
		t.Fatal(err)
	}
	// Scenario: opted in at 1690000000; fee distributor as seeded.
	if !ns.OptedIn || ns.ChangedTime != 1690000000 || ns.Distributor != net.FeeDistributors["thief"] {
		t.Fatalf("node state %+v, distributor want %s", ns, net.FeeDistributors["thief"].Hex())
	}
	a, err := cs.Addresses(ctx)
	if err != nil || a.SmoothingPool != net.Deployment.Addresses["rocketSmoothingPool"] || a.RETH != net.Deployment.Addresses["rocketTokenRETH"] {
		t.Fatalf("addresses %+v (%v)", a, err)
	}
}
