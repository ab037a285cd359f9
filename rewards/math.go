package rewards

import (
	"fmt"
	"math/big"
)

var (
	two18       = new(big.Int).Mul(big.NewInt(2), eth1)
	half18      = big.NewInt(5e17)
	log2E       = big.NewInt(1442695040888963407) // log2(e), 1e18-scaled
	pct100      = new(big.Int).Mul(big.NewInt(100), eth1)
	pct15       = new(big.Int).Mul(big.NewInt(15), eth1)
	pct13       = new(big.Int).Mul(big.NewInt(13), eth1)
	pct10       = new(big.Int).Mul(big.NewInt(10), eth1)
	weightConst = new(big.Int).SetUint64(13613700000000000000) // 13.6137e18
	fee10       = big.NewInt(1e17)                             // 10 %
	fee4        = big.NewInt(4e16)                             // 4 %
	fee14       = big.NewInt(14e16)                            // 14 %
	coll150     = big.NewInt(15e17)                            // 1.5e18
)

// Log2 is the fixed-point base-2 logarithm (1e18-scaled in and out) of the
// reference: integer part from the most significant bit of floor(x/1e18),
// then 60 rounds of squaring. x must be >= 1e18.
func Log2(x *big.Int) (*big.Int, error) {
	if x.Cmp(eth1) < 0 {
		return nil, fmt.Errorf("log2 of %s: argument below 1e18", x)
	}
	ip := new(big.Int).Quo(x, eth1)
	n := uint(ip.BitLen() - 1)
	out := new(big.Int).Mul(big.NewInt(int64(n)), eth1)
	y := new(big.Int).Rsh(x, n)
	if y.Cmp(eth1) == 0 {
		return out, nil
	}
	delta := new(big.Int).Set(half18)
	for i := 0; i < 60; i++ {
		y.Mul(y, y)
		y.Quo(y, eth1)
		if y.Cmp(two18) >= 0 {
			out.Add(out, delta)
			y.Rsh(y, 1)
		}
		delta.Rsh(delta, 1)
	}
	return out, nil
}

// Ln is Log2(x) * 1e18 / 1442695040888963407 (truncating).
func Ln(x *big.Int) (*big.Int, error) {
	l, err := Log2(x)
	if err != nil {
		return nil, err
	}
	l.Mul(l, eth1)
	return l.Quo(l, log2E), nil
}

// BorrowedPercent is stake*price/1e18 * 100e18 / eligibleBorrowed: the staked
// RPL value as a 1e18-scaled percentage of borrowed ETH. It returns 0 when
// eligibleBorrowed <= 0.
func BorrowedPercent(stake, price, eligibleBorrowed *big.Int) *big.Int {
	if eligibleBorrowed.Sign() <= 0 {
		return new(big.Int)
	}
	stakedEth := mulDiv(stake, price, eth1)
	return mulDiv(stakedEth, pct100, eligibleBorrowed)
}

// NodeWeight is the RPIP-30 node weight (before registration-age proration):
//
//	0                                                  if eligibleBorrowed <= 0
//	100 * stakedEth                                    if pct <= 15e18
//	(13.6137e18 + 2*ln(pct - 13e18)) * borrowed / 1e18 otherwise
//
// with stakedEth = stake*price/1e18 and pct = stakedEth*100e18/borrowed.
func NodeWeight(stake, price, eligibleBorrowed *big.Int) (*big.Int, error) {
	if eligibleBorrowed.Sign() <= 0 {
		return new(big.Int), nil
	}
	stakedEth := mulDiv(stake, price, eth1)
	pct := mulDiv(stakedEth, pct100, eligibleBorrowed)
	if pct.Cmp(pct15) <= 0 {
		return stakedEth.Mul(stakedEth, big.NewInt(100)), nil
	}
	ln, err := Ln(new(big.Int).Sub(pct, pct13))
	if err != nil {
		return nil, fmt.Errorf("node weight: %w", err)
	}
	w := ln.Mul(ln, big.NewInt(2))
	w.Add(w, weightConst)
	w.Mul(w, eligibleBorrowed)
	return w.Quo(w, eth1), nil
}

// FeeWithBonus is the RPIP-62 dynamic commission of a minipool with bond
// under 16 ETH: max(fee, 10% + 4% * min(10e18, pct) / 10e18). Bonds of 16 ETH
// and more keep their fee.
func FeeWithBonus(bond, fee, pct *big.Int) *big.Int {
	if bond.Cmp(eth16) >= 0 {
		return fee
	}
	b := mulDiv(fee4, bigMin(pct10, pct), pct10)
	b.Add(b, fee10)
	return bigMax(fee, b)
}

// MinipoolScore is the score of one successful duty:
// fee + (1e18 - fee) * bond / 32e18.
func MinipoolScore(bond, fee *big.Int) *big.Int {
	s := new(big.Int).Sub(eth1, fee)
	s.Mul(s, bond)
	s.Quo(s, eth32)
	return s.Add(s, fee)
}

// MegapoolScores are the per-duty scores of a megapool validator with
// normalized bond b under node/voter/pDAO shares f, v, p:
//
//	score = (1e18*b + 32e18*f - f*b) / 32e18
//	voter = (32e18*v - v*b) / 32e18
//	pdao  = (32e18*p - p*b) / 32e18
func MegapoolScores(b, f, v, p *big.Int) (score, voter, pdao *big.Int) {
	score = new(big.Int).Mul(eth1, b)
	score.Add(score, new(big.Int).Mul(eth32, f))
	score.Sub(score, new(big.Int).Mul(f, b))
	score.Quo(score, eth32)
	share := func(x *big.Int) *big.Int {
		r := new(big.Int).Mul(eth32, x)
		r.Sub(r, new(big.Int).Mul(x, b))
		return r.Quo(r, eth32)
	}
	return score, share(v), share(p)
}
