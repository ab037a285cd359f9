package rewards

import (
	"math/big"
	"testing"
)

// TestReferenceMockV10RPL ports the node set of the reference's default mock
// interval (rocket-pool/smartnode shared/services/rewards/test/mock.go,
// GetDefaultMockNodes, plus the extra 5-RPL node of mock_v10_test.go
// TestMockIntervalDefaultsTreegenv10) as data and checks the collateral RPL
// golden values that test asserts for ruleset 10:
//
//	10 RPL, one 8- or 16-ETH minipool:  1019308880071990649542
//	20 RPL, one 8-ETH minipool:         1784353229014464268647
//	20 RPL, one 16-ETH minipool:        1310160289473732090952
//	no minipools:                       0
//
// Mock facts: genesis 1577836800, epochs 100–200, interval 100 epochs
// (38,400 s), RPL price 0.24 ETH, minimum collateral 10 %, pending RPL 70,000,
// claim percentages 70 / 1.5 / 28.5 %, every node registered at genesis.
// The values pin the integer log2 (20-RPL weights go through ln(7e18) and
// ln(17e18)), and show that v10 keeps the 10 % minimum-collateral cliff (the
// 5-RPL node, 1.2 ETH on 24 borrowed, is cut) and that a finalised staking
// minipool still counts as borrowed ETH:
// W = 42 * 240e18 + 2 * 420132487154655038256 + 2 * 308482027009798914272.
func TestReferenceMockV10RPL(t *testing.T) {
	const genesis = 1577836800
	slotTime := func(slot uint64) uint64 { return genesis + 12*slot }
	s := &Snapshot{
		Version: SnapshotVersion, Network: "mainnet", ChainID: 1, GenesisTime: genesis, SecondsPerSlot: 12, SlotsPerEpoch: 32,
		Index: 40000, IntervalsPassed: 1, IntervalTime: 100 * 32 * 12, ClaimIntervalTimeStart: genesis + 100*32*12,
		ConsensusStartSlot: 3200, SnapshotSlot: 201*32 - 1, ConsensusStartBlock: 3200, ConsensusEndBlock: 201*32 - 1,
		ExecutionStartBlock: 103200, ExecutionEndBlock: 100000 + 201*32 - 1, ELStartTime: slotTime(3200), ELEndTime: slotTime(201*32 - 1),
		PendingRPL: ether(70000), NodePerc: perc(70), TrustedNodePerc: NewWei(big.NewInt(15e15)), ProtocolDAOPerc: NewWei(big.NewInt(285e15)),
		RPLPrice: NewWei(big.NewInt(24e16)), MinimumPerMinipoolStake: perc(10), SmoothingPoolBalance: ether(100),
	}
	var nextNode, nextMP, nextIdx byte
	var idx uint64
	type made struct {
		addr  Address
		class string
	}
	var nodes []made
	newNode := func(class string, rpl int64, sp bool) *Node {
		nextNode++
		a := addr(0x07, 0xd0, nextNode)
		n := Node{Address: a, RegistrationTime: genesis, LegacyStakedRPL: ether(rpl)}
		if sp {
			n.SmoothingPoolRegistered, n.SmoothingPoolChangeTime = true, slotTime(99*32)
		}
		s.Nodes = append(s.Nodes, n)
		nodes = append(nodes, made{a, class})
		return &s.Nodes[len(s.Nodes)-1]
	}
	addMP := func(node Address, bond int64, status, beaconStatus string) *Minipool {
		nextMP++
		nextIdx++
		idx++
		key := pk(0x09, 0x27, 0xc0, nextIdx)
		s.Minipools = append(s.Minipools, Minipool{Address: addr(0x75, 0x30, nextMP), Pubkey: key, Node: node, Status: status,
			StatusTime: genesis, NodeFee: perc(10), NodeDepositBalance: ether(bond), UserDepositBalance: ether(32 - bond)})
		if beaconStatus != "" {
			s.Validators = append(s.Validators, BeaconValidator{Pubkey: key, Index: idx, Status: beaconStatus,
				ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
		}
		return &s.Minipools[len(s.Minipools)-1]
	}
	for _, c := range []struct {
		class string
		bond  int64
		sp    bool
	}{{"single_eight_eth", 8, false}, {"single_eight_eth_sp", 8, true}, {"single_sixteen_eth", 16, false}, {"single_sixteen_eth_sp", 16, true}} {
		for i := 0; i < 10; i++ {
			n := newNode(c.class, 10, c.sp)
			addMP(n.Address, c.bond, MinipoolStaking, "active_ongoing")
		}
	}
	for _, c := range []struct {
		class string
		bond  int64
		sp    bool
		epoch uint64
	}{{"in_quarter_8", 8, true, 125}, {"in_quarter_16", 16, true, 125}, {"out_three_quarters_8", 8, false, 175}, {"out_three_quarters_16", 16, false, 175}} {
		n := newNode(c.class, 20, c.sp)
		n.SmoothingPoolChangeTime = slotTime(c.epoch * 32)
		addMP(n.Address, c.bond, MinipoolStaking, "active_ongoing")
	}
	n := newNode("bond_reduction", 10, true)
	m := addMP(n.Address, 8, MinipoolStaking, "active_ongoing")
	m.LastBondReductionTime, m.LastBondReductionPrevValue, m.LastBondReductionPrevNodeFee = slotTime(150*32), ether(16), perc(20)
	newNode("no_minipools", 10, false)
	n = newNode("pending", 10, false)
	addMP(n.Address, 8, MinipoolPrelaunch, "")
	n = newNode("finalised", 10, false)
	addMP(n.Address, 8, MinipoolStaking, "withdrawal_done")
	for i := 0; i < 2; i++ {
		n = newNode("odao", 0, false)
		s.OracleDAO = append(s.OracleDAO, ODAOMember{Address: n.Address, JoinedTime: genesis})
	}
	n = newNode("extra_5_rpl", 5, true)
	addMP(n.Address, 8, MinipoolStaking, "active_ongoing").NodeFee = perc(5)

	r := mustCompute(t, s, newBuilder(s).Build(), WithRuleset(RulesetV10))
	want := map[string]string{
		"single_eight_eth": "1019308880071990649542", "single_eight_eth_sp": "1019308880071990649542",
		"single_sixteen_eth": "1019308880071990649542", "single_sixteen_eth_sp": "1019308880071990649542",
		"bond_reduction": "1019308880071990649542",
		"in_quarter_8":   "1784353229014464268647", "out_three_quarters_8": "1784353229014464268647",
		"in_quarter_16": "1310160289473732090952", "out_three_quarters_16": "1310160289473732090952",
		"no_minipools": "0",
	}
	for _, nd := range nodes {
		w, ok := want[nd.class]
		if !ok {
			continue
		}
		got := new(big.Int)
		if hasNode(r, nd.addr) {
			got = nodeOf(t, r, nd.addr).CollateralRPL
		}
		wantInt(t, nd.class+" collateral RPL", got, w)
	}
	// Two oDAO members for the whole interval: 70,000 * 1.5 % / 2 = 525 RPL each.
	for _, nd := range nodes {
		if nd.class == "odao" {
			wantInt(t, "oDAO RPL", nodeOf(t, r, nd.addr).OracleDAORPL, "525000000000000000000")
		}
	}
}

// TestReferenceInsufficientEthForBonusesV11 ports the inputs of the Smart
// Node's TestInsufficientEthForBonusesesV11 (rewards-rules.md §10): two
// opted-in nodes with one 8-ETH minipool each — 5 RPL at 5 % fee and 20 RPL
// at 10 % fee, RPL price 0.24 ETH — 101 epochs of perfect attestations, 1 ETH
// of consensus income each, SP = 1100 wei and pending voter share = 100 wei.
// The reference asserts node ETH 707 and 492 with bonuses 521 and 297:
//
//	pct 5 % → fee' 12 %, score 0.34; pct 20 % → fee' 14 %, score 0.355
//	T = 101 * 0.695e18, N = 202, nodeOpIdeal = 1100 * T / 202 / 1e18 = 382
//	minipool ETH = 382 * 0.34/0.695 = 186, 382 * 0.355/0.695 = 195
//	raw bonuses 1e18 * 0.07 * 24/32 = 0.0525e18 and 1e18 * 0.04 * 24/32 = 0.03e18
//	remaining = SP + PVS - 381 = 819 (no voters: PVS is available for bonuses)
//	bonuses 0.0525e18 * 819 / 0.0825e18 = 521, 0.03e18 * 819 / 0.0825e18 = 297
//	nodes 186 + 521 = 707, 195 + 297 = 492
func TestReferenceInsufficientEthForBonusesV11(t *testing.T) {
	const genesis = 1577836800
	s := &Snapshot{
		Version: SnapshotVersion, Network: "devnet", ChainID: 1337, GenesisTime: genesis, SecondsPerSlot: 12, SlotsPerEpoch: 32,
		Index: 40000, IntervalsPassed: 1, IntervalTime: 100 * 32 * 12,
		ConsensusStartSlot: 3200, SnapshotSlot: 201*32 - 1, ConsensusStartBlock: 3200, ConsensusEndBlock: 201*32 - 1,
		PendingRPL: ether(70000), NodePerc: perc(70), TrustedNodePerc: NewWei(big.NewInt(15e15)), ProtocolDAOPerc: NewWei(big.NewInt(285e15)),
		RPLPrice: NewWei(big.NewInt(24e16)), SmoothingPoolBalance: NewWei(big.NewInt(1100)), PendingVoterShare: NewWei(big.NewInt(100)),
	}
	s.ELStartTime, s.ELEndTime = s.SlotTime(3200), s.SlotTime(201*32-1)
	optIn := s.SlotTime(99 * 32)
	one, two := addr(0x07, 0xd1), addr(0x07, 0xd2)
	s.Nodes = []Node{
		{Address: one, RegistrationTime: genesis, SmoothingPoolRegistered: true, SmoothingPoolChangeTime: optIn, LegacyStakedRPL: ether(5)},
		{Address: two, RegistrationTime: genesis, SmoothingPoolRegistered: true, SmoothingPoolChangeTime: optIn, LegacyStakedRPL: ether(20)},
		{Address: addr(0x07, 0xd3), RegistrationTime: genesis},
		{Address: addr(0x07, 0xd4), RegistrationTime: genesis},
	}
	s.OracleDAO = []ODAOMember{{Address: addr(0x07, 0xd3), JoinedTime: genesis}, {Address: addr(0x07, 0xd4), JoinedTime: genesis}}
	for i, n := range []struct {
		node Address
		fee  int64
	}{{one, 5}, {two, 10}} {
		key := pk(0x09, byte(i+1))
		s.Minipools = append(s.Minipools, Minipool{Address: addr(0x75, 0x31, byte(i)), Pubkey: key, Node: n.node, Status: MinipoolStaking,
			StatusTime: genesis, NodeFee: perc(n.fee), NodeDepositBalance: ether(8), UserDepositBalance: ether(24)})
		s.Validators = append(s.Validators, BeaconValidator{Pubkey: key, Index: uint64(i + 1), Status: "active_ongoing",
			ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
	}
	b := newBuilder(s)
	for v := uint64(1); v <= 2; v++ {
		for e := uint64(100); e <= 200; e++ {
			slot := e*32 + v
			if err := b.AddDuty(v, slot, slot+1); err != nil {
				t.Fatal(err)
			}
		}
		b.AddWithdrawal(Withdrawal{Slot: 201*32 - 1, ValidatorIndex: v, AmountGwei: 1e9})
	}
	r := mustCompute(t, s, b.Build())
	wantInt(t, "node one ETH", nodeOf(t, r, one).SmoothingPoolETH, "707")
	wantInt(t, "node two ETH", nodeOf(t, r, two).SmoothingPoolETH, "492")
	wantInt(t, "bonus one", mpPerf(t, r, addr(0x75, 0x31, 0)).BonusEthEarned, "521")
	wantInt(t, "bonus two", mpPerf(t, r, addr(0x75, 0x31, 1)).BonusEthEarned, "297")
	// Everything else goes to rETH: 1100 + 100 - 707 - 492 = 1.
	wantInt(t, "rETH", r.Totals.PoolStakerSmoothingPoolETH, "1")
}

// TestReferenceNoRPLRewardsV11 ports TestMockNoRPLRewardsV11 (rewards-rules
// §10): nodes without RPL get no collateral RPL (total weight 0: the v11 pDAO
// takes its share plus the whole collateral pot), and an opted-in node's
// 5 %-fee 8-ETH minipools, boosted to 10 % at pct 0, earn a bonus of
// 1 ETH * (0.10 - 0.05) * 24/32 = 0.0375 ETH each with effective commission 10 %.
func TestReferenceNoRPLRewardsV11(t *testing.T) {
	s := baseSnapshot("devnet", 40000)
	s.RPLPrice, s.SmoothingPoolBalance = NewWei(big.NewInt(24e16)), ether(100)
	s.ChainID = 1337
	one, two := addr(0x07, 0xe1), addr(0x07, 0xe2)
	n1 := addNode(s, one, 0)
	n1.SmoothingPoolRegistered, n1.SmoothingPoolChangeTime = false, 0
	addNode(s, two, 0)
	addMinipool(s, addr(0x75, 0x40), one, pk(0x40), 1, 8, 5)
	addMinipool(s, addr(0x75, 0x41), two, pk(0x41), 2, 8, 5)
	addMinipool(s, addr(0x75, 0x42), two, pk(0x42), 3, 8, 5)
	b := newBuilder(s)
	for v := uint64(1); v <= 3; v++ {
		fullDuties(t, b, v, v)
		b.AddWithdrawal(Withdrawal{Slot: fxEnd, ValidatorIndex: v, AmountGwei: 1e9})
	}
	r := mustCompute(t, s, b.Build())
	wantInt(t, "collateral RPL paid", r.Totals.TotalCollateralRPL, "0")
	// pDAO = 285e18 + 700e18 (pending 1000 RPL; no oDAO members here)
	wantInt(t, "pDAO RPL", r.Totals.ProtocolDAORPL, "985000000000000000000")
	for _, a := range []Address{addr(0x75, 0x41), addr(0x75, 0x42)} {
		p := mpPerf(t, r, a)
		wantInt(t, "bonus", p.BonusEthEarned, "37500000000000000")
		wantInt(t, "effective commission", p.EffectiveCommission, "100000000000000000")
	}
	if hasNode(r, one) {
		t.Errorf("never-opted-in node without RPL got an entry")
	}
}
