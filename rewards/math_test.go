package rewards

import (
	"math/big"
	"testing"
)

func TestLog2Exact(t *testing.T) {
	for _, c := range []struct{ x, want string }{
		{"1000000000000000000", "0"},                   // log2(1) = 0, y == 1e18 at once
		{"2000000000000000000", "1000000000000000000"}, // n = 1, y = 2e18>>1 = 1e18
		{"8000000000000000000", "3000000000000000000"}, // n = 3, y = 1e18
		{"1024000000000000000000", "10000000000000000000"},
	} {
		x, _ := new(big.Int).SetString(c.x, 10)
		got, err := Log2(x)
		if err != nil {
			t.Fatal(err)
		}
		wantInt(t, "log2("+c.x+")", got, c.want)
	}
	if _, err := Log2(big.NewInt(999999999999999999)); err == nil {
		t.Error("log2 below 1e18: want error")
	}
}

func TestLog2Approximates(t *testing.T) {
	// log2(3) = 1.584962500721156181453738943947816508759814407692481060455...
	// The 60-round algorithm is exact to ~2^-60 minus truncation in the
	// squarings; allow 100 wei.
	got, _ := Log2(big.NewInt(3e18))
	want, _ := new(big.Int).SetString("1584962500721156181", 10)
	if d := new(big.Int).Sub(got, want); d.CmpAbs(big.NewInt(100)) > 0 {
		t.Errorf("log2(3) = %s, want about %s", got, want)
	}
	// ln(2e18) = 1e18 * 1e18 / 1442695040888963407 = 693147180559945309.4… → …309
	ln, _ := Ln(big.NewInt(2e18))
	wantInt(t, "ln(2)", ln, "693147180559945309")
}

func TestNodeWeightKnee(t *testing.T) {
	price := big.NewInt(1e16) // 0.01 ETH/RPL
	borrowed := ether(24).Big()
	cases := []struct {
		name  string
		stake Wei
		want  string
	}{
		// 100 RPL = 1 ETH staked; pct = 1e18*100e18/24e18 = 4.17e18 <= 15e18 → 100 * 1e18
		{"below knee", ether(100), "100000000000000000000"},
		// 360 RPL = 3.6 ETH; pct = 3.6e18*100e18/24e18 = 15e18 exactly (<= knee) → 100 * 3.6e18
		{"at knee", ether(360), "360000000000000000000"},
		// 408 RPL = 4.08 ETH; pct = 17e18; ln(17e18-13e18) = ln(4e18):
		// log2(4e18) = 2e18 exactly, ln = 2e36/1442695040888963407 = 1386294361119890619
		// weight = (13.6137e18 + 2*1386294361119890619) * 24e18 / 1e18
		//        = 16386288722239781238 * 24 = 393270929333754749712
		{"above knee", ether(408), "393270929333754749712"},
	}
	for _, c := range cases {
		w, err := NodeWeight(c.stake.Big(), price, borrowed)
		if err != nil {
			t.Fatal(err)
		}
		wantInt(t, c.name, w, c.want)
	}
	w, _ := NodeWeight(ether(408).Big(), price, new(big.Int))
	wantInt(t, "no borrowed ETH", w, "0")
}

func TestFeeWithBonus(t *testing.T) {
	// pct 5e18 (5 % of borrowed): 10% + 4% * 5/10 = 12 % for an 8-ETH bond
	got := FeeWithBonus(ether(8).Big(), perc(5).Big(), ether(5).Big())
	wantInt(t, "8 ETH, 5 %", got, "120000000000000000")
	// pct capped at 10e18 → 14 %
	got = FeeWithBonus(ether(8).Big(), perc(5).Big(), ether(30).Big())
	wantInt(t, "8 ETH, 30 %", got, "140000000000000000")
	// a higher contract fee is kept
	got = FeeWithBonus(ether(8).Big(), perc(15).Big(), ether(30).Big())
	wantInt(t, "fee above boost", got, "150000000000000000")
	// 16-ETH bonds are never boosted
	got = FeeWithBonus(ether(16).Big(), perc(5).Big(), ether(30).Big())
	wantInt(t, "16 ETH", got, "50000000000000000")
}

func TestScores(t *testing.T) {
	// 8-ETH, 14 %: 0.14 + 0.86*8/32 = 0.14 + 0.215 = 0.355
	wantInt(t, "minipool score", MinipoolScore(ether(8).Big(), perc(14).Big()), "355000000000000000")
	// megapool b = 4 ETH, f = 5 %, v = 6 %, p = 4 %:
	// score = (1e18*4e18 + 32e18*0.05e18 - 0.05e18*4e18)/32e18 = (4 + 1.6 - 0.2)e36/32e18 = 0.16875e18
	// voter = 0.06*(32-4)/32 = 0.0525; pdao = 0.04*28/32 = 0.035
	sc, v, p := MegapoolScores(ether(4).Big(), perc(5).Big(), perc(6).Big(), perc(4).Big())
	wantInt(t, "megapool score", sc, "168750000000000000")
	wantInt(t, "voter score", v, "52500000000000000")
	wantInt(t, "pdao score", p, "35000000000000000")
}

// TestNeedsWithdrawals: v10 always reads withdrawals; v11 only inside the bonus
// window (mainnet 46–49, testnet 140–143, devnet always); v8 never.
func TestNeedsWithdrawals(t *testing.T) {
	for _, c := range []struct {
		network string
		index   uint64
		ruleset int
		want    bool
	}{
		{"mainnet", 30, RulesetV10, true}, {"mainnet", 29, RulesetV8, false},
		{"mainnet", 49, RulesetV11, true}, {"mainnet", 50, RulesetV11, false},
		{"testnet", 143, RulesetV11, true}, {"testnet", 144, RulesetV11, false},
		{"devnet", 1000, RulesetV11, true},
	} {
		if got := NeedsWithdrawals(c.network, c.index, c.ruleset); got != c.want {
			t.Errorf("%s %d v%d: got %v", c.network, c.index, c.ruleset, got)
		}
	}
}
