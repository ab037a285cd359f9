package bindings

// This file is written by hand (the generator writes only bindings.go).

import (
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
)

// MustABI parses a contract's compiled-in ABI. The ABIs are constants of this
// package, so a failure is a build defect and panics.
func MustABI(m interface{ GetAbi() (*abi.ABI, error) }) *abi.ABI {
	a, err := m.GetAbi()
	if err != nil {
		panic(fmt.Sprintf("simnet bindings ABI: %v", err))
	}
	return a
}
