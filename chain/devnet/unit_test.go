package devnet

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
)

// The unit tests need no client binary: template, genesis JSON, proposer settings, parameters, protocol layout.

func TestRenderChainConfig(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := renderChainConfig(root, chainParams{Validators: 64, SecondsPerSlot: 3, SlotDurationMS: 3000, ChainID: 1337})
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	for _, want := range []string{"SECONDS_PER_SLOT: 3\n", "SLOT_DURATION_MS: 3000\n", "SLOTS_PER_EPOCH: 32\n", "DENEB_FORK_EPOCH: 0\n",
		"ELECTRA_FORK_EPOCH: 18446744073709551615\n", "DEPOSIT_CHAIN_ID: 1337\n", "MIN_GENESIS_ACTIVE_VALIDATOR_COUNT: 64\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	if strings.Contains(cfg, "{{") || strings.Contains(cfg, "<no value>") {
		t.Errorf("unrendered placeholders:\n%s", cfg)
	}
}

func TestMergeAlloc(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	prysm := `{"config":{"chainId":1337},"alloc":{"4242424242424242424242424242424242424242":{"balance":"0x0","code":"0x60"}},"baseFeePerGas":null,"timestamp":"0x10"}`
	if err := os.WriteFile(in, []byte(prysm), 0o644); err != nil {
		t.Fatal(err)
	}
	a := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	if err := mergeAlloc(in, out, types.GenesisAlloc{a: {Balance: big.NewInt(5e18)}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Config  map[string]any                        `json:"config"`
		Alloc   map[string]map[string]json.RawMessage `json:"alloc"`
		BaseFee string                                `json:"baseFeePerGas"`
		Time    string                                `json:"timestamp"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if g.BaseFee != "0x3b9aca00" || g.Time != "0x10" || g.Config["chainId"] != float64(1337) {
		t.Fatalf("fields not kept or base fee not set: %s", raw)
	}
	if string(g.Alloc["4242424242424242424242424242424242424242"]["code"]) != `"0x60"` {
		t.Fatalf("prysmctl's account lost: %s", raw)
	}
	if string(g.Alloc["00000000000000000000000000000000000000a1"]["balance"]) != `"0x4563918244f40000"` {
		t.Fatalf("our account: %s", raw)
	}
	// An account prysmctl already allocates is refused.
	err = mergeAlloc(in, out, types.GenesisAlloc{common.HexToAddress("0x4242424242424242424242424242424242424242"): {Balance: big.NewInt(1)}})
	if err == nil || !strings.Contains(err.Error(), "already allocated") {
		t.Fatalf("duplicate account: %v", err)
	}
}

func TestProposerSettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ps.json")
	var k phase0.BLSPubKey
	k[0], k[47] = 0xa1, 0x07
	fee := common.HexToAddress("0x1111111111111111111111111111111111111111")
	if err := writeProposerSettings(p, &Setup{FeeRecipients: map[phase0.BLSPubKey]common.Address{k: fee}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	var doc struct {
		ProposerConfig map[string]struct {
			FeeRecipient string `json:"fee_recipient"`
		} `json:"proposer_config"`
		DefaultConfig struct {
			FeeRecipient string `json:"fee_recipient"`
		} `json:"default_config"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	key := "0xa1" + strings.Repeat("00", 46) + "07"
	if doc.ProposerConfig[key].FeeRecipient != fee.Hex() || doc.DefaultConfig.FeeRecipient != defaultFeeRecipient.Hex() {
		t.Fatalf("proposer settings: %s", raw)
	}
	if err := writeProposerSettings(p, &Setup{FeeRecipients: map[phase0.BLSPubKey]common.Address{k: {}}}); err == nil {
		t.Fatal("a zero fee recipient was accepted")
	}
}

func TestParameters(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "x")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bins := &Binaries{Geth: exe, BeaconChain: exe, Validator: exe, Prysmctl: exe}
	for _, c := range []struct {
		name   string
		params []Parameter
		want   string
	}{
		{"no binaries", []Parameter{WithDir(dir)}, "no binaries"},
		{"no dir", []Parameter{WithBinaries(bins)}, "no directory"},
		{"too few", []Parameter{WithBinaries(bins), WithDir(dir), WithValidators(32)}, "at least 64"},
		{"too many offline", []Parameter{WithBinaries(bins), WithDir(dir), WithOffline(22)}, "fewer than a third"},
		{"1-s slots", []Parameter{WithBinaries(bins), WithDir(dir), WithSecondsPerSlot(1)}, "2..12"},
		{"missing binary", []Parameter{WithBinaries(&Binaries{Geth: exe, BeaconChain: exe, Validator: exe, Prysmctl: filepath.Join(dir, "none")}), WithDir(dir)}, "prysmctl binary"},
	} {
		if _, err := New(context.Background(), c.params...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := parseAndCheckParameters(WithBinaries(bins), WithDir(dir), WithOffline(21)); err != nil {
		t.Errorf("21 of 64 offline: %v", err)
	}
}

func fakeGenesis() *Genesis {
	g := &Genesis{Time: 1_800_000_000, SecondsPerSlot: 2, ChainID: ChainID, Online: 60}
	for i := 0; i < LayoutValidators; i++ {
		var k phase0.BLSPubKey
		k[0], k[46], k[47] = 0x8a, byte(i>>8), byte(i)
		g.Pubkeys = append(g.Pubkeys, k)
	}
	return g
}

// The protocol layout parses as a scenario, its prediction gives every protocol validator the fee recipient
// of its node (the defector: itself), and the genesis alloc funds the guardian.
func TestProtocolSetup(t *testing.T) {
	g := fakeGenesis()
	p, err := NewProtocol(context.Background(), g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Scenario.Rewards.IntervalSeconds; got != 2*32*2 {
		t.Fatalf("interval seconds %d", got)
	}
	if got := *p.Scenario.Rewards.IntervalStart; got != g.Time+IntervalStartSlot*2 {
		t.Fatalf("interval start %d", got)
	}
	s, err := p.Setup(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.FeeRecipients) != len(p.Validators("")) || len(p.Validators("")) != 40 {
		t.Fatalf("%d fee recipients for %d protocol validators", len(s.FeeRecipients), len(p.Validators("")))
	}
	sp := p.Predicted.Deployment.Addresses[contracts.NameSmoothingPool]
	nodeAddr := map[string]common.Address{}
	for i, n := range p.Scenario.Nodes {
		nodeAddr[n.Name] = p.Predicted.Nodes[i].Address
	}
	for idx, node := range p.ValidatorNode {
		got := s.FeeRecipients[g.Pubkeys[idx]]
		var want common.Address
		switch node {
		case Defector:
			want = nodeAddr[node]
		case "dave":
			want = p.Predicted.FeeDistributors[node]
		default:
			want = sp
		}
		if got != want || got == (common.Address{}) {
			t.Errorf("validator %d of %s: fee recipient %s, want %s", idx, node, got.Hex(), want.Hex())
		}
	}
	for _, offline := range []uint64{60, 61} {
		if p.ValidatorNode[offline] == "" {
			t.Errorf("offline validator %d is not a protocol validator", offline)
		}
	}
	gu, _ := p.Scenario.Guardian()
	if s.Alloc[gu.Address].Balance == nil || s.Alloc[gu.Address].Balance.Sign() <= 0 {
		t.Fatal("guardian not funded")
	}
	// The same genesis predicts the same addresses (Seed on the devnet relies on it).
	q, err := NewProtocol(context.Background(), g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameAddresses(p.Predicted, q.Predicted); err != nil {
		t.Fatal(err)
	}
	if _, err := ScenarioYAML(&Genesis{Pubkeys: g.Pubkeys[:63]}, 2); err == nil {
		t.Fatal("a 63-validator genesis was accepted")
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(11, 2)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}
