package rewards

import (
	"bytes"
	"math/big"
	"math/rand"
	"reflect"
	"testing"
)

// genCase builds a random but well-formed snapshot and duty record.
func genCase(rng *rand.Rand) (*Snapshot, *DutyRecord) {
	indexes := []uint64{20, 22, 29, 30, 38, 45, 46, 49, 50, 51, 60}
	s := baseSnapshot("mainnet", indexes[rng.Intn(len(indexes))])
	switch rng.Intn(4) {
	case 0:
		s.SmoothingPoolBalance = NewWei(big.NewInt(rng.Int63n(5000))) // tiny: bonuses get scaled
	case 1:
		s.SmoothingPoolBalance = ether(0)
	default:
		s.SmoothingPoolBalance = NewWei(new(big.Int).Mul(big.NewInt(rng.Int63n(1e6)+1), big.NewInt(1e14)))
	}
	s.PendingRPL = NewWei(new(big.Int).Add(new(big.Int).Mul(big.NewInt(rng.Int63n(1e6)+1), big.NewInt(1e15)), big.NewInt(rng.Int63n(1000))))
	s.RPLPrice = NewWei(big.NewInt(rng.Int63n(5e16) + 1e15))
	s.PendingVoterShare = NewWei(big.NewInt(rng.Int63n(2e18)))
	s.NodeShare, s.VoterShare, s.ProtocolDAOShare = perc(int64(rng.Intn(10))), perc(int64(rng.Intn(10))), perc(int64(rng.Intn(6)))
	if rng.Intn(3) == 0 {
		s.MinimumPerMinipoolStake = perc(10)
	}
	s.EnabledNetworks = []uint64{1}
	nNodes := rng.Intn(25) + 1
	var nextIdx uint64 = 1
	pkN := 0
	newPK := func() Pubkey {
		pkN++
		return pk(byte(pkN>>8), byte(pkN))
	}
	beacon := func(key Pubkey) (uint64, bool) {
		if rng.Intn(12) == 0 {
			return 0, false // unknown to the beacon chain
		}
		v := BeaconValidator{Pubkey: key, Index: nextIdx, Status: "active_ongoing", ActivationEpoch: uint64(rng.Intn(105)), ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch}
		switch rng.Intn(8) {
		case 0:
			v.Status, v.ActivationEpoch = "pending_queued", FarFutureEpoch
		case 1:
			v.Status, v.ExitEpoch, v.WithdrawableEpoch = "exited_unslashed", uint64(98+rng.Intn(12)), uint64(100+rng.Intn(12))
		}
		nextIdx++
		s.Validators = append(s.Validators, v)
		return v.Index, true
	}
	var indices []uint64
	for i := 0; i < nNodes; i++ {
		a := addr(byte(i>>8), byte(i), 0x77)
		n := Node{Address: a, RegistrationTime: uint64(rng.Int63n(int64(fxSlotTime(fxEnd)))), RewardNetwork: uint64(rng.Intn(3)),
			LegacyStakedRPL: NewWei(new(big.Int).Mul(big.NewInt(rng.Int63n(5000)), eth1))}
		switch rng.Intn(4) {
		case 0:
			n.SmoothingPoolRegistered, n.SmoothingPoolChangeTime = true, fxSlotTime(uint64(3200+rng.Intn(320)))
		case 1:
			n.SmoothingPoolChangeTime = fxSlotTime(uint64(3200 + rng.Intn(320)))
		case 2:
			n.SmoothingPoolRegistered, n.SmoothingPoolChangeTime = true, 1
		}
		s.Nodes = append(s.Nodes, n)
		for j := rng.Intn(4); j > 0; j-- {
			bond := int64(8)
			if rng.Intn(2) == 0 {
				bond = 16
			}
			key := newPK()
			mp := Minipool{Address: addr(byte(i), byte(j), byte(pkN), 0x55), Pubkey: key, Node: a, Status: MinipoolStaking,
				StatusTime: fxSlotTime(uint64(3000 + rng.Intn(400))), NodeFee: perc(int64(5 + rng.Intn(16))),
				NodeDepositBalance: ether(bond), UserDepositBalance: ether(32 - bond)}
			if rng.Intn(10) == 0 {
				mp.Status = MinipoolWithdrawable
			}
			if rng.Intn(15) == 0 {
				mp.PenaltyCount = uint64(rng.Intn(5))
			}
			if bond == 8 && rng.Intn(4) == 0 {
				mp.LastBondReductionTime = fxSlotTime(uint64(3100 + rng.Intn(500)))
				mp.LastBondReductionPrevValue, mp.LastBondReductionPrevNodeFee = ether(16), perc(int64(rng.Intn(15)))
			}
			s.Minipools = append(s.Minipools, mp)
			if idx, ok := beacon(key); ok {
				indices = append(indices, idx)
			}
		}
		if rng.Intn(3) == 0 {
			s.Nodes[len(s.Nodes)-1].MegapoolStakedRPL = NewWei(new(big.Int).Mul(big.NewInt(rng.Int63n(3000)), eth1))
			s.Nodes[len(s.Nodes)-1].MegapoolETHBonded = ether(int64(rng.Intn(20)))
			m := Megapool{Address: addr(byte(i), 0x99), Node: a, NodeBond: ether(int64(4 * rng.Intn(5))), UserCapital: ether(int64(28 * rng.Intn(5))),
				ActiveValidatorCount: uint64(rng.Intn(6))}
			for j := rng.Intn(5); j > 0; j-- {
				key := newPK()
				v := MegapoolValidator{Pubkey: key, ID: uint64(j), LastRequestedValue: 32000, LastRequestedBond: 4000}
				switch rng.Intn(5) {
				case 0:
					v.InPrestake = true
				case 1:
					v.Staked, v.Exited = true, true
				case 2:
				default:
					v.Staked = true
				}
				m.Validators = append(m.Validators, v)
				if idx, ok := beacon(key); ok {
					indices = append(indices, idx)
				}
			}
			s.Megapools = append(s.Megapools, m)
		}
	}
	for i := 0; i < nNodes && i < 4; i++ {
		if rng.Intn(2) == 0 {
			s.OracleDAO = append(s.OracleDAO, ODAOMember{Address: s.Nodes[i].Address, JoinedTime: s.ELEndTime - uint64(rng.Int63n(2*fxInterval))})
		}
	}
	b := newBuilder(s)
	for _, idx := range indices {
		for e := uint64(100); e < 110; e++ {
			if rng.Intn(10) == 0 {
				continue
			}
			slot := e*32 + uint64(rng.Intn(32))
			var incl uint64
			switch rng.Intn(6) {
			case 0:
			case 1:
				incl = slot + 33 + uint64(rng.Intn(20))
			default:
				incl = slot + 1 + uint64(rng.Intn(3))
			}
			if err := b.AddDuty(idx, slot, incl); err != nil {
				panic(err)
			}
		}
		for k := rng.Intn(3); k > 0; k-- {
			b.AddWithdrawal(Withdrawal{Slot: uint64(3200 + rng.Intn(360)), ValidatorIndex: idx, AmountGwei: uint64(rng.Int63n(40e9))})
		}
	}
	return s, b.Build()
}

// shuffled returns copies of s and d with every list in a random order.
func shuffled(rng *rand.Rand, s *Snapshot, d *DutyRecord) (*Snapshot, *DutyRecord) {
	c := *s
	c.Nodes = append([]Node(nil), s.Nodes...)
	c.Minipools = append([]Minipool(nil), s.Minipools...)
	c.Megapools = append([]Megapool(nil), s.Megapools...)
	c.Validators = append([]BeaconValidator(nil), s.Validators...)
	c.OracleDAO = append([]ODAOMember(nil), s.OracleDAO...)
	rng.Shuffle(len(c.Nodes), func(i, j int) { c.Nodes[i], c.Nodes[j] = c.Nodes[j], c.Nodes[i] })
	rng.Shuffle(len(c.Minipools), func(i, j int) { c.Minipools[i], c.Minipools[j] = c.Minipools[j], c.Minipools[i] })
	rng.Shuffle(len(c.Megapools), func(i, j int) { c.Megapools[i], c.Megapools[j] = c.Megapools[j], c.Megapools[i] })
	for i := range c.Megapools {
		v := append([]MegapoolValidator(nil), c.Megapools[i].Validators...)
		rng.Shuffle(len(v), func(a, b int) { v[a], v[b] = v[b], v[a] })
		c.Megapools[i].Validators = v
	}
	rng.Shuffle(len(c.Validators), func(i, j int) { c.Validators[i], c.Validators[j] = c.Validators[j], c.Validators[i] })
	rng.Shuffle(len(c.OracleDAO), func(i, j int) { c.OracleDAO[i], c.OracleDAO[j] = c.OracleDAO[j], c.OracleDAO[i] })
	e := *d
	e.Validators = append([]ValidatorDuties(nil), d.Validators...)
	e.Withdrawals = append([]Withdrawal(nil), d.Withdrawals...)
	rng.Shuffle(len(e.Validators), func(i, j int) { e.Validators[i], e.Validators[j] = e.Validators[j], e.Validators[i] })
	rng.Shuffle(len(e.Withdrawals), func(i, j int) { e.Withdrawals[i], e.Withdrawals[j] = e.Withdrawals[j], e.Withdrawals[i] })
	return &c, &e
}

// TestPropertyRandomSnapshots computes many random intervals under every
// ruleset. Compute checks the invariants itself (CheckInvariants); on top,
// the same inputs in another order must give an identical Result and digest.
func TestPropertyRandomSnapshots(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	n := 400
	if testing.Short() {
		n = 60
	}
	var scaled, paid, voters, rulesets = 0, 0, 0, map[int]int{}
	for i := 0; i < n; i++ {
		s, d := genCase(rng)
		r, err := Compute(s, d)
		if err != nil {
			t.Fatalf("case %d (interval %d): %v", i, s.Index, err)
		}
		rulesets[r.Ruleset]++
		if r.BonusScalar.Cmp(eth1) != 0 {
			scaled++
		}
		if r.Totals.NodeOperatorSmoothingPoolETH.Sign() > 0 {
			paid++
		}
		if r.Totals.TotalVoterShareETH.Sign() > 0 {
			voters++
		}
		if err := CheckInvariants(s, r); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		s2, d2 := shuffled(rng, s, d)
		r2, err := Compute(s2, d2)
		if err != nil {
			t.Fatalf("case %d shuffled: %v", i, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("case %d: shuffled inputs gave a different result", i)
		}
		d1, _ := s.Digest()
		dd2, _ := s2.Digest()
		if d1 != dd2 {
			t.Fatalf("case %d: snapshot digest depends on list order", i)
		}
		x1, _ := d.Digest()
		x2, _ := d2.Digest()
		if x1 != x2 {
			t.Fatalf("case %d: duty record digest depends on list order", i)
		}
		// Σ RPL ≤ pending (also inside CheckInvariants; asserted here directly).
		sum := new(big.Int).Add(r.Totals.ProtocolDAORPL, r.Totals.TotalCollateralRPL)
		sum.Add(sum, r.Totals.TotalOracleDAORPL)
		if sum.Cmp(s.PendingRPL.Big()) > 0 {
			t.Fatalf("case %d: RPL paid %s > pending %s", i, sum, s.PendingRPL)
		}
	}
	// The generator must reach the interesting paths.
	t.Logf("rulesets %v, SP paid %d, bonuses scaled %d, voter shares %d", rulesets, paid, scaled, voters)
	if scaled == 0 || paid == 0 || voters == 0 || len(rulesets) != 3 {
		t.Errorf("generator coverage too thin: rulesets %v, paid %d, scaled %d, voters %d", rulesets, paid, scaled, voters)
	}
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	s, d := genCase(rng)
	b, err := s.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := DecodeSnapshot(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := s2.MarshalCanonical()
	if !bytes.Equal(b, b2) {
		t.Fatal("snapshot does not round-trip byte for byte")
	}
	db, _ := d.MarshalCanonical()
	d2, err := DecodeDutyRecord(bytes.NewReader(db))
	if err != nil {
		t.Fatal(err)
	}
	db2, _ := d2.MarshalCanonical()
	if !bytes.Equal(db, db2) {
		t.Fatal("duty record does not round-trip byte for byte")
	}
	r1 := mustCompute(t, s, d)
	r2 := mustCompute(t, s2, d2)
	if !reflect.DeepEqual(r1, r2) {
		t.Fatal("decoded inputs compute a different result")
	}
	// A change of one wei changes the digest.
	dg1, _ := s.Digest()
	s2.SmoothingPoolBalance = NewWei(new(big.Int).Add(s2.SmoothingPoolBalance.Big(), big.NewInt(1)))
	dg2, _ := s2.Digest()
	if dg1 == dg2 {
		t.Fatal("digest ignores the SP balance")
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field": `{"version":1,"bogus":1}`,
		"negative":      `{"version":1,"pendingRpl":"-1"}`,
		"number amount": `{"version":1,"pendingRpl":5}`,
		"bad address":   `{"version":1,"nodes":[{"address":"0x12"}]}`,
		"wrong version": `{"version":2}`,
		"bad network":   `{"version":1,"network":"x"}`,
		"not json":      `{`,
	} {
		if _, err := DecodeSnapshot(bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	for name, in := range map[string]string{
		"short duty array": `{"version":1,"startSlot":64,"endSlot":127,"firstEpoch":2,"validators":[{"index":1,"duties":"AA=="}]}`,
		"duplicate field":  `{"version":1,"version":1,"startSlot":64,"endSlot":127,"firstEpoch":2}`,
		"unknown field":    `{"version":1,"startSlot":64,"endSlot":127,"firstEpoch":2,"x":1}`,
		"unknown in elem":  `{"version":1,"startSlot":64,"endSlot":95,"firstEpoch":2,"validators":[{"index":1,"duties":"AA==","y":2}]}`,
		"trailing data":    `{"version":1,"startSlot":64,"endSlot":95,"firstEpoch":2} {}`,
		"bad duty byte":    `{"version":1,"startSlot":64,"endSlot":95,"firstEpoch":2,"validators":[{"index":1,"duties":"gA=="}]}`,
		"not an array":     `{"version":1,"startSlot":64,"endSlot":95,"firstEpoch":2,"validators":{}}`,
	} {
		if _, err := DecodeDutyRecord(bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("duty record %s: want an error", name)
		}
	}
	// One epoch (64..95), one validator with a duty at slot 64+3 included in
	// the window: byte 0x23 = offset 3 | class 1 << 5, base64 "Iw==".
	d, err := DecodeDutyRecord(bytes.NewReader([]byte(`{"version":1,"index":0,"startSlot":64,"endSlot":95,"firstEpoch":2,"validators":[{"index":7,"duties":"Iw=="}],"withdrawals":null}`)))
	if err != nil || len(d.Validators) != 1 || d.Validators[0].Duties[0] != EncodeDuty(3, InclusionInWindow) {
		t.Errorf("valid one-epoch record: %v %+v", err, d)
	}
}
