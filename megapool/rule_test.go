package megapool

import (
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
)

// Boundary of duties §5.3: on time ⇔ proofEpoch ≤ W − threshold. The contract tests say W = now + 112 → no
// fine, W = now + 111 → fine (threshold 112).
func TestOverdueBoundary(t *testing.T) {
	const th = 112
	cases := []struct {
		w, now uint64
		want   bool
	}{
		{w: 1000 + 112, now: 1000, want: false}, // W − th = 1000 = now: on time
		{w: 1000 + 111, now: 1000, want: true},  // W − th = 999 < now: late
		{w: 1000 + 113, now: 1000, want: false},
		{w: FarFutureEpoch, now: 1 << 40, want: false},
		{w: 100, now: 0, want: true}, // W < th: W − th reverts on chain, never on time
		{w: 112, now: 0, want: false},
		{w: 112, now: 1, want: true},
	}
	for _, c := range cases {
		if got := Overdue(c.w, c.now, th); got != c.want {
			t.Errorf("Overdue(W=%d, now=%d, %d) = %v, want %v", c.w, c.now, th, got, c.want)
		}
	}
}

func pk(i byte) phase0.BLSPubKey {
	var k phase0.BLSPubKey
	k[47] = i
	return k
}

func TestSelectFlagsAndOrder(t *testing.T) {
	mpA, mpB := common.HexToAddress("0xa"), common.HexToAddress("0xb")
	staked := Info{Staked: true}
	vals := []Validator{
		{GlobalIndex: 5, Pubkey: pk(5), Megapool: mpB, ID: 1, Info: staked},
		{GlobalIndex: 1, Pubkey: pk(1), Megapool: mpA, ID: 0, Info: staked},
		{GlobalIndex: 2, Pubkey: pk(2), Megapool: mpA, ID: 1, Info: Info{Staked: true, Exiting: true}},
		{GlobalIndex: 3, Pubkey: pk(3), Megapool: mpA, ID: 2, Info: Info{Staked: true, Locked: true}},
		{GlobalIndex: 4, Pubkey: pk(4), Megapool: mpB, ID: 0, Info: Info{Staked: true, Exited: true}},
		{GlobalIndex: 6, Pubkey: pk(6), Megapool: mpB, ID: 2, Info: Info{InPrestake: true}},
		{GlobalIndex: 7, Pubkey: pk(7), Megapool: mpB, ID: 3, Info: staked}, // no beacon status
		{GlobalIndex: 8, Pubkey: pk(8), Megapool: mpB, ID: 4, Info: staked}, // not exiting
		{GlobalIndex: 9, Pubkey: pk(9), Megapool: mpB, ID: 5, Info: staked}, // exactly at the boundary
	}
	st := map[phase0.BLSPubKey]Status{}
	for i := byte(1); i <= 6; i++ {
		st[pk(i)] = Status{WithdrawableEpoch: 150}
	}
	st[pk(8)] = Status{WithdrawableEpoch: FarFutureEpoch}
	st[pk(9)] = Status{WithdrawableEpoch: 200 + 112} // 312 − 112 = 200 = now: on time
	got := Select(vals, st, 200, 112)
	if len(got) != 2 || got[0].GlobalIndex != 1 || got[1].GlobalIndex != 5 {
		t.Fatalf("selected %+v, want global indices 1 and 5", got)
	}
}

func TestBatches(t *testing.T) {
	mp := []common.Address{common.HexToAddress("0x1"), common.HexToAddress("0x2"), common.HexToAddress("0x3")}
	var sel []Validator
	for i := 0; i < 120; i++ {
		sel = append(sel, Validator{GlobalIndex: uint64(i), Megapool: mp[i%3], ID: uint32(i / 3)})
	}
	bs := Batches(sel, 0)
	// 120 = 50 + 50 + 20
	if len(bs) != 3 || bs[0].Size() != 50 || bs[1].Size() != 50 || bs[2].Size() != 20 {
		t.Fatalf("batch sizes wrong: %d batches", len(bs))
	}
	// First batch: global 0..49; megapool order by first appearance 0x1, 0x2, 0x3; 0x1 holds 0,3,…,48 → 17 ids.
	b := bs[0]
	if len(b.Challenges) != 3 || b.Challenges[0].Megapool != mp[0] || len(b.Challenges[0].IDs) != 17 || b.Challenges[0].IDs[16] != 16 {
		t.Fatalf("first batch grouping wrong: %+v", b.Challenges)
	}
	if _, err := EncodeChallenge(b); err != nil {
		t.Fatal(err)
	}
	if got := Batches(sel, 80); len(got) != 3 {
		t.Fatalf("a batch size above the contract's 50 must be capped: %d batches", len(got))
	}
	for p := 0; p < 3; p++ {
		got, ok := BatchFor(bs, p, 3)
		if !ok || got.Validators[0].GlobalIndex != uint64(50*p) {
			t.Fatalf("member %d takes batch starting at %d", p, got.Validators[0].GlobalIndex)
		}
	}
	if _, ok := BatchFor(nil, 0, 3); ok {
		t.Fatal("no batch expected")
	}
}

// BenchmarkSelect: selection and batching over 100 000 megapool validators, 1 % overdue.
func BenchmarkSelect(b *testing.B) {
	const n = 100_000
	vals := make([]Validator, n)
	st := make(map[phase0.BLSPubKey]Status, n)
	for i := range vals {
		var k phase0.BLSPubKey
		k[44], k[45], k[46], k[47] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		vals[i] = Validator{GlobalIndex: uint64(n - i), Pubkey: k, Megapool: common.BigToAddress(common.Big1), ID: uint32(i), Info: Info{Staked: true}}
		w := FarFutureEpoch
		if i%100 == 0 {
			w = 150
		}
		st[k] = Status{WithdrawableEpoch: w}
	}
	b.ResetTimer()
	for b.Loop() {
		sel := Select(vals, st, 200, 112)
		if len(Batches(sel, 0)) != 20 {
			b.Fatal("want 20 batches of 50")
		}
	}
}
