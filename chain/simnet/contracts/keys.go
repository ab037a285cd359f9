package contracts

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

var trustedNodeSubmittedArgs = mustArgs("string", "address", "uint256")

func mustArgs(types ...string) abi.Arguments {
	args := make(abi.Arguments, len(types))
	for i, s := range types {
		t, err := abi.NewType(s, "", nil)
		if err != nil {
			panic(fmt.Sprintf("abi type %s: %v", s, err)) // static type names: cannot fail at run time
		}
		args[i] = abi.Argument{Type: t}
	}
	return args
}

// TrustedNodeSubmittedKey is the RocketStorage key of a member's "has voted for this index" flag (what
// getTrustedNodeSubmitted reads): keccak256(abi.encode("rewards.snapshot.submitted.node", node, rewardIndex)).
func TrustedNodeSubmittedKey(node common.Address, rewardIndex *big.Int) common.Hash {
	b, err := trustedNodeSubmittedArgs.Pack("rewards.snapshot.submitted.node", node, rewardIndex)
	if err != nil {
		// Only a negative or > 256-bit index can fail; such an index has no flag.
		return common.Hash{}
	}
	return crypto.Keccak256Hash(b)
}

// LastChallengerKey is the RocketStorage key of the last oDAO member that called challengeExit:
// keccak256("last.trusted.node.megapool.challenger").
func LastChallengerKey() common.Hash {
	return crypto.Keccak256Hash([]byte("last.trusted.node.megapool.challenger"))
}
