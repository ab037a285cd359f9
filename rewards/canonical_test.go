package rewards

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/odaowatch/watchtower/internal/testutil"
)

// TestCanonicalV10BoostedScores checks MinipoolScore and the RPIP-62 boosted
// fee against the canonical ruleset-10 performance file of testnet interval
// 139 (rocket-pool/rewards-trees testnet/rp-minipool-performance-testnet-139.json):
// every one of its 1456 minipools is an 8-ETH minipool considered for a bonus,
// and its attestationScore equals successfulAttestations × (fee' + (1 - fee') × 8/32)
// with fee' = its effectiveCommission (the boosted fee): v10 scores with the
// boosted fee, as the rules say.
func TestCanonicalV10BoostedScores(t *testing.T) {
	var f struct {
		RulesetVersion      int `json:"rulesetVersion"`
		MinipoolPerformance map[string]struct {
			SuccessfulAttestations uint64 `json:"successfulAttestations"`
			AttestationScore       string `json:"attestationScore"`
			EffectiveCommission    string `json:"effectiveCommission"`
		} `json:"minipoolPerformance"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "canonical/rp-minipool-performance-testnet-139.json.gz"), &f); err != nil {
		t.Fatal(err)
	}
	if f.RulesetVersion != 10 || len(f.MinipoolPerformance) != 1456 {
		t.Fatalf("unexpected file: ruleset %d, %d minipools", f.RulesetVersion, len(f.MinipoolPerformance))
	}
	for a, m := range f.MinipoolPerformance {
		fee, _ := new(big.Int).SetString(m.EffectiveCommission, 10)
		want, _ := new(big.Int).SetString(m.AttestationScore, 10)
		got := new(big.Int).Mul(MinipoolScore(ether(8).Big(), fee), bi(m.SuccessfulAttestations))
		if got.Cmp(want) != 0 {
			t.Errorf("%s: score %s, canonical %s", a, got, want)
		}
	}
	// The most common commission, 103898415867893541, is FeeWithBonus for a 5 %
	// minipool at pct = 974603966973385250 (0.1 + 0.04 * pct / 10e18):
	// 4e16 * 974603966973385250 / 1e19 = 3898415867893541 exactly.
	got := FeeWithBonus(ether(8).Big(), perc(5).Big(), big.NewInt(974603966973385250))
	wantInt(t, "boosted fee", got, "103898415867893541")
}

// TestCanonicalV11MegapoolScores checks MegapoolScores against the canonical
// ruleset-11 performance file of testnet interval 149: all 1670 megapool
// validators with successful attestations score n × one of two per-duty
// values, both reproduced with node share f = 5 %:
//
//	b = 4 ETH:   (1e18*4e18 + 32e18*0.05e18 - 0.05e18*4e18) / 32e18 = 0.16875e18
//	b = 2.4 ETH: (2.4 + 1.6 - 0.12) / 32 = 0.12125e18  (a megapool whose queued
//	             validators dilute the bond, quirk Q4: e.g. 12 ETH over 5)
func TestCanonicalV11MegapoolScores(t *testing.T) {
	var f struct {
		RulesetVersion      int `json:"rulesetVersion"`
		MegapoolPerformance map[string]struct {
			ValidatorPerformance map[string]struct {
				SuccessfulAttestations uint64 `json:"successfulAttestations"`
				AttestationScore       string `json:"attestationScore"`
			} `json:"validatorPerformance"`
		} `json:"megapoolPerformance"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "canonical/rp-performance-testnet-149.json.gz"), &f); err != nil {
		t.Fatal(err)
	}
	if f.RulesetVersion != 11 {
		t.Fatalf("ruleset %d", f.RulesetVersion)
	}
	s4, _, _ := MegapoolScores(ether(4).Big(), perc(5).Big(), perc(0).Big(), perc(0).Big())
	s24, _, _ := MegapoolScores(milli(2400).Big(), perc(5).Big(), perc(0).Big(), perc(0).Big())
	wantInt(t, "b = 4 ETH", s4, "168750000000000000")
	wantInt(t, "b = 2.4 ETH", s24, "121250000000000000")
	counts := map[string]int{}
	for mp, m := range f.MegapoolPerformance {
		for pk, v := range m.ValidatorPerformance {
			if v.SuccessfulAttestations == 0 {
				continue
			}
			got, _ := new(big.Int).SetString(v.AttestationScore, 10)
			matched := false
			for _, per := range []*big.Int{s4, s24} {
				if new(big.Int).Mul(per, bi(v.SuccessfulAttestations)).Cmp(got) == 0 {
					counts[per.String()]++
					matched = true
				}
			}
			if !matched {
				t.Errorf("megapool %s validator %s: score %s is not n × a known per-duty score", mp, pk, got)
			}
		}
	}
	if counts[s4.String()] != 1667 || counts[s24.String()] != 3 {
		t.Errorf("per-duty score counts %v, want 1667 × 0.16875 and 3 × 0.12125", counts)
	}
}
