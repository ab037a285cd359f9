package rewards

import (
	"math/big"
	"testing"
)

// Test fixture: a tiny interval of 10 epochs (100..109, slots 3200..3519),
// genesis 1_600_000_000, 12-second slots, 28-day interval time.
const (
	fxGenesis  = 1_600_000_000
	fxStart    = 3200
	fxEnd      = 3519
	fxInterval = 28 * 24 * 3600
)

func fxSlotTime(slot uint64) uint64 { return fxGenesis + 12*slot }

func addr(b ...byte) Address {
	var a Address
	copy(a[20-len(b):], b)
	return a
}

func pk(b ...byte) Pubkey {
	var p Pubkey
	copy(p[48-len(b):], b)
	return p
}

func ether(x int64) Wei { return NewWei(new(big.Int).Mul(big.NewInt(x), eth1)) }

// milli returns x/1000 ETH in wei.
func milli(x int64) Wei { return NewWei(new(big.Int).Mul(big.NewInt(x), big.NewInt(1e15))) }

func perc(p int64) Wei { return NewWei(new(big.Int).Mul(big.NewInt(p), big.NewInt(1e16))) } // p %

func baseSnapshot(network string, index uint64) *Snapshot {
	return &Snapshot{
		Version: SnapshotVersion, Network: network, ChainID: 1,
		GenesisTime: fxGenesis, SecondsPerSlot: 12, SlotsPerEpoch: 32,
		Index: index, IntervalsPassed: 1, IntervalTime: fxInterval, ClaimIntervalTimeStart: fxSlotTime(fxStart) - 40,
		ConsensusStartSlot: fxStart, SnapshotSlot: fxEnd, ConsensusStartBlock: fxStart, ConsensusEndBlock: fxEnd,
		ExecutionStartBlock: 1000, ExecutionEndBlock: 1300, ELStartTime: fxSlotTime(fxStart), ELEndTime: fxSlotTime(fxEnd),
		PendingRPL: ether(1000), NodePerc: perc(70), TrustedNodePerc: NewWei(big.NewInt(15e15)), ProtocolDAOPerc: NewWei(big.NewInt(285e15)),
		RPLPrice:             NewWei(big.NewInt(1e16)), // 0.01 ETH per RPL
		SmoothingPoolBalance: ether(10),
	}
}

// addNode adds a node registered long ago and opted into the SP long ago.
func addNode(s *Snapshot, a Address, legacyRPL int64) *Node {
	s.Nodes = append(s.Nodes, Node{Address: a, RegistrationTime: 1, SmoothingPoolRegistered: true, SmoothingPoolChangeTime: 1,
		LegacyStakedRPL: ether(legacyRPL)})
	return &s.Nodes[len(s.Nodes)-1]
}

// addMinipool adds a staking minipool with an active beacon validator at
// beacon index idx.
func addMinipool(s *Snapshot, a Address, node Address, key Pubkey, idx uint64, bondEth, feePerc int64) *Minipool {
	s.Minipools = append(s.Minipools, Minipool{Address: a, Pubkey: key, Node: node, Status: MinipoolStaking, StatusTime: 1,
		NodeFee: perc(feePerc), NodeDepositBalance: ether(bondEth), UserDepositBalance: ether(32 - bondEth)})
	s.Validators = append(s.Validators, BeaconValidator{Pubkey: key, Index: idx, Status: "active_ongoing",
		ActivationEpoch: 1, ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
	return &s.Minipools[len(s.Minipools)-1]
}

// fullDuties gives validator idx one duty per epoch at slot offset `off`,
// included one slot later, for all 10 epochs.
func fullDuties(t testing.TB, b *DutyRecordBuilder, idx uint64, off uint64) {
	t.Helper()
	for e := uint64(100); e < 110; e++ {
		s := e*32 + off
		if err := b.AddDuty(idx, s, s+1); err != nil {
			t.Fatal(err)
		}
	}
}

func newBuilder(s *Snapshot) *DutyRecordBuilder {
	return NewDutyRecordBuilder(s.Index, s.ConsensusStartBlock, s.ConsensusEndBlock)
}

func mustCompute(t testing.TB, s *Snapshot, d *DutyRecord, opts ...Option) *Result {
	t.Helper()
	r, err := Compute(s, d, opts...)
	if err != nil {
		t.Fatalf("compute: %v", err)
	}
	return r
}

func nodeOf(t testing.TB, r *Result, a Address) NodeReward {
	t.Helper()
	for _, n := range r.Nodes {
		if n.Address == a {
			return n
		}
	}
	t.Fatalf("node %s has no entry", a)
	return NodeReward{}
}

func hasNode(r *Result, a Address) bool {
	for _, n := range r.Nodes {
		if n.Address == a {
			return true
		}
	}
	return false
}

func mpPerf(t testing.TB, r *Result, a Address) MinipoolPerformance {
	t.Helper()
	for _, m := range r.Minipools {
		if m.Address == a {
			return m
		}
	}
	t.Fatalf("minipool %s has no performance entry", a)
	return MinipoolPerformance{}
}

func wantInt(t testing.TB, what string, got *big.Int, want string) {
	t.Helper()
	w, ok := new(big.Int).SetString(want, 10)
	if !ok {
		t.Fatalf("bad want %q", want)
	}
	if got == nil || got.Cmp(w) != 0 {
		t.Errorf("%s = %v, want %s", what, got, want)
	}
}
