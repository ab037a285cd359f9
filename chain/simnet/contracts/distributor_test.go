package contracts_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/tree"
)

// milli returns n/1000 ETH in wei.
func milli(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e15)) }

type leafSpec struct {
	node           common.Address
	rpl, sp, voter *big.Int
	preimage       []byte
	proof          []common.Hash
}

// buildTree encodes the leaves with tree.LeafPreimage (network 0) and fills in their proofs from tree.BuildTree.
func buildTree(t *testing.T, v tree.LeafVersion, leaves []*leafSpec) common.Hash {
	t.Helper()
	pre := make([][]byte, len(leaves))
	for i, l := range leaves {
		p, err := tree.LeafPreimage(v, tree.LeafAmounts{Address: l.node, Network: 0, RPL: l.rpl, SmoothingPoolETH: l.sp, VoterShareETH: l.voter})
		if err != nil {
			t.Fatalf("leaf preimage: %v", err)
		}
		if len(p) != v.Size() {
			t.Fatalf("leaf preimage is %d bytes, want %d", len(p), v.Size())
		}
		l.preimage = p
		pre[i] = p
	}
	tr, err := tree.BuildTree(pre)
	if err != nil {
		t.Fatalf("build tree: %v", err)
	}
	for _, l := range leaves {
		l.proof, err = tr.Proof(tree.HashLeaf(l.preimage))
		if err != nil {
			t.Fatalf("proof: %v", err)
		}
		if !tree.VerifyProof(tree.HashLeaf(l.preimage), l.proof, tr.Root()) {
			t.Fatal("tree proof does not verify off chain")
		}
	}
	return tr.Root()
}

func claimOf(index int64, l *leafSpec) bindings.RocketMerkleDistributorMainnetClaim {
	voter := l.voter
	if voter == nil {
		voter = big.NewInt(0)
	}
	proof := make([][32]byte, len(l.proof))
	for i, p := range l.proof {
		proof[i] = p
	}
	return bindings.RocketMerkleDistributorMainnetClaim{
		RewardIndex: big.NewInt(index), AmountRPL: l.rpl, AmountSmoothingPoolETH: l.sp, AmountVoterETH: voter, MerkleProof: proof,
	}
}

// claimAndCheck claims from the node account and checks the RPL and ETH received (net of gas).
func (e *env) claimAndCheck(nodeAcct int, claims []bindings.RocketMerkleDistributorMainnetClaim, wantRPL, wantETH *big.Int) {
	e.t.Helper()
	node := e.addr(nodeAcct)
	rplBefore, ethBefore := e.rplBalance(node), e.balance(node)
	r := e.must(e.d.MerkleDistributor.Claim(e.opts(nodeAcct), node, claims))
	gas := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	wantBig(e.t, "RPL received", new(big.Int).Sub(e.rplBalance(node), rplBefore), wantRPL)
	wantBig(e.t, "ETH received", new(big.Int).Sub(new(big.Int).Add(e.balance(node), gas), ethBefore), wantETH)
}

// executeSingleVote executes a submission with one oDAO member (1/1 >= 0.51).
func (e *env) executeSingleVote(member int, s bindings.RewardSubmission) *types.Receipt {
	e.t.Helper()
	r := e.must(e.d.RewardsPool.SubmitRewardSnapshot(e.opts(member), s))
	if len(e.snapshotEvents(r)) != 1 {
		e.t.Fatal("submission did not execute")
	}
	return r
}

func TestDistributorClaims148And116ByteLeaves(t *testing.T) {
	e := newEnv(t, 6)
	e.addMembers(1, 1)
	e.fundRewards() // 100 pending RPL, 10 ETH in the Smoothing Pool

	// ---- interval 0, tree version 1 (148-byte leaves) ----
	// Node totals: RPL 10 + 20 = 30; ETH (SP + voter) 1 + 0.5 + 2 + 0.25 + 0.25 = 4.
	n2 := &leafSpec{node: e.addr(2), rpl: eth(10), sp: eth(1), voter: milli(500)}
	n3 := &leafSpec{node: e.addr(3), rpl: eth(20), sp: eth(2), voter: big.NewInt(0)}
	n4 := &leafSpec{node: e.addr(4), rpl: big.NewInt(0), sp: milli(250), voter: milli(250)}
	root0 := buildTree(t, tree.LeafV1, []*leafSpec{n2, n3, n4})
	s0 := submission(0, 0)
	s0.MerkleRoot = root0
	s0.NodeRPL = []*big.Int{eth(30)}
	s0.TrustedNodeRPL = []*big.Int{big.NewInt(0)}
	s0.NodeETH = []*big.Int{eth(4)}
	e.executeSingleVote(1, s0)
	if v, err := e.d.MerkleDistributor.GetTreeVersion(e.call(), big.NewInt(0)); err != nil || v.Int64() != 1 {
		t.Fatalf("tree version of interval 0 = %v (%v), want 1", v, err)
	}

	// Node 2 claims 10 RPL and 1 + 0.5 ETH.
	e.claimAndCheck(2, []bindings.RocketMerkleDistributorMainnetClaim{claimOf(0, n2)}, eth(10), milli(1500))
	e.reverts("Already claimed")(e.d.MerkleDistributor.Claim(e.opts(2), e.addr(2), []bindings.RocketMerkleDistributorMainnetClaim{claimOf(0, n2)}))

	// Tampered amount, tampered proof, a 116-byte leaf against a version-1 interval, a foreign caller.
	bad := claimOf(0, n3)
	bad.AmountRPL = new(big.Int).Add(bad.AmountRPL, big.NewInt(1))
	e.reverts("Invalid proof")(e.d.MerkleDistributor.Claim(e.opts(3), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{bad}))
	bad = claimOf(0, n3)
	bad.MerkleProof[0][31] ^= 1
	e.reverts("Invalid proof")(e.d.MerkleDistributor.Claim(e.opts(3), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{bad}))
	bad = claimOf(0, n4)
	bad.AmountVoterETH = big.NewInt(0) // as if the leaf had no voter share
	e.reverts("Invalid proof")(e.d.MerkleDistributor.Claim(e.opts(4), e.addr(4), []bindings.RocketMerkleDistributorMainnetClaim{bad}))
	e.reverts("Can only claim from node or withdrawal address")(e.d.MerkleDistributor.Claim(e.opts(5), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{claimOf(0, n3)}))

	// ---- interval 1, tree version 0 (116-byte leaves) ----
	e.must(e.d.RewardsPool.SimSetRelayTreeVersion(e.guardian, big.NewInt(0)))
	e.fundSmoothingPool(eth(10))
	// Node totals: RPL 7 + 3 = 10; ETH 0.7 + 0.3 = 1. Pending RPL is 100 - 40 = 60 >= 10 + 10 treasury.
	m2 := &leafSpec{node: e.addr(2), rpl: eth(7), sp: milli(700)}
	m3 := &leafSpec{node: e.addr(3), rpl: eth(3), sp: milli(300)}
	root1 := buildTree(t, tree.LeafV0, []*leafSpec{m2, m3})
	s1 := submission(1, 0)
	s1.MerkleRoot = root1
	s1.NodeRPL = []*big.Int{eth(10)}
	s1.TrustedNodeRPL = []*big.Int{big.NewInt(0)}
	s1.NodeETH = []*big.Int{eth(1)}
	s1.UserETH = eth(9)
	e.executeSingleVote(1, s1)
	if v, err := e.d.MerkleDistributor.GetTreeVersion(e.call(), big.NewInt(1)); err != nil || v.Int64() != 0 {
		t.Fatalf("tree version of interval 1 = %v (%v), want 0", v, err)
	}

	// Voter ETH is not allowed in version 0; a tampered proof is rejected.
	bad = claimOf(1, m3)
	bad.AmountVoterETH = big.NewInt(1)
	e.reverts("Voter ETH not supported by tree version 0")(e.d.MerkleDistributor.Claim(e.opts(3), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{bad}))
	bad = claimOf(1, m3)
	bad.MerkleProof[len(bad.MerkleProof)-1][0] ^= 0x80
	e.reverts("Invalid proof")(e.d.MerkleDistributor.Claim(e.opts(3), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{bad}))
	bad = claimOf(1, m3)
	bad.AmountSmoothingPoolETH = milli(301)
	e.reverts("Invalid proof")(e.d.MerkleDistributor.Claim(e.opts(3), e.addr(3), []bindings.RocketMerkleDistributorMainnetClaim{bad}))

	// Node 2 claims interval 1 (7 RPL, 0.7 ETH); node 3 claims intervals 0 and 1 in one transaction:
	// RPL 20 + 3 = 23, ETH 2 + 0.3 = 2.3.
	e.claimAndCheck(2, []bindings.RocketMerkleDistributorMainnetClaim{claimOf(1, m2)}, eth(7), milli(700))
	e.claimAndCheck(3, []bindings.RocketMerkleDistributorMainnetClaim{claimOf(0, n3), claimOf(1, m3)}, eth(23), milli(2300))

	// What is left in the distributor is node 4's unclaimed 0.5 ETH and 0 RPL.
	wantBig(t, "distributor ETH left", e.balance(e.d.Addresses["rocketMerkleDistributorMainnet"]), milli(500))
	wantBig(t, "distributor RPL left", e.rplBalance(e.d.Addresses["rocketMerkleDistributorMainnet"]), big.NewInt(0))
}
