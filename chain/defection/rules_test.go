package defection

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

var (
	sp   = common.HexToAddress("0x5500000000000000000000000000000000000005")
	reth = common.HexToAddress("0x7e00000000000000000000000000000000000007")
	dist = common.HexToAddress("0xd100000000000000000000000000000000000001")
	mpAd = common.HexToAddress("0x3e00000000000000000000000000000000000003")
	node = common.HexToAddress("0x0d00000000000000000000000000000000000000")
	bld  = common.HexToAddress("0xb1d0000000000000000000000000000000000000")
)

// Timing: genesis 1000, 12 s slots, 32-slot epochs. Slot 100 is in epoch 3; the previous epoch (2) starts at
// slot 64, i.e. 1000 + 64 × 12 = 1768.
var tm = Timing{GenesisTime: 1000, SecondsPerSlot: 12, SlotsPerEpoch: 32}

func TestPreviousEpochStart(t *testing.T) {
	if got := tm.PreviousEpochStart(100); got != 1768 {
		t.Fatalf("previous epoch start %d, want 1768", got)
	}
	if got := tm.PreviousEpochStart(5); got != 1000 {
		t.Fatalf("epoch 0: %d, want genesis 1000", got)
	}
}

func TestExpectAndClassify(t *testing.T) {
	a := Addresses{SmoothingPool: sp, RETH: reth}
	mini := ProtocolValidator{Kind: KindMinipool, Node: node}
	mega := ProtocolValidator{Kind: KindMegapool, Node: node, Megapool: mpAd}
	pay := func(from, to common.Address, wei int64) *Payment {
		return &Payment{From: from, To: to, Value: big.NewInt(wei)}
	}
	cases := []struct {
		name     string
		v        ProtocolValidator
		ns       NodeState
		actual   common.Address
		last     *Payment
		expected common.Address
		want     Verdict
	}{
		{"opted-in pays SP", mini, NodeState{OptedIn: true, ChangedTime: 10, Distributor: dist}, sp, nil, sp, Legal},
		{"rETH always legal", mini, NodeState{OptedIn: true, ChangedTime: 10, Distributor: dist}, reth, nil, sp, Legal},
		{"opted-in MEV builder pays SP in last tx", mini, NodeState{OptedIn: true, Distributor: dist}, bld, pay(bld, sp, 5), sp, LegalMEV},
		{"opted-in defector pays itself", mini, NodeState{OptedIn: true, Distributor: dist}, node, nil, sp, Defection},
		{"opted-in MEV builder pays the node", mini, NodeState{OptedIn: true, Distributor: dist}, bld, pay(bld, node, 5), sp, Defection},
		{"last tx not from the fee recipient", mini, NodeState{OptedIn: true, Distributor: dist}, bld, pay(node, sp, 5), sp, Defection},
		{"zero-value payment is no payment", mini, NodeState{OptedIn: true, Distributor: dist}, bld, pay(bld, sp, 0), sp, Defection},
		{"opted-out minipool pays its distributor", mini, NodeState{OptedIn: false, ChangedTime: 10, Distributor: dist}, dist, nil, dist, Legal},
		{"opted-out megapool pays its megapool", mega, NodeState{OptedIn: false, ChangedTime: 10, Distributor: dist}, mpAd, nil, mpAd, Legal},
		{"opted-out megapool paying the distributor is wrong", mega, NodeState{OptedIn: false, ChangedTime: 10, Distributor: dist}, dist, nil, mpAd, Defection},
		{"opted-out MEV pays distributor", mini, NodeState{OptedIn: false, Distributor: dist}, bld, pay(bld, dist, 5), dist, LegalMEV},
		// Opted out at 1769 > 1768 (after the previous epoch started): still owes the SP.
		{"fresh opt-out pays distributor", mini, NodeState{OptedIn: false, ChangedTime: 1769, Distributor: dist}, dist, nil, sp, Defection},
		{"fresh opt-out pays SP", mini, NodeState{OptedIn: false, ChangedTime: 1769, Distributor: dist}, sp, nil, sp, Legal},
		// Opted out exactly at 1768: not after the start, so the opt-out counts.
		{"opt-out at the previous epoch's start", mini, NodeState{OptedIn: false, ChangedTime: 1768, Distributor: dist}, dist, nil, dist, Legal},
		// Opted in at 1769: the old recipient is still tolerated.
		{"fresh opt-in pays old recipient", mini, NodeState{OptedIn: true, ChangedTime: 1769, Distributor: dist}, dist, nil, sp, Legal},
		{"older opt-in pays old recipient", mini, NodeState{OptedIn: true, ChangedTime: 1768, Distributor: dist}, dist, nil, sp, Defection},
	}
	for _, c := range cases {
		e := Expect(c.v, c.ns, 100, tm, a)
		if e.Expected != c.expected {
			t.Errorf("%s: expected recipient %s, want %s", c.name, e.Expected.Hex(), c.expected.Hex())
		}
		if got := Classify(e, c.actual, c.last); got != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, got, c.want)
		}
	}
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	if _, err := NewRegistry([]ProtocolValidator{{Index: 1, Kind: KindMinipool}, {Index: 1, Kind: KindMegapool}}); err == nil {
		t.Fatal("duplicate index accepted")
	}
	if _, err := NewRegistry([]ProtocolValidator{{Index: 1, Kind: "x"}}); err == nil {
		t.Fatal("unknown kind accepted")
	}
}
