package tree

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Problem is one failed check of a rewards file.
type Problem struct {
	// Check names the rule: "root", "proof", "sorted", "total", "network", "split".
	Check string `json:"check"`
	// Node is the node address the problem is about, if any.
	Node string `json:"node,omitempty"`
	// Field is the file field involved, if any.
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	s := p.Check
	if p.Node != "" {
		s += " node " + p.Node
	}
	if p.Field != "" {
		s += " field " + p.Field
	}
	return s + ": " + p.Detail
}

// Report is the outcome of Verify.
type Report struct {
	RewardsFileVersion uint64 `json:"rewardsFileVersion"`
	// RulesetVersion is nil for the oldest version-1 files, which omit it.
	RulesetVersion *uint64     `json:"rulesetVersion,omitempty"`
	Network        string      `json:"network"`
	Index          uint64      `json:"index"`
	Nodes          int         `json:"nodes"`
	Leaves         int         `json:"leaves"`
	StoredRoot     common.Hash `json:"storedRoot"`
	RebuiltRoot    common.Hash `json:"rebuiltRoot"`
	ProofsChecked  int         `json:"proofsChecked"`
	// ImpliedPendingVoterShare is poolStaker + nodeOperator + voter + pDAO −
	// smoothing pool balance (version 4): the pending voter share that flowed
	// through the interval. It must not be negative.
	ImpliedPendingVoterShare *BigInt   `json:"impliedPendingVoterShare,omitempty"`
	Notes                    []string  `json:"notes,omitempty"`
	Problems                 []Problem `json:"problems"`
}

// OK reports whether every check held.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// maxProblemsPerCheck keeps a badly broken file's report readable.
const maxProblemsPerCheck = 20

// Verify rebuilds the Merkle root from the node amounts, checks it against
// the file's root, checks every stored proof, and checks the totals
// identities the file carries.
func Verify(f *RewardsFile) *Report {
	r := &Report{
		RewardsFileVersion: f.RewardsFileVersion, Network: f.Network, Index: f.Index,
		Nodes: len(f.NodeRewards), StoredRoot: f.MerkleRoot, Problems: []Problem{},
	}
	if f.HasRulesetVersion {
		rs := f.RulesetVersion
		r.RulesetVersion = &rs
	}
	counts := map[string]int{}
	add := func(p Problem) {
		counts[p.Check]++
		if counts[p.Check] <= maxProblemsPerCheck {
			r.Problems = append(r.Problems, p)
		} else if counts[p.Check] == maxProblemsPerCheck+1 {
			r.Problems = append(r.Problems, Problem{Check: p.Check, Detail: "further problems of this kind omitted"})
		}
	}
	if err := f.checkSorted(); err != nil {
		add(Problem{Check: "sorted", Detail: err.Error()})
	}
	verifyTree(f, r, add)
	verifyTotals(f, r, add)
	return r
}

func verifyTree(f *RewardsFile, r *Report, add func(Problem)) {
	t, err := f.BuildTree()
	if err != nil {
		add(Problem{Check: "root", Detail: fmt.Sprintf("cannot rebuild the tree: %v", err)})
		return
	}
	r.Leaves = t.Len()
	r.RebuiltRoot = t.Root()
	if r.RebuiltRoot != f.MerkleRoot {
		add(Problem{Check: "root", Field: "merkleRoot", Detail: fmt.Sprintf("file says %s, node amounts give %s", f.MerkleRoot.Hex(), r.RebuiltRoot.Hex())})
	}
	ver := f.LeafVersion()
	anyProof := false
	for i := range f.NodeRewards {
		if f.NodeRewards[i].MerkleProof != nil {
			anyProof = true
			break
		}
	}
	if !anyProof {
		r.Notes = append(r.Notes, "the file carries no Merkle proofs (SSZ form); root checked only")
		return
	}
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		addr := n.Address.Hex()
		if !f.HasLeaf(n) {
			if len(n.MerkleProof) > 0 {
				add(Problem{Check: "proof", Node: addr, Field: "merkleProof", Detail: "entry with all-zero amounts has no leaf but carries a proof"})
			}
			continue
		}
		p, err := LeafPreimage(ver, n.LeafAmounts())
		if err != nil {
			add(Problem{Check: "proof", Node: addr, Detail: err.Error()})
			continue
		}
		leaf := HashLeaf(p)
		want, err := t.Proof(leaf)
		if err != nil {
			add(Problem{Check: "proof", Node: addr, Detail: err.Error()})
			continue
		}
		r.ProofsChecked++
		if !VerifyProof(leaf, n.MerkleProof, f.MerkleRoot) {
			add(Problem{Check: "proof", Node: addr, Field: "merkleProof", Detail: fmt.Sprintf("stored proof does not lead from the leaf %s to the file's root", leaf.Hex())})
			continue
		}
		if len(want) != len(n.MerkleProof) {
			add(Problem{Check: "proof", Node: addr, Field: "merkleProof", Detail: fmt.Sprintf("stored proof has %d hashes, the tree gives %d", len(n.MerkleProof), len(want))})
			continue
		}
		for j := range want {
			if want[j] != n.MerkleProof[j] {
				add(Problem{Check: "proof", Node: addr, Field: "merkleProof", Detail: fmt.Sprintf("hash %d is %s, the tree gives %s", j, n.MerkleProof[j].Hex(), want[j].Hex())})
				break
			}
		}
	}
}

type netSums struct{ coll, odao, sp *big.Int }

func verifyTotals(f *RewardsFile, r *Report, add func(Problem)) {
	tr := &f.TotalRewards
	sumColl, sumODAO, sumSP, sumVoter := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
	nets := map[uint64]*netSums{}
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		sumColl.Add(sumColl, n.CollateralRpl.Ref())
		sumODAO.Add(sumODAO, n.OracleDaoRpl.Ref())
		sumSP.Add(sumSP, n.SmoothingPoolEth.Ref())
		sumVoter.Add(sumVoter, n.VoterShareEth.Ref())
		s := nets[n.RewardNetwork]
		if s == nil {
			s = &netSums{new(big.Int), new(big.Int), new(big.Int)}
			nets[n.RewardNetwork] = s
		}
		s.coll.Add(s.coll, n.CollateralRpl.Ref())
		s.odao.Add(s.odao, n.OracleDaoRpl.Ref())
		s.sp.Add(s.sp, n.SmoothingPoolEth.Ref())
		s.sp.Add(s.sp, n.VoterShareEth.Ref())
	}
	eq := func(check, field string, file *big.Int, sum *big.Int, what string) {
		if file.Cmp(sum) != 0 {
			add(Problem{Check: check, Field: field, Detail: fmt.Sprintf("file says %s, %s is %s (off by %s)", file, what, sum, new(big.Int).Sub(file, sum))})
		}
	}
	eq("total", "totalRewards.totalCollateralRpl", tr.TotalCollateralRpl.Ref(), sumColl, "the sum over nodes")
	eq("total", "totalRewards.totalOracleDaoRpl", tr.TotalOracleDaoRpl.Ref(), sumODAO, "the sum over nodes")
	eq("total", "totalRewards.nodeOperatorSmoothingPoolEth", tr.NodeOperatorSmoothingPoolEth.Ref(), sumSP, "the sum of node smoothingPoolEth")
	if f.RewardsFileVersion >= 4 && tr.TotalVoterShareEth != nil {
		eq("total", "totalRewards.totalVoterShareEth", tr.TotalVoterShareEth.Ref(), sumVoter, "the sum of node voterShareEth")
	}

	// Network entries: each equals the sums of its nodes; every network with
	// node amounts has an entry.
	seen := map[uint64]bool{}
	for i := range f.NetworkRewards {
		nr := &f.NetworkRewards[i]
		seen[nr.Network] = true
		s := nets[nr.Network]
		if s == nil {
			s = &netSums{new(big.Int), new(big.Int), new(big.Int)}
		}
		pre := fmt.Sprintf("networkRewards[%d].", nr.Network)
		eq("network", pre+"collateralRpl", nr.CollateralRpl.Ref(), s.coll, "the sum over its nodes")
		eq("network", pre+"oracleDaoRpl", nr.OracleDaoRpl.Ref(), s.odao, "the sum over its nodes")
		what := "the sum of its nodes' smoothingPoolEth"
		if f.RewardsFileVersion >= 4 {
			what = "the sum of its nodes' smoothingPoolEth + voterShareEth"
		}
		eq("network", pre+"smoothingPoolEth", nr.SmoothingPoolEth.Ref(), s.sp, what)
	}
	for id, s := range nets {
		if !seen[id] && (s.coll.Sign() != 0 || s.odao.Sign() != 0 || s.sp.Sign() != 0) {
			add(Problem{Check: "network", Field: "networkRewards", Detail: fmt.Sprintf("nodes on reward network %d have amounts but the network has no entry", id)})
		}
	}

	// The Smoothing Pool split.
	split := new(big.Int).Add(tr.PoolStakerSmoothingPoolEth.Ref(), tr.NodeOperatorSmoothingPoolEth.Ref())
	if f.RewardsFileVersion < 4 {
		eq("split", "totalRewards.totalSmoothingPoolEth", tr.TotalSmoothingPoolEth.Ref(), split, "poolStaker + nodeOperator")
		return
	}
	if tr.TotalVoterShareEth == nil || tr.SmoothingPoolVoterShareEth == nil {
		add(Problem{Check: "split", Field: "totalRewards", Detail: "version 4 file lacks totalVoterShareEth or smoothingPoolVoterShareEth"})
		return
	}
	split.Add(split, tr.TotalVoterShareEth.Ref())
	if tr.TotalPdaoShareEth == nil || tr.TotalPdaoShareEth.IsNull() {
		// The SSZ layout lacks the pDAO share, so only PVS − pDAO is known,
		// and it may be negative.
		diff := new(big.Int).Sub(split, tr.TotalSmoothingPoolEth.Ref())
		r.Notes = append(r.Notes, fmt.Sprintf("totalPdaoShareEth is not in the file (SSZ form): pending voter share − pDAO share = %s wei", diff))
		return
	}
	split.Add(split, tr.TotalPdaoShareEth.Ref())
	pvs := new(big.Int).Sub(split, tr.TotalSmoothingPoolEth.Ref())
	if pvs.Sign() < 0 {
		add(Problem{Check: "split", Field: "totalRewards.totalSmoothingPoolEth", Detail: fmt.Sprintf("poolStaker + nodeOperator + voter + pDAO is %s, less than the pool balance %s", split, tr.TotalSmoothingPoolEth.Ref())})
		return
	}
	b := NewBigInt(pvs)
	r.ImpliedPendingVoterShare = &b
}
