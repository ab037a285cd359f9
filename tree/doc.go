// Package tree holds the rewards Merkle tree (leaves, root, proofs), the
// canonical rewards and performance files (JSON and SSZ, read and write),
// zstd compression and the IPFS CID of a file.
package tree
