package tree

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	merkletree "github.com/wealdtech/go-merkletree/v2"
	"github.com/wealdtech/go-merkletree/v2/keccak256"
)

// LeafVersion selects the leaf preimage layout. It equals the contract's
// Merkle distributor "tree version".
type LeafVersion int

const (
	// LeafV0 is the 116-byte leaf of rewards file versions 1–3 (rulesets ≤ 10):
	// address ‖ uint256 network ‖ uint256 RPL ‖ uint256 smoothing pool ETH.
	LeafV0 LeafVersion = 0
	// LeafV1 is the 148-byte leaf of rewards file version 4 (ruleset 11):
	// the LeafV0 fields ‖ uint256 voter share ETH.
	LeafV1 LeafVersion = 1
)

// Size returns the preimage length in bytes.
func (v LeafVersion) Size() int {
	if v == LeafV1 {
		return 148
	}
	return 116
}

// LeafVersionForFile returns the leaf layout used by a rewards file version.
func LeafVersionForFile(rewardsFileVersion uint64) LeafVersion {
	if rewardsFileVersion >= 4 {
		return LeafV1
	}
	return LeafV0
}

// LeafAmounts are the values a leaf commits to.
type LeafAmounts struct {
	Address common.Address
	Network uint64
	// RPL is collateral RPL + oracle-DAO RPL.
	RPL              *big.Int
	SmoothingPoolETH *big.Int
	VoterShareETH    *big.Int // LeafV1 only; nil counts as zero
}

// ErrAmountTooLarge is returned when an amount does not fit in a uint256.
var ErrAmountTooLarge = errors.New("amount does not fit in uint256")

// LeafPreimage encodes the amounts as abi.encodePacked(address, uint256...)
// for the given leaf version: uint256 values are 32-byte big-endian.
func LeafPreimage(v LeafVersion, a LeafAmounts) ([]byte, error) {
	out := make([]byte, v.Size())
	copy(out[:20], a.Address[:])
	new(big.Int).SetUint64(a.Network).FillBytes(out[20:52])
	if err := putUint256(out[52:84], a.RPL); err != nil {
		return nil, fmt.Errorf("RPL of %s: %w", a.Address.Hex(), err)
	}
	if err := putUint256(out[84:116], a.SmoothingPoolETH); err != nil {
		return nil, fmt.Errorf("smoothing pool ETH of %s: %w", a.Address.Hex(), err)
	}
	if v == LeafV1 {
		if err := putUint256(out[116:148], a.VoterShareETH); err != nil {
			return nil, fmt.Errorf("voter share ETH of %s: %w", a.Address.Hex(), err)
		}
	}
	return out, nil
}

func putUint256(dst []byte, x *big.Int) error {
	if x == nil {
		return nil
	}
	if x.Sign() < 0 || x.BitLen() > 256 {
		return ErrAmountTooLarge
	}
	x.FillBytes(dst)
	return nil
}

// HashLeaf returns keccak256 of a leaf preimage.
func HashLeaf(preimage []byte) common.Hash { return crypto.Keccak256Hash(preimage) }

// Tree is a rewards Merkle tree: keccak256 leaves sorted ascending, padded
// with zero hashes to a power of two, parent = keccak256(min ‖ max).
type Tree struct {
	mt *merkletree.MerkleTree
	// pos maps a leaf hash to its index among the sorted leaves.
	pos map[common.Hash]uint64
	// sortedIndex[i] is the sorted position of the i-th preimage given to BuildTree.
	sortedIndex []uint64
}

// BuildTree builds the tree from leaf preimages. The slice is not modified.
// Two identical preimages are an error (they would give one node two leaves).
func BuildTree(preimages [][]byte) (*Tree, error) {
	if len(preimages) == 0 {
		return nil, errors.New("build merkle tree: no leaves")
	}
	// go-merkletree sorts the data slice in place: hand it a copy.
	data := make([][]byte, len(preimages))
	copy(data, preimages)
	mt, err := merkletree.NewTree(
		merkletree.WithData(data),
		merkletree.WithHashType(keccak256.New()),
		merkletree.WithSorted(true),
	)
	if err != nil {
		return nil, fmt.Errorf("build merkle tree: %w", err)
	}
	// data is now in leaf order; map each caller preimage to its position.
	orig := make(map[*byte]int, len(preimages))
	for i, p := range preimages {
		if len(p) > 0 {
			orig[&p[0]] = i
		}
	}
	width := len(mt.Nodes) / 2
	pos := make(map[common.Hash]uint64, len(data))
	sortedIndex := make([]uint64, len(data))
	for i := range data {
		h := common.BytesToHash(mt.Nodes[width+i])
		if _, dup := pos[h]; dup {
			return nil, fmt.Errorf("build merkle tree: duplicate leaf %s", h.Hex())
		}
		pos[h] = uint64(i)
		if len(data[i]) > 0 {
			sortedIndex[orig[&data[i][0]]] = uint64(i)
		}
	}
	return &Tree{mt: mt, pos: pos, sortedIndex: sortedIndex}, nil
}

// ProofOf returns the proof of the i-th preimage given to BuildTree.
func (t *Tree) ProofOf(i int) ([]common.Hash, error) {
	if i < 0 || i >= len(t.sortedIndex) {
		return nil, fmt.Errorf("leaf index %d out of range", i)
	}
	return t.proofAt(t.sortedIndex[i])
}

// Root returns the Merkle root.
func (t *Tree) Root() common.Hash { return common.BytesToHash(t.mt.Root()) }

// Len returns the number of (unpadded) leaves.
func (t *Tree) Len() int { return len(t.pos) }

// Proof returns the sibling path (leaf level first) of the leaf with the
// given hash.
func (t *Tree) Proof(leaf common.Hash) ([]common.Hash, error) {
	i, ok := t.pos[leaf]
	if !ok {
		return nil, fmt.Errorf("leaf %s is not in the tree", leaf.Hex())
	}
	return t.proofAt(i)
}

func (t *Tree) proofAt(i uint64) ([]common.Hash, error) {
	p, err := t.mt.GenerateProofWithIndex(i, 0)
	if err != nil {
		return nil, fmt.Errorf("generate proof for leaf %d: %w", i, err)
	}
	out := make([]common.Hash, len(p.Hashes))
	for j, h := range p.Hashes {
		out[j] = common.BytesToHash(h)
	}
	return out, nil
}

// VerifyProof folds the proof over the leaf with sorted-pair keccak256
// hashing (OpenZeppelin MerkleProof.verify) and compares with the root.
// go-merkletree's own verifier orders pairs by index and cannot be used.
func VerifyProof(leaf common.Hash, proof []common.Hash, root common.Hash) bool {
	return ProofRoot(leaf, proof) == root
}

// ProofRoot returns the root that a proof implies for a leaf.
func ProofRoot(leaf common.Hash, proof []common.Hash) common.Hash {
	h := leaf
	var buf [64]byte
	for _, p := range proof {
		if bytes.Compare(h[:], p[:]) <= 0 {
			copy(buf[:32], h[:])
			copy(buf[32:], p[:])
		} else {
			copy(buf[:32], p[:])
			copy(buf[32:], h[:])
		}
		h = crypto.Keccak256Hash(buf[:])
	}
	return h
}

// SortedLeaves returns the leaf hashes in tree order (for tests and tools).
func (t *Tree) SortedLeaves() []common.Hash {
	out := make([]common.Hash, 0, len(t.pos))
	for h := range t.pos {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}
