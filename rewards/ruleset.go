package rewards

import "fmt"

// Ruleset versions this package implements.
const (
	RulesetV8  = 8
	RulesetV10 = 10
	RulesetV11 = 11
)

// RulesetFor returns the ruleset that produced (or must produce) interval
// index on network, as the canonical files show (rewards-rules.md §1.2):
//
//	mainnet: 18–29 → v8 (29 was produced by v8 although the code constant says
//	         v9), 30–45 → v10, 46+ → v11; below 18 is not supported
//	testnet: 0–139 → v10, 140+ → v11
//	devnet:  v11
func RulesetFor(network string, index uint64) (int, error) {
	switch network {
	case "mainnet":
		switch {
		case index >= 46:
			return RulesetV11, nil
		case index >= 30:
			return RulesetV10, nil
		case index >= 18:
			return RulesetV8, nil
		}
		return 0, fmt.Errorf("mainnet interval %d predates ruleset 8 and is not supported", index)
	case "testnet":
		if index >= 140 {
			return RulesetV11, nil
		}
		return RulesetV10, nil
	case "devnet":
		return RulesetV11, nil
	}
	return 0, fmt.Errorf("unknown network %q", network)
}

// v11BonusWindow reports whether a v11 interval still pays the v10
// consensus-income bonus: index - 4 < v11 start interval (mainnet 46 → 46..49,
// testnet 140 → 140..143; devnet always).
func v11BonusWindow(network string, index uint64) bool {
	switch network {
	case "mainnet":
		return index < 46+4
	case "testnet":
		return index < 140+4
	default:
		return true
	}
}

// NeedsWithdrawals reports whether computing an interval under ruleset reads
// the beacon withdrawals of protocol validators: the v10 consensus-income
// bonus, paid by every v10 interval and by v11 intervals inside the bonus
// window. Scanners use it to decide whether to collect withdrawals.
func NeedsWithdrawals(network string, index uint64, ruleset int) bool {
	switch ruleset {
	case RulesetV10:
		return true
	case RulesetV11:
		return v11BonusWindow(network, index)
	}
	return false
}
