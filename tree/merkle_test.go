package tree

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/odaowatch/watchtower/internal/testutil"
)

func mustBig(t testing.TB, s string) *big.Int {
	t.Helper()
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad decimal %q", s)
	}
	return x
}

// TestSpecExample rebuilds the research spec's 9-node worked example: every
// preimage, leaf, proof and the root must equal the vector.
func TestSpecExample(t *testing.T) {
	var v struct {
		Nodes []struct {
			Address      string        `json:"address"`
			Network      uint64        `json:"network"`
			AmountRPL    string        `json:"amountRPL"`
			AmountETH    string        `json:"amountETH"`
			LeafPreimage hexutil.Bytes `json:"leafPreimage"`
			LeafHash     common.Hash   `json:"leafHash"`
			MerkleProof  []common.Hash `json:"merkleProof"`
		} `json:"nodes"`
		ZeroPairHash common.Hash `json:"zeroPairHash"`
		MerkleRoot   common.Hash `json:"merkleRoot"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "merkle/spec-example.json"), &v); err != nil {
		t.Fatal(err)
	}
	if v.MerkleRoot != common.HexToHash("0x56763deebe54e6c0fb6fec39f0c15a1acd7e641ef4857054ebd30ecab049ba6c") {
		t.Fatalf("vector file root changed: %s", v.MerkleRoot.Hex())
	}
	if got := crypto.Keccak256Hash(make([]byte, 64)); got != v.ZeroPairHash {
		t.Fatalf("zero pair hash %s, want %s", got.Hex(), v.ZeroPairHash.Hex())
	}
	var pre [][]byte
	for _, n := range v.Nodes {
		p, err := LeafPreimage(LeafV0, LeafAmounts{
			Address: common.HexToAddress(n.Address), Network: n.Network,
			RPL: mustBig(t, n.AmountRPL), SmoothingPoolETH: mustBig(t, n.AmountETH),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !equalBytes(p, n.LeafPreimage) {
			t.Fatalf("preimage of %s:\n got %x\nwant %x", n.Address, p, []byte(n.LeafPreimage))
		}
		if HashLeaf(p) != n.LeafHash {
			t.Fatalf("leaf of %s: got %s want %s", n.Address, HashLeaf(p).Hex(), n.LeafHash.Hex())
		}
		pre = append(pre, p)
	}
	orig := make([][]byte, len(pre))
	copy(orig, pre)
	tr, err := BuildTree(pre)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pre {
		if &pre[i][0] != &orig[i][0] {
			t.Fatal("BuildTree reordered the caller's slice")
		}
	}
	if tr.Root() != v.MerkleRoot {
		t.Fatalf("root %s, want %s", tr.Root().Hex(), v.MerkleRoot.Hex())
	}
	for _, n := range v.Nodes {
		p, err := tr.Proof(n.LeafHash)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != len(n.MerkleProof) {
			t.Fatalf("proof length %d, want %d", len(p), len(n.MerkleProof))
		}
		for i := range p {
			if p[i] != n.MerkleProof[i] {
				t.Fatalf("proof of %s differs at %d", n.Address, i)
			}
		}
		if !VerifyProof(n.LeafHash, p, tr.Root()) {
			t.Fatalf("proof of %s does not verify", n.Address)
		}
		// A proof for a different leaf must not verify.
		bad := n.LeafHash
		bad[31] ^= 1
		if VerifyProof(bad, p, tr.Root()) {
			t.Fatalf("tampered leaf of %s verifies", n.Address)
		}
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// TestNetworkOneVector checks the only public vector with reward network 1.
func TestNetworkOneVector(t *testing.T) {
	var v struct {
		Nodes []struct {
			Address          string        `json:"address"`
			Network          uint64        `json:"network"`
			CollateralRpl    string        `json:"collateralRpl"`
			OracleDaoRpl     string        `json:"oracleDaoRpl"`
			SmoothingPoolEth string        `json:"smoothingPoolEth"`
			LeafPreimage     hexutil.Bytes `json:"leafPreimage"`
		} `json:"nodes"`
		MerkleRoot common.Hash `json:"merkleRoot"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "merkle/two-node-network1.json"), &v); err != nil {
		t.Fatal(err)
	}
	var pre [][]byte
	for _, n := range v.Nodes {
		rpl := new(big.Int).Add(mustBig(t, n.CollateralRpl), mustBig(t, n.OracleDaoRpl))
		p, err := LeafPreimage(LeafV0, LeafAmounts{Address: common.HexToAddress(n.Address), Network: n.Network, RPL: rpl, SmoothingPoolETH: mustBig(t, n.SmoothingPoolEth)})
		if err != nil {
			t.Fatal(err)
		}
		if !equalBytes(p, n.LeafPreimage) {
			t.Fatalf("preimage of %s differs", n.Address)
		}
		pre = append(pre, p)
	}
	tr, err := BuildTree(pre)
	if err != nil {
		t.Fatal(err)
	}
	if want := common.HexToHash("0xac9ddbc55a8cd92612b86866de955f0bb99dd51e1447767afc610b13a5063546"); tr.Root() != want || v.MerkleRoot != want {
		t.Fatalf("root %s, file %s, want %s", tr.Root().Hex(), v.MerkleRoot.Hex(), want.Hex())
	}
}

// TestLeafSamples checks 116- and 148-byte leaves taken from canonical files.
func TestLeafSamples(t *testing.T) {
	var v struct {
		Samples []struct {
			Address          string        `json:"address"`
			Network          uint64        `json:"rewardNetwork"`
			CollateralRpl    string        `json:"collateralRpl"`
			OracleDaoRpl     string        `json:"oracleDaoRpl"`
			SmoothingPoolEth string        `json:"smoothingPoolEth"`
			VoterShareEth    *string       `json:"voterShareEth"`
			PreimageBytes    int           `json:"leafPreimageBytes"`
			LeafPreimage     hexutil.Bytes `json:"leafPreimage"`
			LeafHash         common.Hash   `json:"leafHash"`
			MerkleProof      []common.Hash `json:"merkleProof"`
			MerkleRoot       common.Hash   `json:"merkleRoot"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "merkle/leaf-samples.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Samples) != 3 {
		t.Fatalf("want 3 samples, got %d", len(v.Samples))
	}
	for _, s := range v.Samples {
		ver := LeafV0
		a := LeafAmounts{Address: common.HexToAddress(s.Address), Network: s.Network,
			RPL: new(big.Int).Add(mustBig(t, s.CollateralRpl), mustBig(t, s.OracleDaoRpl)), SmoothingPoolETH: mustBig(t, s.SmoothingPoolEth)}
		if s.PreimageBytes == 148 {
			ver = LeafV1
			a.VoterShareETH = mustBig(t, *s.VoterShareEth)
		}
		p, err := LeafPreimage(ver, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != len(s.LeafPreimage) || !equalBytes(p, s.LeafPreimage) {
			t.Fatalf("preimage of %s (%d bytes) differs from the sample (%d bytes)", s.Address, len(p), len(s.LeafPreimage))
		}
		if HashLeaf(p) != s.LeafHash || !VerifyProof(s.LeafHash, s.MerkleProof, s.MerkleRoot) {
			t.Fatalf("leaf %s does not verify against the canonical root", s.Address)
		}
	}
}

func TestTreeEdgeCases(t *testing.T) {
	if _, err := BuildTree(nil); err == nil {
		t.Fatal("empty tree must be an error")
	}
	one := []byte("only leaf")
	tr, err := BuildTree([][]byte{one})
	if err != nil {
		t.Fatal(err)
	}
	// One leaf: width 1, the root is the leaf itself and the proof is empty.
	if tr.Root() != crypto.Keccak256Hash(one) {
		t.Fatal("single-leaf root must equal the leaf")
	}
	if p, _ := tr.Proof(crypto.Keccak256Hash(one)); len(p) != 0 {
		t.Fatalf("single-leaf proof has %d hashes", len(p))
	}
	// Three leaves: width 4; the fourth leaf is the zero hash and the right
	// parent is keccak(min(l3,0) ‖ max(l3,0)) = keccak(0 ‖ l3).
	ls := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	tr, err = BuildTree(ls)
	if err != nil {
		t.Fatal(err)
	}
	sorted := tr.SortedLeaves()
	pair := func(a, b common.Hash) common.Hash {
		if string(a[:]) > string(b[:]) {
			a, b = b, a
		}
		return crypto.Keccak256Hash(a[:], b[:])
	}
	want := pair(pair(sorted[0], sorted[1]), pair(sorted[2], common.Hash{}))
	if tr.Root() != want {
		t.Fatalf("3-leaf root %s, want %s", tr.Root().Hex(), want.Hex())
	}
	if _, err := BuildTree([][]byte{one, one}); err == nil {
		t.Fatal("duplicate leaves must be an error")
	}
	if _, err := LeafPreimage(LeafV0, LeafAmounts{RPL: new(big.Int).Lsh(big.NewInt(1), 256)}); err == nil {
		t.Fatal("2^256 must not fit a leaf")
	}
	if _, err := LeafPreimage(LeafV0, LeafAmounts{RPL: big.NewInt(-1)}); err == nil {
		t.Fatal("negative amount must be rejected")
	}
}
