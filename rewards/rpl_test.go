package rewards

import (
	"math/big"
	"testing"
)

// Pots in every fixture: pending 1000 RPL; collateral 70 % = 700 RPL;
// oDAO 1.5 % = 15 RPL; pDAO expected 28.5 % = 285 RPL.

func TestRegistrationAgeProration(t *testing.T) {
	s := baseSnapshot("mainnet", 30) // v10
	a, b := addr(0xa), addr(0xb)
	addNode(s, a, 100)
	nb := addNode(s, b, 100)
	// B registered half an interval before the snapshot block's slot time.
	nb.RegistrationTime = fxSlotTime(fxEnd) - fxInterval/2
	addMinipool(s, addr(0xa1), a, pk(1), 1, 8, 10)
	addMinipool(s, addr(0xb1), b, pk(2), 2, 8, 10)
	r := mustCompute(t, s, newBuilder(s).Build())
	// Both: 100 RPL * 0.01 = 1 ETH staked, borrowed 24 ETH, pct 4.17 % → weight 100e18.
	// B prorated: 100e18 * 1209600 / 2419200 = 50e18. Total 150e18.
	// A: 700e18 * 100e18 / 150e18 = 466666666666666666666 (…666.67 truncated)
	// B: 700e18 *  50e18 / 150e18 = 233333333333333333333
	wantInt(t, "A weight", nodeOf(t, r, a).Weight, "100000000000000000000")
	wantInt(t, "B weight", nodeOf(t, r, b).Weight, "50000000000000000000")
	wantInt(t, "A collateral", nodeOf(t, r, a).CollateralRPL, "466666666666666666666")
	wantInt(t, "B collateral", nodeOf(t, r, b).CollateralRPL, "233333333333333333333")
	wantInt(t, "total weight", r.Totals.TotalNodeWeight, "150000000000000000000")
	// pDAO absorbs the 1 wei of truncation: 1000e18 - 699999999999999999999
	wantInt(t, "pDAO", r.Totals.ProtocolDAORPL, "300000000000000000001")
}

func odaoSnapshot(index uint64) (*Snapshot, [3]Address) {
	s := baseSnapshot("mainnet", index)
	m := [3]Address{addr(0x01), addr(0x02), addr(0x03)}
	for _, a := range m {
		addNode(s, a, 0)
	}
	s.OracleDAO = []ODAOMember{
		{Address: m[0], JoinedTime: 5},                          // full interval
		{Address: m[1], JoinedTime: s.ELEndTime - fxInterval/2}, // half
		{Address: m[2], JoinedTime: s.ELEndTime},                // 0 seconds
	}
	return s, m
}

func TestODAOProrationAndPDAOBug(t *testing.T) {
	// Participation: I, I/2, 0 → Σ = 1.5 I. oDAO pot 15e18:
	// m0: 15e18 * I / 1.5I = 10e18; m1: 5e18; m2: 0 (entry kept, Q10).
	// No node has weight (no minipools), so:
	//   v10 (bug kept):  pDAO = 285e18 + 700e18 - 15e18 = 970e18
	//   v11 (fixed):     pDAO = 285e18 + 700e18         = 985e18
	//   v8 (remainder):  pDAO = 1000e18 - 0 - 15e18     = 985e18
	for _, c := range []struct {
		index uint64
		pdao  string
	}{{30, "970000000000000000000"}, {51, "985000000000000000000"}, {20, "985000000000000000000"}} {
		s, m := odaoSnapshot(c.index)
		r := mustCompute(t, s, newBuilder(s).Build())
		wantInt(t, "m0", nodeOf(t, r, m[0]).OracleDAORPL, "10000000000000000000")
		wantInt(t, "m1", nodeOf(t, r, m[1]).OracleDAORPL, "5000000000000000000")
		wantInt(t, "m2", nodeOf(t, r, m[2]).OracleDAORPL, "0")
		wantInt(t, "pDAO", r.Totals.ProtocolDAORPL, c.pdao)
	}
}

func TestQ10ZeroODAOEntry(t *testing.T) {
	s, m := odaoSnapshot(51)
	r := mustCompute(t, s, newBuilder(s).Build())
	n := nodeOf(t, r, m[2])
	if !n.IsODAO || n.OracleDAORPL.Sign() != 0 || n.CollateralRPL.Sign() != 0 || n.SmoothingPoolETH.Sign() != 0 {
		t.Errorf("oDAO member with 0 participation: want an all-zero entry, got %+v", n)
	}
}

func TestV8PhaseInBlend(t *testing.T) {
	s := baseSnapshot("mainnet", 20) // v8, C = 20 - 18 + 1 = 3
	s.MinimumPerMinipoolStake = perc(10)
	a, b, c := addr(0xa), addr(0xb), addr(0xc)
	addNode(s, a, 300)
	addNode(s, b, 464)
	addNode(s, c, 100)
	addMinipool(s, addr(0xa1), a, pk(1), 1, 8, 10)
	addMinipool(s, addr(0xb1), b, pk(2), 2, 16, 10)
	addMinipool(s, addr(0xc1), c, pk(3), 3, 8, 10)
	r := mustCompute(t, s, newBuilder(s).Build())
	// A: 3 ETH staked / 24 borrowed = 12.5 % → weight 300e18; min 24*0.1/0.01 = 240 RPL ok;
	//    max 8*1.5/0.01 = 1200 RPL → eff 300 RPL.
	// B: 4.64 ETH / 16 = 29 % → ln(16e18) = 4e36/1442695040888963407 = 2772588722239781238
	//    weight = (13.6137e18 + 2*2772588722239781238) * 16 = 306542039111672999616; eff 464 RPL.
	// C: 100 RPL < min 240 RPL → weight 0, eff 0, nothing.
	// W = 606542039111672999616, E = 764e18.
	// A = 700e18*3*300e18/(W*6) + 700e18*3*300e18/(E*6) = 310547040554838756387
	// B = 700e18*3*wB/(W*6)    + 700e18*3*464e18/(E*6) = 389452959445161243611
	wantInt(t, "A", nodeOf(t, r, a).CollateralRPL, "310547040554838756387")
	wantInt(t, "B", nodeOf(t, r, b).CollateralRPL, "389452959445161243611")
	if hasNode(r, c) {
		t.Errorf("node under the minimum collateral got an entry")
	}
	wantInt(t, "pDAO", r.Totals.ProtocolDAORPL, "300000000000000000002") // 1000e18 - 699999999999999999998
	// v8 header times are the on-chain interval times.
	if r.StartTime != s.ClaimIntervalTimeStart || r.EndTime != s.ClaimIntervalTimeStart+fxInterval {
		t.Errorf("v8 times %d..%d, want claim interval times", r.StartTime, r.EndTime)
	}
}

func TestMinCollateralCliffOnlyV8V10(t *testing.T) {
	for _, c := range []struct {
		index uint64
		want  bool
	}{{30, false}, {51, true}} {
		s := baseSnapshot("mainnet", c.index)
		s.MinimumPerMinipoolStake = perc(10)
		addNode(s, addr(0xc), 100) // 100 RPL < 240 RPL minimum
		addMinipool(s, addr(0xc1), addr(0xc), pk(3), 3, 8, 10)
		r := mustCompute(t, s, newBuilder(s).Build())
		if hasNode(r, addr(0xc)) != c.want {
			t.Errorf("interval %d: entry = %v, want %v", c.index, !c.want, c.want)
		}
	}
}

func TestV11MegapoolBorrowedAndStake(t *testing.T) {
	m := &Megapool{UserCapital: ether(60), Validators: []MegapoolValidator{
		{ID: 0, Staked: true, LastRequestedValue: 32000, LastRequestedBond: 4000},
		{ID: 1, InPrestake: true, LastRequestedValue: 32000, LastRequestedBond: 4000},
	}}
	// 60 ETH - (32000 - 4000) milli-ETH = 60 - 28 = 32 ETH
	wantInt(t, "megapool borrowed", megapoolBorrowed(m), "32000000000000000000")

	s := baseSnapshot("mainnet", 51)
	a := addr(0xa)
	n := addNode(s, a, 100)
	n.MegapoolStakedRPL = ether(220)
	addMinipool(s, addr(0xa1), a, pk(1), 1, 8, 10)
	m.Address, m.Node = addr(0xaa), a
	m.Validators[0].Pubkey, m.Validators[1].Pubkey = pk(10), pk(11)
	s.Megapools = []Megapool{*m}
	r := mustCompute(t, s, newBuilder(s).Build())
	// stake 320 RPL = 3.2 ETH; borrowed 24 + 32 = 56 ETH → 5.7 % → weight 320e18 → the whole pot.
	wantInt(t, "weight", nodeOf(t, r, a).Weight, "320000000000000000000")
	wantInt(t, "collateral", nodeOf(t, r, a).CollateralRPL, "700000000000000000000")
}

func TestQ11EpsilonIgnoresMegapoolValidators(t *testing.T) {
	s := baseSnapshot("mainnet", 51)
	addNode(s, addr(1), 0)
	addNode(s, addr(2), 0)
	before := sanityEpsilon(s)
	s.Megapools = []Megapool{{Address: addr(0xaa), Node: addr(1)}}
	for i := 0; i < 10; i++ {
		s.Megapools[0].Validators = append(s.Megapools[0].Validators, MegapoolValidator{ID: uint64(i), Pubkey: pk(byte(i + 1)), Staked: true})
	}
	if got := sanityEpsilon(s); got.Cmp(before) != 0 || got.Cmp(big.NewInt(2)) != 0 {
		t.Errorf("epsilon = %s, want 2 (max(#nodes, #minipools), no megapool term)", got)
	}
}
