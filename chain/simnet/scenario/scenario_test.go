package scenario_test

import (
	"context"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want string // wei, hand-computed
	}{
		{"7", "7"},
		{"7 wei", "7"},
		{"250 gwei", "250000000000"},
		{"32 eth", "32000000000000000000"},
		{"1.5 ETH", "1500000000000000000"},
		{"0.000000000000000001 eth", "1"},
		{"1000 rpl", "1000000000000000000000"},
		{"0.10 eth", "100000000000000000"},
	}
	for _, c := range cases {
		a, err := scenario.ParseAmount(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if a.Wei().String() != c.want {
			t.Fatalf("%q = %s, want %s", c.in, a.Wei(), c.want)
		}
	}
	for _, bad := range []string{"", "-1 eth", "1.5", "0.0000000000000000001 eth", "1 btc", "1e18", "1. eth", "x eth", "1 2 3"} {
		if _, err := scenario.ParseAmount(bad); err == nil {
			t.Fatalf("%q: accepted, want an error", bad)
		}
	}
}

func TestParseFraction(t *testing.T) {
	for in, want := range map[string]string{"0.14": "140000000000000000", "14%": "140000000000000000", "5%": "50000000000000000", "1": "1000000000000000000", "0": "0", "0.5%": "5000000000000000"} {
		f, err := scenario.ParseFraction(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if f.Scaled().String() != want {
			t.Fatalf("%q = %s, want %s", in, f.Scaled(), want)
		}
	}
	for _, bad := range []string{"1.01", "101%", "-0.1", "abc"} {
		if _, err := scenario.ParseFraction(bad); err == nil {
			t.Fatalf("%q: accepted, want an error", bad)
		}
	}
}

const pkA = "0xa00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"

func TestParseRejectsInconsistentScenarios(t *testing.T) {
	base := "rewards: {interval_seconds: 100}\n"
	cases := map[string]string{
		"unknown field":        base + "bogus: 1\n",
		"no interval":          "rewards: {interval_seconds: 0}\n",
		"duplicate name":       base + "odao: [{name: x}]\nnodes: [{name: x}]\n",
		"duplicate pubkey":     base + "nodes: [{name: a, minipools: [{pubkey: '" + pkA + "'}]}, {name: b, minipools: [{pubkey: '" + pkA + "'}]}]\n",
		"short pubkey":         base + "nodes: [{name: a, minipools: [{pubkey: '0xa0'}]}]\n",
		"unknown status":       base + "nodes: [{name: a, minipools: [{pubkey: '" + pkA + "', status: running}]}]\n",
		"bond not lowered":     base + "nodes: [{name: a, minipools: [{pubkey: '" + pkA + "', bond: 8 eth, bond_reductions: [{time: 5, new_bond: 8 eth}]}]}]\n",
		"no-op SP change":      base + "nodes: [{name: a, smoothing_pool: {opted_in: true, time: 1}, smoothing_pool_changes: [{opted_in: true, time: 2}]}]\n",
		"SP changes unordered": base + "nodes: [{name: a, smoothing_pool_changes: [{opted_in: true, time: 5}, {opted_in: false, time: 3}]}]\n",
		"income unordered":     base + "smoothing_pool_income: [{time: 5, amount: 1 eth}, {time: 4, amount: 1 eth}]\n",
		"bad megapool state":   base + "nodes: [{name: a, megapool: {validators: [{pubkey: '" + pkA + "', state: flying}]}}]\n",
	}
	wantErr := map[string]string{
		"unknown field":        "field bogus not found",
		"no interval":          "interval_seconds must be > 0",
		"duplicate name":       "duplicate account name",
		"duplicate pubkey":     "used by node a minipool 0 and node b",
		"short pubkey":         "has 1 bytes, want 48",
		"unknown status":       "unknown status",
		"bond not lowered":     "must lower the bond",
		"no-op SP change":      "does not change the state",
		"SP changes unordered": "smoothing_pool_changes not in time order",
		"income unordered":     "smoothing_pool_income not in time order",
		"bad megapool state":   "unknown state",
	}
	for name, doc := range cases {
		_, err := scenario.Parse([]byte(doc))
		if err == nil {
			t.Fatalf("%s: accepted, want an error", name)
		}
		if !strings.Contains(err.Error(), wantErr[name]) {
			t.Fatalf("%s: error %q does not mention %q", name, err, wantErr[name])
		}
	}
}

func loadExample(t *testing.T) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Load("testdata/two-intervals.yaml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func TestExampleDefaults(t *testing.T) {
	s := loadExample(t)
	carol := s.Nodes[2]
	// Megapool defaults: two staked validators with 4 ETH bonds (prestake excluded): bond 8, user 28 + 28 = 56.
	if got := carol.Megapool.NodeBond.Wei().String(); got != "8000000000000000000" {
		t.Fatalf("carol node bond = %s, want 8 ETH", got)
	}
	if got := carol.Megapool.UserCapital.Wei().String(); got != "56000000000000000000" {
		t.Fatalf("carol user capital = %s, want 56 ETH", got)
	}
	if s.Nodes[3].Minipools[0].Bond.Wei().String() != "8000000000000000000" || s.Nodes[3].Minipools[0].NodeFee.Scaled().String() != "140000000000000000" {
		t.Fatal("minipool defaults are not 8 ETH bond and 14 % fee")
	}
	if got := s.SlotTime(64); got != 1700000000+768 {
		t.Fatalf("slot 64 time = %d, want 1700000768", got)
	}
}

type seededNet struct {
	ctx context.Context
	sim *simulated.Backend
	net *scenario.Network
}

func seed(t *testing.T) *seededNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(cancel)
	s := loadExample(t)
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(100_000_000))
	t.Cleanup(func() { _ = sim.Close() })
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(1337), func() { sim.Commit() })
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return &seededNet{ctx: ctx, sim: sim, net: net}
}

func TestSeedAndApplyEvents(t *testing.T) {
	sn := seed(t)
	n, d := sn.net, sn.net.Deployment
	call := &bind.CallOpts{Context: sn.ctx}
	must := func(v *big.Int, err error) *big.Int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// 3 members + 5 nodes are registered nodes; member 3 joined at 1699999000.
	if got := must(d.NodeManager.GetNodeCount(call)); got.Int64() != 8 {
		t.Fatalf("node count = %s, want 8", got)
	}
	if got := must(d.DAONodeTrusted.GetMemberCount(call)); got.Int64() != 3 {
		t.Fatalf("member count = %s, want 3", got)
	}
	if got := must(d.DAONodeTrusted.GetMemberJoinedTime(call, n.Members[2].Address)); got.Uint64() != 1699999000 {
		t.Fatalf("odao-3 joined = %s", got)
	}
	alice, bob, carol := n.Nodes[0].Address, n.Nodes[1].Address, n.Nodes[2].Address
	if got := must(d.RewardsPool.GetPendingRPLRewards(call)); got.String() != "10000000000000000000000" {
		t.Fatalf("pending RPL = %s, want 10000 RPL", got)
	}
	if got := must(d.NetworkPrices.GetRPLPrice(call)); got.String() != "5000000000000000" {
		t.Fatalf("RPL price = %s, want 0.005 ETH", got)
	}
	if got := must(d.NodeManager.GetRewardNetwork(call, carol)); got.Int64() != 1 {
		t.Fatalf("carol reward network = %s", got)
	}
	bobIn, err := d.NodeManager.GetSmoothingPoolRegistrationState(call, bob)
	if err != nil || bobIn {
		t.Fatalf("bob opted in before his change (%v)", err)
	}

	// Alice's minipool before the bond reduction: 16 ETH bond, 15 % fee.
	aliceMP := n.Minipools["0xa1"+strings.Repeat("0", 90)+"0001"]
	if aliceMP == (common.Address{}) {
		t.Fatal("alice's minipool missing from Minipools")
	}
	reducer := d.MinipoolBondReducer
	if got := must(reducer.GetLastBondReductionTime(call, aliceMP)); got.Sign() != 0 {
		t.Fatalf("bond reduction applied at seeding (time %s)", got)
	}
	// Dave's penalties and carol's megapool.
	daveMP := n.Minipools["0xd1"+strings.Repeat("0", 90)+"0001"]
	if got := must(d.Storage.GetUint(call, contracts.PenaltyCountKey(daveMP))); got.Int64() != 2 {
		t.Fatalf("dave penalty count = %s, want 2", got)
	}
	if got := must(d.MegapoolManager.GetValidatorCount(call)); got.Int64() != 5 {
		t.Fatalf("megapool validators = %s, want 5 (carol 3, erin 2)", got)
	}
	info, err := d.MegapoolManager.GetValidatorInfo(call, big.NewInt(2))
	if err != nil {
		t.Fatal(err)
	}
	if !info.ValidatorInfo.InPrestake || info.ValidatorInfo.LastAssignmentTime != 1699999000 || info.Megapool != n.Megapools["carol"] || info.ValidatorId != 2 {
		t.Fatalf("carol validator 2 = %+v", info)
	}

	// Events up to 1700000500: income 0.1 + 0.25 ETH, alice's reduction (t=100), bob's opt-in (t=400),
	// voter share 0.05 ETH (t=500).
	if got := n.PendingEvents(); got != 10 {
		t.Fatalf("pending events = %d, want 10 (5 income, 1 voter share, 1 reduction, 1 SP change, 2 exit notifications)", got)
	}
	applied, err := n.ApplyUntil(sn.ctx, 1700000500)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if applied != 5 {
		t.Fatalf("applied %d events, want 5", applied)
	}
	sp, err := sn.sim.Client().BalanceAt(sn.ctx, d.Addresses[contracts.NameSmoothingPool], nil)
	if err != nil {
		t.Fatal(err)
	}
	if sp.String() != "350000000000000000" {
		t.Fatalf("smoothing pool = %s, want 0.35 ETH", sp)
	}
	if got := must(d.RewardsPool.GetPendingVoterShare(call)); got.String() != "50000000000000000" {
		t.Fatalf("pending voter share = %s, want 0.05 ETH", got)
	}
	if got := must(reducer.GetLastBondReductionTime(call, aliceMP)); got.Uint64() != 1700000100 {
		t.Fatalf("alice reduction time = %s", got)
	}
	if got := must(reducer.GetLastBondReductionPrevValue(call, aliceMP)); got.String() != "16000000000000000000" {
		t.Fatalf("alice previous bond = %s", got)
	}
	if got := must(reducer.GetLastBondReductionPrevNodeFee(call, aliceMP)); got.String() != "150000000000000000" {
		t.Fatalf("alice previous fee = %s", got)
	}
	bobIn, err = d.NodeManager.GetSmoothingPoolRegistrationState(call, bob)
	if err != nil || !bobIn {
		t.Fatalf("bob not opted in after his change (%v)", err)
	}
	if got := must(d.NodeManager.GetSmoothingPoolRegistrationChanged(call, bob)); got.Uint64() != 1700000400 {
		t.Fatalf("bob change time = %s", got)
	}
	_ = alice
	next, ok := n.NextEventTime()
	if !ok || next != 1700000700 {
		t.Fatalf("next event at %d (%v), want 1700000700", next, ok)
	}
	if applied, err = n.ApplyUntil(sn.ctx, 1<<62); err != nil || applied != 5 {
		t.Fatalf("applied %d (%v), want the remaining 5", applied, err)
	}
	// Erin's exit notifications: validator 0 at epoch 12 <= 266 - 112 (on time), validator 1 at epoch 10 > 120 - 112
	// (late): one fine of 0.05 ETH.
	erinMP, err := bindings.NewRocketMegapoolDelegate(n.Megapools["erin"], sn.sim.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got := must(erinMP.GetDebt(call)); got.String() != "50000000000000000" {
		t.Fatalf("erin debt = %s, want 0.05 ETH (one late notification)", got)
	}
	for id := uint32(0); id < 2; id++ {
		v, err := erinMP.GetValidatorInfo(call, id)
		if err != nil || !v.Exiting {
			t.Fatalf("erin validator %d exiting = %v (%v)", id, v.Exiting, err)
		}
	}
	sp, _ = sn.sim.Client().BalanceAt(sn.ctx, d.Addresses[contracts.NameSmoothingPool], nil)
	// 0.1 + 0.25 + 0.05 + 0.3 + 0.125 = 0.825 ETH.
	if sp.String() != "825000000000000000" {
		t.Fatalf("smoothing pool = %s, want 0.825 ETH", sp)
	}
}

func TestBeaconValidatorsMatchSeededState(t *testing.T) {
	sn := seed(t)
	n := sn.net
	vals := n.BeaconValidators()
	// alice 1, bob 1, carol 3, dave 1, erin 2.
	if len(vals) != 8 {
		t.Fatalf("%d protocol validators, want 8", len(vals))
	}
	sp := n.Deployment.Addresses[contracts.NameSmoothingPool].Hex()
	byKey := map[string]beacon.ProtocolValidator{}
	for _, v := range vals {
		byKey[v.Pubkey] = v
	}
	alice := byKey["0xa1"+strings.Repeat("0", 90)+"0001"]
	if alice.FeeRecipient != sp || alice.WithdrawalAddress != n.Minipools[alice.Pubkey].Hex() {
		t.Fatalf("alice: %+v", alice)
	}
	bob := byKey["0xb1"+strings.Repeat("0", 90)+"0001"]
	if bob.FeeRecipient != n.FeeDistributors["bob"].Hex() {
		t.Fatalf("bob (opted out at genesis) fee recipient %s, want his distributor %s", bob.FeeRecipient, n.FeeDistributors["bob"].Hex())
	}
	dave := byKey["0xd1"+strings.Repeat("0", 90)+"0001"]
	if dave.FeeRecipient != n.Nodes[3].Address.Hex() {
		t.Fatalf("defector dave fee recipient %s, want his node address", dave.FeeRecipient)
	}
	erin := byKey["0xe1"+strings.Repeat("0", 90)+"0001"]
	if erin.WithdrawalAddress != n.Megapools["erin"].Hex() || erin.ExitEpoch == nil || *erin.ExitEpoch != 10 || *erin.WithdrawableEpoch != 266 {
		t.Fatalf("erin: %+v", erin)
	}

	// Fee recipients over time: bob opts in at 1700000400 (the change counts from that second on).
	pk := func(hexKey string) []byte { return common.FromHex(hexKey) }
	for _, c := range []struct {
		key  string
		t    uint64
		want common.Address
	}{
		{bob.Pubkey, 1700000399, n.FeeDistributors["bob"]},
		{bob.Pubkey, 1700000400, n.Deployment.Addresses[contracts.NameSmoothingPool]},
		{dave.Pubkey, 1700000000, n.Nodes[3].Address},
		{erin.Pubkey, 1700000000, n.Deployment.Addresses[contracts.NameSmoothingPool]},
	} {
		got, ok := n.FeeRecipientAt(pk(c.key), c.t)
		if !ok || got != c.want {
			t.Fatalf("fee recipient of %s at %d = %s (%v), want %s", c.key[:6], c.t, got.Hex(), ok, c.want.Hex())
		}
	}
	if _, ok := n.FeeRecipientAt(pk(pkA), 0); ok {
		t.Fatal("fee recipient for a pubkey outside the scenario")
	}

	// The beacon chain accepts them.
	count := uint64(256)
	bs := n.BeaconScenario(beacon.Scenario{Seed: 1, ValidatorCount: count, HeadSlot: 100})
	chain, err := beacon.New(sn.ctx, beacon.WithScenario(bs))
	if err != nil {
		t.Fatalf("beacon chain from the scenario: %v", err)
	}
	if got := chain.SlotsPerEpoch(); got != 8 {
		t.Fatalf("beacon slots per epoch %d, want 8", got)
	}
}

func TestWriteKeystores(t *testing.T) {
	s := loadExample(t)
	dir := t.TempDir()
	paths, err := s.WriteKeystores(dir, "simnet")
	if err != nil {
		t.Fatal(err)
	}
	members, err := s.MemberAccounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("%d keystores, want 3", len(paths))
	}
	for i, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keystore.DecryptKey(raw, "simnet")
		if err != nil {
			t.Fatalf("decrypt %s: %v", p, err)
		}
		if k.Address != members[i].Address {
			t.Fatalf("%s holds %s, want %s", p, k.Address.Hex(), members[i].Address.Hex())
		}
		if _, err := keystore.DecryptKey(raw, "wrong"); err == nil {
			t.Fatal("keystore decrypted with the wrong password")
		}
	}
	// Keys are deterministic per seed and name, and differ between names.
	again, _ := s.MemberAccounts()
	if again[0].Address != members[0].Address || members[0].Address == members[1].Address {
		t.Fatal("member keys are not deterministic and distinct")
	}
}
