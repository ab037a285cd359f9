package scenario

import (
	"fmt"
	"math/big"
	"strings"

	"gopkg.in/yaml.v3"
)

// Amount is an exact token amount in wei. In YAML it is an integer (wei) or a decimal with a unit:
// "32 eth", "1.5 ETH", "1000 rpl", "250 gwei", "7 wei". Fractions of a wei are rejected.
type Amount struct{ v *big.Int }

// NewAmount wraps a wei value (nil means zero).
func NewAmount(wei *big.Int) Amount {
	if wei == nil {
		return Amount{}
	}
	return Amount{v: new(big.Int).Set(wei)}
}

// Wei returns the amount in wei (a fresh copy; zero if unset).
func (a Amount) Wei() *big.Int {
	if a.v == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(a.v)
}

// IsSet reports whether the amount was given.
func (a Amount) IsSet() bool { return a.v != nil }

func (a Amount) String() string { return a.Wei().String() + " wei" }

var units = map[string]int{"wei": 0, "gwei": 9, "eth": 18, "ether": 18, "rpl": 18}

// ParseAmount parses the YAML forms described on Amount.
func ParseAmount(s string) (Amount, error) {
	fields := strings.Fields(strings.TrimSpace(s))
	if len(fields) == 0 || len(fields) > 2 {
		return Amount{}, fmt.Errorf("amount %q: want <number> [wei|gwei|eth|rpl]", s)
	}
	decimals := 0
	if len(fields) == 2 {
		d, ok := units[strings.ToLower(fields[1])]
		if !ok {
			return Amount{}, fmt.Errorf("amount %q: unknown unit %q", s, fields[1])
		}
		decimals = d
	}
	v, err := scaleDecimal(fields[0], decimals)
	if err != nil {
		return Amount{}, fmt.Errorf("amount %q: %w", s, err)
	}
	return Amount{v: v}, nil
}

// scaleDecimal returns num × 10^decimals exactly, rejecting negative numbers and leftover fractions.
func scaleDecimal(num string, decimals int) (*big.Int, error) {
	if strings.HasPrefix(num, "-") {
		return nil, fmt.Errorf("negative value")
	}
	intPart, frac, hasFrac := strings.Cut(num, ".")
	if intPart == "" {
		intPart = "0"
	}
	if hasFrac && frac == "" {
		return nil, fmt.Errorf("malformed number %q", num)
	}
	if len(frac) > decimals {
		extra := frac[decimals:]
		if strings.Trim(extra, "0") != "" {
			return nil, fmt.Errorf("more than %d decimals", decimals)
		}
		frac = frac[:decimals]
	}
	digits := intPart + frac + strings.Repeat("0", decimals-len(frac))
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("malformed number %q", num)
		}
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("malformed number %q", num)
	}
	if v.BitLen() > 256 {
		return nil, fmt.Errorf("does not fit in uint256")
	}
	return v, nil
}

// UnmarshalYAML accepts integers (wei) and strings with units.
func (a *Amount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: amount must be a scalar", n.Line)
	}
	p, err := ParseAmount(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = p
	return nil
}

// MarshalYAML writes the amount in wei.
func (a Amount) MarshalYAML() (interface{}, error) { return a.Wei().String(), nil }

// Fraction is a share scaled by 1e18 (1e18 = 100 %). In YAML: a decimal such as 0.14, or a percentage "14%".
type Fraction struct{ v *big.Int }

// Scaled returns the 1e18-scaled value (zero if unset).
func (f Fraction) Scaled() *big.Int {
	if f.v == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(f.v)
}

// IsSet reports whether the fraction was given.
func (f Fraction) IsSet() bool { return f.v != nil }

// ParseFraction parses "0.14" or "14%" into 1e18 scale; the value must lie in [0, 1].
func ParseFraction(s string) (Fraction, error) {
	s = strings.TrimSpace(s)
	decimals := 18
	if strings.HasSuffix(s, "%") {
		s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
		decimals = 16
	}
	v, err := scaleDecimal(s, decimals)
	if err != nil {
		return Fraction{}, fmt.Errorf("fraction %q: %w", s, err)
	}
	if v.Cmp(big.NewInt(1e18)) > 0 {
		return Fraction{}, fmt.Errorf("fraction %q is above 1", s)
	}
	return Fraction{v: v}, nil
}

// UnmarshalYAML accepts decimals and percentages.
func (f *Fraction) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: fraction must be a scalar", n.Line)
	}
	p, err := ParseFraction(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*f = p
	return nil
}
