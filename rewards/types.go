package rewards

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// FarFutureEpoch is the beacon chain's "never" epoch (2^64-1).
const FarFutureEpoch = ^uint64(0)

// Address is a 20-byte execution-layer address. JSON: "0x" + 40 lowercase hex.
type Address [20]byte

// Pubkey is a 48-byte BLS validator public key. JSON: "0x" + 96 lowercase hex.
type Pubkey [48]byte

// Hex returns "0x" + lowercase hex.
func (a Address) Hex() string { return "0x" + hex.EncodeToString(a[:]) }

// String is Hex.
func (a Address) String() string { return a.Hex() }

// Less orders addresses by their bytes (the order of rewards-file nodes).
func (a Address) Less(b Address) bool { return bytes.Compare(a[:], b[:]) < 0 }

// MarshalText writes the 0x form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.Hex()), nil }

// UnmarshalText reads 40 hex digits with an optional 0x prefix (any case).
func (a *Address) UnmarshalText(b []byte) error {
	return decodeFixedHex("address", string(b), a[:])
}

// ParseAddress parses an address in 0x hex form.
func ParseAddress(s string) (Address, error) {
	var a Address
	err := a.UnmarshalText([]byte(s))
	return a, err
}

// Hex returns "0x" + lowercase hex.
func (p Pubkey) Hex() string { return "0x" + hex.EncodeToString(p[:]) }

// String is Hex.
func (p Pubkey) String() string { return p.Hex() }

// MarshalText writes the 0x form.
func (p Pubkey) MarshalText() ([]byte, error) { return []byte(p.Hex()), nil }

// UnmarshalText reads 96 hex digits with an optional 0x prefix.
func (p *Pubkey) UnmarshalText(b []byte) error {
	return decodeFixedHex("pubkey", string(b), p[:])
}

func decodeFixedHex(what, s string, out []byte) error {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 2*len(out) {
		return fmt.Errorf("%s %q must be %d hex digits", what, truncStr(s), 2*len(out))
	}
	if _, err := hex.Decode(out, []byte(s)); err != nil {
		return fmt.Errorf("%s %q is not hex: %w", what, truncStr(s), err)
	}
	return nil
}

func truncStr(s string) string {
	if len(s) > 50 {
		return s[:50] + "…"
	}
	return s
}

// Wei is a non-negative integer amount (wei, or a 1e18-scaled fraction).
// JSON: a decimal string, e.g. "1000000000000000000". The zero value is 0.
// A Wei is read-only once built: Big returns the shared value.
type Wei struct{ i *big.Int }

// NewWei returns a Wei holding a copy of x (nil gives 0).
func NewWei(x *big.Int) Wei {
	if x == nil {
		return Wei{}
	}
	return Wei{new(big.Int).Set(x)}
}

// WeiFromUint64 returns x as a Wei.
func WeiFromUint64(x uint64) Wei { return Wei{new(big.Int).SetUint64(x)} }

// MustWei parses a decimal string; it panics on bad input and is meant for
// constants and tests only.
func MustWei(s string) Wei {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || x.Sign() < 0 {
		panic("rewards: bad Wei constant " + s)
	}
	return Wei{x}
}

var zeroInt = new(big.Int)

// Big returns the value. The result must not be modified.
func (w Wei) Big() *big.Int {
	if w.i == nil {
		return zeroInt
	}
	return w.i
}

// IsZero reports whether the value is 0.
func (w Wei) IsZero() bool { return w.i == nil || w.i.Sign() == 0 }

// String returns the decimal form.
func (w Wei) String() string { return w.Big().String() }

// MarshalJSON writes a quoted decimal string.
func (w Wei) MarshalJSON() ([]byte, error) { return []byte(`"` + w.Big().String() + `"`), nil }

// UnmarshalJSON reads a quoted non-negative decimal string of at most 256 bits.
func (w *Wei) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("amount must be a quoted decimal string, got %s", truncStr(string(b)))
	}
	if s == "" {
		return fmt.Errorf("amount is an empty string")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fmt.Errorf("amount %q is not a non-negative decimal integer", truncStr(s))
		}
	}
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || x.BitLen() > 256 {
		return fmt.Errorf("amount %q does not fit in 256 bits", truncStr(s))
	}
	w.i = x
	return nil
}

// Frequently used constants.
var (
	eth1     = big.NewInt(1e18) // 1 ETH, and 1.0 in 1e18 fixed point
	eth16    = new(big.Int).Mul(big.NewInt(16), eth1)
	eth32    = new(big.Int).Mul(big.NewInt(32), eth1)
	milliEth = big.NewInt(1e15)
)

func bi(x uint64) *big.Int { return new(big.Int).SetUint64(x) }

// mulDiv returns a*b/c (truncating). c must be non-zero.
func mulDiv(a, b, c *big.Int) *big.Int {
	r := new(big.Int).Mul(a, b)
	return r.Quo(r, c)
}

func bigMin(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

func bigMax(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}
