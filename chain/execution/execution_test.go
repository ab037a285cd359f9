package execution_test

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/rewards"
)

const scenarioPath = "testdata/two-intervals.yaml" // copy of the simnet example as of e566c17; expectations below are written from it

type env struct {
	sim  *simulated.Backend
	net  *scenario.Network
	s    *scenario.Scenario
	addr map[string]common.Address // node name -> address
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s, err := scenario.Load(scenarioPath)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(60_000_000))
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(1337), func() { sim.Commit() })
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	e := &env{sim: sim, net: net, s: s, addr: map[string]common.Address{}}
	for i, m := range s.ODAO {
		e.addr[m.Name] = net.Members[i].Address
	}
	for i, n := range s.Nodes {
		e.addr[n.Name] = net.Nodes[i].Address
	}
	return e
}

func (e *env) reader(t *testing.T, client execution.Client, params ...execution.Parameter) *execution.Service {
	t.Helper()
	base := []execution.Parameter{execution.WithClient(client), execution.WithStorageAddress(e.net.Deployment.StorageAddress),
		execution.WithMulticall(e.net.Deployment.Multicall)}
	svc, err := execution.New(context.Background(), append(base, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *env) head(t *testing.T) uint64 {
	n, err := e.sim.Client().BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func eth(x int64) string      { return new(big.Int).Mul(big.NewInt(x), big.NewInt(1e18)).String() }
func milliEth(x int64) string { return new(big.Int).Mul(big.NewInt(x), big.NewInt(1e15)).String() }

func pk(s string) rewards.Pubkey {
	var p rewards.Pubkey
	copy(p[:], common.FromHex(s))
	return p
}

func TestNewRejectsMissingDependencies(t *testing.T) {
	if _, err := execution.New(context.Background()); err == nil {
		t.Fatal("no client accepted")
	}
	e := struct{ execution.Client }{}
	if _, err := execution.New(context.Background(), execution.WithClient(e)); err == nil {
		t.Fatal("no storage address accepted")
	}
	if _, err := execution.New(context.Background(), execution.WithClient(e), execution.WithStorageAddress(common.Address{1}), execution.WithBatchSize(0)); err == nil {
		t.Fatal("batch size 0 accepted")
	}
}

// The snapshot read through multicall equals what the scenario seeded, field by field (expectations written
// from testdata/two-intervals.yaml), at the block asked for, whatever the batch size.
func TestReadSnapshotMatchesSeed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	seeded := e.head(t)
	// Timed events up to 1700000500: alice's bond reduction (…100), SP income 0.1 (…060) + 0.25 (…300),
	// bob opts in (…400), voter share 0.05 (…500).
	if _, err := e.net.ApplyUntil(ctx, 1700000500); err != nil {
		t.Fatal(err)
	}
	later := e.head(t)
	if later <= seeded {
		t.Fatalf("events mined no block (%d, %d)", seeded, later)
	}
	svc := e.reader(t, e.sim.Client())
	snap, err := svc.ReadSnapshot(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	// Scalars.
	checks := map[string][2]string{
		"pendingRpl":       {snap.PendingRPL.String(), eth(10000)},
		"rplPrice":         {snap.RPLPrice.String(), milliEth(5)},                // 0.005 eth
		"nodePerc":         {snap.NodePerc.String(), "700000000000000000"},       // 70 %
		"trustedNodePerc":  {snap.TrustedNodePerc.String(), "25000000000000000"}, // 2.5 %
		"protocolDaoPerc":  {snap.ProtocolDAOPerc.String(), "275000000000000000"},
		"nodeShare":        {snap.NodeShare.String(), "50000000000000000"},  // 5 %
		"voterShare":       {snap.VoterShare.String(), "90000000000000000"}, // 9 %
		"protocolDaoShare": {snap.ProtocolDAOShare.String(), "0"},
		"smoothingPool":    {snap.SmoothingPoolBalance.String(), milliEth(350)}, // 0.1 + 0.25
		"pendingVoter":     {snap.PendingVoterShare.String(), milliEth(50)},
		"minStake":         {snap.MinimumPerMinipoolStake.String(), "0"},
	}
	for k, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %s, want %s", k, v[0], v[1])
		}
	}
	if snap.Index != 0 || snap.IntervalTime != 768 || snap.ClaimIntervalTimeStart != 1700000000 || snap.Version != 1 {
		t.Errorf("interval: index %d time %d start %d version %d", snap.Index, snap.IntervalTime, snap.ClaimIntervalTimeStart, snap.Version)
	}
	if len(snap.EnabledNetworks) != 0 {
		t.Errorf("enabled networks %v, want none (carol's network 1 is not enabled)", snap.EnabledNetworks)
	}
	// oDAO.
	if len(snap.OracleDAO) != 3 {
		t.Fatalf("%d oDAO members, want 3", len(snap.OracleDAO))
	}
	joined := map[rewards.Address]uint64{}
	for _, m := range snap.OracleDAO {
		joined[m.Address] = m.JoinedTime
	}
	for name, want := range map[string]uint64{"odao-1": 1690000000, "odao-2": 1690000000, "odao-3": 1699999000} {
		if got := joined[rewards.Address(e.addr[name])]; got != want {
			t.Errorf("%s joined %d, want %d", name, got, want)
		}
	}
	// Nodes: 3 members + 5 operators.
	if len(snap.Nodes) != 8 {
		t.Fatalf("%d nodes, want 8", len(snap.Nodes))
	}
	nodes := map[rewards.Address]rewards.Node{}
	for _, n := range snap.Nodes {
		nodes[n.Address] = n
	}
	type nodeWant struct {
		reg, net, change    uint64
		sp                  bool
		legacy, mRPL, mBond string
	}
	for name, w := range map[string]nodeWant{
		"alice":  {1600000000, 0, 1699000000, true, eth(2000), "0", "0"},
		"bob":    {1600000000, 0, 1700000400, true, eth(500), "0", "0"}, // opted in at …400
		"carol":  {1699990000, 1, 1699990000, true, "0", eth(300), eth(8)},
		"dave":   {1600000000, 0, 1690000000, true, eth(100), "0", "0"},
		"erin":   {1699000000, 0, 1699000000, true, "0", eth(100), eth(4)},
		"odao-3": {1699999000, 0, 0, false, "0", "0", "0"},
	} {
		n, ok := nodes[rewards.Address(e.addr[name])]
		if !ok {
			t.Errorf("node %s missing", name)
			continue
		}
		if n.RegistrationTime != w.reg || n.RewardNetwork != w.net || n.SmoothingPoolChangeTime != w.change || n.SmoothingPoolRegistered != w.sp ||
			n.LegacyStakedRPL.String() != w.legacy || n.MegapoolStakedRPL.String() != w.mRPL || n.MegapoolETHBonded.String() != w.mBond {
			t.Errorf("node %s = %+v, want %+v", name, n, w)
		}
	}
	// Minipools.
	if len(snap.Minipools) != 3 {
		t.Fatalf("%d minipools, want 3", len(snap.Minipools))
	}
	mps := map[rewards.Pubkey]rewards.Minipool{}
	for _, m := range snap.Minipools {
		mps[m.Pubkey] = m
	}
	alice := mps[pk("0xa10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001")]
	if alice.Node != rewards.Address(e.addr["alice"]) || alice.Status != rewards.MinipoolStaking || alice.StatusTime != 1650000000 ||
		alice.NodeFee.String() != "140000000000000000" || alice.NodeDepositBalance.String() != eth(8) || alice.UserDepositBalance.String() != eth(24) ||
		alice.LastBondReductionTime != 1700000100 || alice.LastBondReductionPrevValue.String() != eth(16) ||
		alice.LastBondReductionPrevNodeFee.String() != "150000000000000000" || alice.PenaltyCount != 0 {
		t.Errorf("alice's minipool after the bond reduction = %+v", alice)
	}
	if a := rewards.Address(e.net.Minipools["0xa10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"]); alice.Address != a {
		t.Errorf("alice's minipool address %s, want %s", alice.Address, a)
	}
	bob := mps[pk("0xb10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001")]
	if bob.NodeFee.String() != "200000000000000000" || bob.NodeDepositBalance.String() != eth(16) || bob.LastBondReductionTime != 0 {
		t.Errorf("bob's minipool = %+v", bob)
	}
	dave := mps[pk("0xd10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001")]
	if dave.PenaltyCount != 2 || dave.NodeDepositBalance.String() != eth(8) || dave.NodeFee.String() != "140000000000000000" {
		t.Errorf("dave's minipool = %+v (want 2 penalties, default 8 eth bond, 14 %% fee)", dave)
	}
	// Megapools.
	if len(snap.Megapools) != 2 {
		t.Fatalf("%d megapools, want 2", len(snap.Megapools))
	}
	megas := map[rewards.Address]rewards.Megapool{}
	for _, m := range snap.Megapools {
		megas[m.Node] = m
	}
	carol := megas[rewards.Address(e.addr["carol"])]
	if carol.Address != rewards.Address(e.net.Megapools["carol"]) || carol.NodeBond.String() != eth(8) || carol.UserCapital.String() != eth(56) ||
		carol.ActiveValidatorCount != 3 || len(carol.Validators) != 3 {
		t.Fatalf("carol's megapool = %+v (want bond 8, capital 2 x 28, 3 active validators)", carol)
	}
	for i, v := range carol.Validators {
		if v.ID != uint64(i) || v.LastRequestedValue != 32000 || v.LastRequestedBond != 4000 || v.Exiting || v.Exited {
			t.Errorf("carol validator %d = %+v", i, v)
		}
		if staked := i < 2; v.Staked != staked || v.InPrestake == staked {
			t.Errorf("carol validator %d staked %v prestake %v", i, v.Staked, v.InPrestake)
		}
	}
	if carol.Validators[2].Pubkey != pk("0xc10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003") {
		t.Errorf("carol validator 2 pubkey %s", carol.Validators[2].Pubkey)
	}
	erin := megas[rewards.Address(e.addr["erin"])]
	if erin.NodeBond.String() != eth(4) || erin.UserCapital.String() != eth(28) || len(erin.Validators) != 1 || !erin.Validators[0].Staked {
		t.Errorf("erin's megapool = %+v", erin)
	}
	keys := execution.ProtocolPubkeys(snap)
	if len(keys) != 7 { // 3 minipools + 3 + 1 megapool validators
		t.Errorf("%d protocol pubkeys, want 7", len(keys))
	}

	// Reads are at the block asked for: at the seeded block bob was still opted out, no income, no reduction.
	early, err := svc.ReadSnapshot(ctx, seeded)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range early.Nodes {
		if n.Address == rewards.Address(e.addr["bob"]) && (n.SmoothingPoolRegistered || n.SmoothingPoolChangeTime != 0) {
			t.Errorf("bob at the seeded block: %+v", n)
		}
	}
	if !early.SmoothingPoolBalance.IsZero() || !early.PendingVoterShare.IsZero() {
		t.Errorf("seeded block: SP %s, voter share %s, want 0", early.SmoothingPoolBalance, early.PendingVoterShare)
	}

	// Batch size does not change the result (7 calls per request vs 300).
	small, err := e.reader(t, e.sim.Client(), execution.WithBatchSize(7)).ReadSnapshot(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := snap.Digest()
	d2, _ := small.Digest()
	if d1 != d2 {
		t.Fatalf("digest with batch 300 %s, with batch 7 %s", d1, d2)
	}
}

// countingClient counts eth_call requests and can refuse logs, as an EL that expired history.
type countingClient struct {
	execution.Client
	calls  atomic.Int64
	noLogs bool
}

func (c *countingClient) CallContract(ctx context.Context, msg ethereum.CallMsg, n *big.Int) ([]byte, error) {
	c.calls.Add(1)
	return c.Client.CallContract(ctx, msg, n)
}

func (c *countingClient) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	if c.noLogs {
		return nil, errors.New("pruned history")
	}
	return c.Client.FilterLogs(ctx, q)
}

// Hundreds of calls go out in a few requests: the count of eth_call requests is the number of batches.
func TestMulticallBatches(t *testing.T) {
	e := newEnv(t)
	cc := &countingClient{Client: e.sim.Client()}
	if _, err := e.reader(t, cc, execution.WithBatchSize(10)).ReadSnapshot(context.Background(), e.head(t)); err != nil {
		t.Fatal(err)
	}
	// Stages: addresses 13 → 2; scalars 17 → 2; enumerations 8 nodes + 3 members + 3 minipools + 4 validators
	// = 18 → 2; details 8 nodes x 9 + 3 members + 3 minipools x 11 = 108 → 11; megapools 2 x 3 + 1 network = 7 → 1.
	if n := cc.calls.Load(); n != 2+2+2+11+1 {
		t.Fatalf("%d eth_call requests, want 18", n)
	}
}

func vote(t *testing.T, e *env, sub bindings.RewardSubmission, members ...int) {
	t.Helper()
	for _, i := range members {
		o, err := bind.NewKeyedTransactorWithChainID(e.net.Members[i].Key, big.NewInt(1337))
		if err != nil {
			t.Fatal(err)
		}
		o.GasLimit = 3_000_000
		if _, err := e.net.Deployment.RewardsPool.SubmitRewardSnapshot(o, sub); err != nil {
			t.Fatalf("vote of member %d: %v", i, err)
		}
		e.sim.Commit()
	}
}

func TestRewardSnapshotEventFromLogsAndFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.net.ApplyUntil(ctx, 1700000800); err != nil { // SP 0.1+0.25+0.05 = 0.4 eth, PVS 0.05
		t.Fatal(err)
	}
	svc := e.reader(t, e.sim.Client())
	if _, err := svc.RewardSnapshotEvent(ctx, 0); !errors.Is(err, execution.ErrEventNotFound) {
		t.Fatalf("event before execution: %v, want ErrEventNotFound", err)
	}
	root := crypto.Keccak256Hash([]byte("root 0"))
	sub := bindings.RewardSubmission{
		RewardIndex: big.NewInt(0), ExecutionBlock: big.NewInt(21), ConsensusBlock: big.NewInt(63),
		MerkleRoot: root, IntervalsPassed: big.NewInt(1), SmoothingPoolETH: big.NewInt(4e17),
		TreasuryRPL: big.NewInt(5), TreasuryETH: big.NewInt(0), UserETH: big.NewInt(1e17),
		TrustedNodeRPL: []*big.Int{big.NewInt(7)}, NodeRPL: []*big.Int{big.NewInt(11)}, NodeETH: []*big.Int{big.NewInt(2e17)},
	}
	vote(t, e, sub, 0, 1) // 2 of 3 >= 51 %: executed with the second vote
	check := func(ev *execution.RewardEvent, fromLog bool) {
		t.Helper()
		if ev.Index != 0 || ev.ExecutionBlock != 21 || ev.ConsensusBlock != 63 || ev.MerkleRoot != root || ev.IntervalsPassed != 1 ||
			ev.SmoothingPoolETH.Cmp(big.NewInt(4e17)) != 0 || ev.TreasuryRPL.Int64() != 5 || ev.UserETH.Cmp(big.NewInt(1e17)) != 0 ||
			len(ev.NodeRPL) != 1 || ev.NodeRPL[0].Int64() != 11 || ev.TrustedNodeRPL[0].Int64() != 7 || ev.NodeETH[0].Cmp(big.NewInt(2e17)) != 0 ||
			ev.IntervalStartTime != 1700000000 || ev.IntervalEndTime != 1700000768 {
			t.Fatalf("event = %+v", ev)
		}
		if fromLog && ev.LogBlock != e.head(t) {
			t.Fatalf("event log block %d, want the last vote's block %d", ev.LogBlock, e.head(t))
		}
	}
	ev, err := svc.RewardSnapshotEvent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(ev, true)
	if _, err := svc.RewardSnapshotEvent(ctx, 1); !errors.Is(err, execution.ErrEventNotFound) {
		t.Fatalf("event 1: %v, want ErrEventNotFound", err)
	}

	// An EL without the logs: the event file is the fallback; without it the error names the failure.
	dir := t.TempDir()
	path := filepath.Join(dir, execution.EventFileName("devnet", 0))
	if err := execution.WriteEventFile(path, ev); err != nil {
		t.Fatal(err)
	}
	pruned := &countingClient{Client: e.sim.Client(), noLogs: true}
	if _, err := e.reader(t, pruned).RewardSnapshotEvent(ctx, 0); err == nil {
		t.Fatal("event found without logs and without a file")
	}
	fromFile, err := e.reader(t, pruned, execution.WithEventsDir(dir)).RewardSnapshotEvent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(fromFile, false)
	if fromFile.LogBlock != ev.LogBlock {
		t.Fatalf("file log block %d, want %d", fromFile.LogBlock, ev.LogBlock)
	}
}

func TestReadEventFileRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown":  "index: 1\nbogus: 2\n",
		"root":     "index: 1\nmerkleRoot: 0x12\nsmoothingPoolEth: '0'\ntreasuryRpl: '0'\ntreasuryEth: '0'\nuserEth: '0'\n",
		"amount":   "index: 1\nmerkleRoot: '0x" + string(make([]byte, 0)) + "0000000000000000000000000000000000000000000000000000000000000000'\nsmoothingPoolEth: '-1'\ntreasuryRpl: '0'\ntreasuryEth: '0'\nuserEth: '0'\n",
		"not yaml": "{{{",
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := writeFile(p, body); err != nil {
			t.Fatal(err)
		}
		if _, err := execution.ReadEventFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Pre-Saturn mode reads getNodeRPLStake and no Saturn-only value: no megapools, zero shares and voter share.
func TestReadSnapshotPreSaturn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.net.ApplyUntil(ctx, 1700000500); err != nil {
		t.Fatal(err)
	}
	snap, err := e.reader(t, e.sim.Client(), execution.WithPreSaturn(true)).ReadSnapshot(ctx, e.head(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Megapools) != 0 || !snap.VoterShare.IsZero() || !snap.NodeShare.IsZero() || !snap.PendingVoterShare.IsZero() {
		t.Fatalf("Saturn values read in pre-Saturn mode: %d megapools, shares %s/%s, PVS %s", len(snap.Megapools), snap.NodeShare, snap.VoterShare, snap.PendingVoterShare)
	}
	for _, n := range snap.Nodes {
		if n.Address == rewards.Address(e.addr["alice"]) && n.LegacyStakedRPL.String() != eth(2000) {
			t.Fatalf("alice's stake via getNodeRPLStake = %s", n.LegacyStakedRPL)
		}
		if !n.MegapoolStakedRPL.IsZero() || !n.MegapoolETHBonded.IsZero() {
			t.Fatalf("megapool stake read in pre-Saturn mode: %+v", n)
		}
	}
	if len(snap.Minipools) != 3 || snap.SmoothingPoolBalance.String() != milliEth(350) {
		t.Fatalf("%d minipools, SP %s", len(snap.Minipools), snap.SmoothingPoolBalance)
	}
}

// garbageClient answers every eth_call with fixed bytes.
type garbageClient struct {
	execution.Client
	answer []byte
	err    error
}

func (g *garbageClient) CallContract(context.Context, ethereum.CallMsg, *big.Int) ([]byte, error) {
	return g.answer, g.err
}

// Bad EL answers give errors naming the problem, never a panic.
func TestReadSnapshotRejectsBadAnswers(t *testing.T) {
	e := newEnv(t)
	for name, c := range map[string]*garbageClient{
		"empty":     {answer: nil},
		"short":     {answer: []byte{1, 2, 3}},
		"error":     {err: errors.New("missing trie node abc")},
		"wrong len": {answer: common.FromHex("0x0000000000000000000000000000000000000000000000000000000000000020" + "0000000000000000000000000000000000000000000000000000000000000000")},
	} {
		c.Client = e.sim.Client()
		_, err := e.reader(t, c).ReadSnapshot(context.Background(), 1)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		t.Logf("%s: %v", name, err)
	}
	// A revert inside the batch names the call.
	_, err := e.reader(t, e.sim.Client(), execution.WithPreSaturn(false)).ReadSnapshot(context.Background(), 0) // before deployment
	if err == nil {
		t.Fatal("read before the deployment accepted")
	}
}
