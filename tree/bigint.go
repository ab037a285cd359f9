package tree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
)

// BigInt is a non-negative wei amount written in JSON as a decimal string
// ("123"), the way canonical rewards and performance files write amounts.
//
// A BigInt may be null: canonical v3 files written by the reference for
// rulesets 9/10 contain `"totalProtocolDaoEth": "null"` (a nil big integer
// rendered as the string "null"). Null round-trips to the same string so a
// file re-encodes to the same content.
type BigInt struct {
	v    big.Int
	null bool
}

// NewBigInt returns a BigInt holding a copy of x (nil gives zero).
func NewBigInt(x *big.Int) BigInt {
	var b BigInt
	if x != nil {
		b.v.Set(x)
	}
	return b
}

// BigIntFromUint64 returns a BigInt holding x.
func BigIntFromUint64(x uint64) BigInt {
	var b BigInt
	b.v.SetUint64(x)
	return b
}

// NullBigInt returns a BigInt that encodes as the string "null".
func NullBigInt() BigInt { return BigInt{null: true} }

// IsNull reports whether the value was (or will be) written as "null".
func (b *BigInt) IsNull() bool { return b.null }

// Int returns the value as a new big.Int (zero for null).
func (b *BigInt) Int() *big.Int { return new(big.Int).Set(&b.v) }

// Ref returns the underlying value without copying. Callers must not modify it.
func (b *BigInt) Ref() *big.Int { return &b.v }

// Cmp compares the values (null counts as zero).
func (b *BigInt) Cmp(o *BigInt) int { return b.v.Cmp(&o.v) }

// String returns the decimal form ("null" for null).
func (b BigInt) String() string {
	if b.null {
		return "null"
	}
	return b.v.String()
}

// MarshalJSON writes the value as a quoted decimal string.
func (b BigInt) MarshalJSON() ([]byte, error) {
	return []byte(`"` + b.String() + `"`), nil
}

// UnmarshalJSON accepts a quoted decimal string, or the quoted string "null".
func (b *BigInt) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("amount must be a decimal string, got %s", truncate(data))
	}
	if s == "null" {
		*b = BigInt{null: true}
		return nil
	}
	if s == "" {
		return fmt.Errorf("amount is an empty string")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fmt.Errorf("amount %q is not a non-negative decimal integer", truncateS(s))
		}
	}
	if len(s) > 80 { // 2^256 has 78 digits
		return fmt.Errorf("amount %q is longer than any uint256", truncateS(s))
	}
	b.null = false
	b.v.SetString(s, 10)
	if b.v.BitLen() > 256 {
		return fmt.Errorf("amount %s does not fit in 256 bits", s)
	}
	return nil
}

func truncate(b []byte) string { return truncateS(string(b)) }

func truncateS(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
