package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/tree"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ---- verify-file ----

type verifyResult struct {
	File     string       `json:"file"`
	Encoding string       `json:"encoding"`
	OK       bool         `json:"ok"`
	Error    string       `json:"error,omitempty"`
	Report   *tree.Report `json:"report,omitempty"`
}

func newVerifyFileCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify-file FILE...",
		Short: "Rebuild the Merkle root from the node amounts and check root, proofs and totals",
		Long: `verify-file reads rewards files (JSON or SSZ, optionally .gz or .zst compressed; the format is
recognised by content), rebuilds the Merkle root from the per-node amounts, checks it against the
file's merkleRoot, checks every stored proof, and checks the totals identities the file carries.
It exits 0 only if every check of every file holds.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			results := make([]verifyResult, 0, len(args))
			allOK := true
			for _, path := range args {
				res := verifyResult{File: path}
				f, enc, err := tree.ReadRewardsFile(path)
				res.Encoding = enc.String()
				if err != nil {
					res.Error = err.Error()
				} else {
					res.Report = tree.Verify(f)
					res.OK = res.Report.OK()
				}
				allOK = allOK && res.OK
				if !asJSON {
					printVerify(out, res)
				}
				results = append(results, res)
			}
			if asJSON {
				if err := writeJSON(out, results); err != nil {
					return err
				}
			}
			if !allOK {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

func printVerify(w io.Writer, res verifyResult) {
	if res.Error != "" {
		fmt.Fprintf(w, "FAIL %s: %s\n", res.File, res.Error)
		return
	}
	r := res.Report
	status := "OK  "
	if !res.OK {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s\n", status, res.File)
	ruleset := "absent"
	if r.RulesetVersion != nil {
		ruleset = fmt.Sprint(*r.RulesetVersion)
	}
	fmt.Fprintf(w, "     %s interval %d, file version %d, ruleset %s, %s\n", r.Network, r.Index, r.RewardsFileVersion, ruleset, res.Encoding)
	fmt.Fprintf(w, "     nodes %d, leaves %d, proofs checked %d\n", r.Nodes, r.Leaves, r.ProofsChecked)
	fmt.Fprintf(w, "     merkle root (file)    %s\n", r.StoredRoot.Hex())
	fmt.Fprintf(w, "     merkle root (rebuilt) %s\n", r.RebuiltRoot.Hex())
	if r.ImpliedPendingVoterShare != nil {
		fmt.Fprintf(w, "     implied pending voter share %s wei\n", r.ImpliedPendingVoterShare)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "     note: %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "     problem: %s\n", p)
	}
}

// ---- proof ----

type proofResult struct {
	File             string        `json:"file"`
	Address          string        `json:"address"`
	RewardNetwork    uint64        `json:"rewardNetwork"`
	CollateralRpl    string        `json:"collateralRpl"`
	OracleDaoRpl     string        `json:"oracleDaoRpl"`
	SmoothingPoolEth string        `json:"smoothingPoolEth"`
	VoterShareEth    string        `json:"voterShareEth,omitempty"`
	LeafVersion      int           `json:"leafVersion"`
	LeafPreimage     string        `json:"leafPreimage"`
	Leaf             common.Hash   `json:"leaf"`
	Proof            []common.Hash `json:"proof"`
	ProofSource      string        `json:"proofSource"`
	Root             common.Hash   `json:"root"`
	Verifies         bool          `json:"verifies"`
	FileRootRebuilds bool          `json:"fileRootRebuilds"`
	Index            uint64        `json:"index"`
	// OnChain is set with --ec-endpoint: the interval's root on chain and whether it equals the file's.
	OnChain *onChain `json:"onChain,omitempty"`
}

func newProofCmd() *cobra.Command {
	var file, address string
	var asJSON bool
	var oc onChainFlags
	cmd := &cobra.Command{
		Use:   "proof --file FILE --address 0x… [--ec-endpoint URL]",
		Short: "Show a node's amounts, leaf and Merkle proof, and whether it verifies against the file's root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" || address == "" {
				return fmt.Errorf("both --file and --address are required")
			}
			if !common.IsHexAddress(address) {
				return fmt.Errorf("--address %q is not a 20-byte hex address", address)
			}
			addr := common.HexToAddress(address)
			f, _, err := tree.ReadRewardsFile(file)
			if err != nil {
				return err
			}
			n := f.Node(addr)
			if n == nil {
				return fmt.Errorf("node %s has no entry in %s (%d nodes)", addr.Hex(), file, len(f.NodeRewards))
			}
			if !f.HasLeaf(n) {
				return fmt.Errorf("node %s has only zero amounts in %s and therefore no leaf", addr.Hex(), file)
			}
			t, err := f.BuildTree()
			if err != nil {
				return err
			}
			ver := f.LeafVersion()
			pre, err := tree.LeafPreimage(ver, n.LeafAmounts())
			if err != nil {
				return err
			}
			res := proofResult{
				File: file, Address: strings.ToLower(addr.Hex()), RewardNetwork: n.RewardNetwork,
				CollateralRpl: n.CollateralRpl.String(), OracleDaoRpl: n.OracleDaoRpl.String(),
				SmoothingPoolEth: n.SmoothingPoolEth.String(), LeafVersion: int(ver),
				LeafPreimage: "0x" + common.Bytes2Hex(pre), Leaf: tree.HashLeaf(pre), Root: f.MerkleRoot,
				FileRootRebuilds: t.Root() == f.MerkleRoot, Index: f.Index,
			}
			if ver == tree.LeafV1 {
				res.VoterShareEth = n.VoterShareEth.String()
			}
			if n.MerkleProof != nil {
				res.Proof, res.ProofSource = n.MerkleProof, "stored in the file"
			} else {
				if res.Proof, err = t.Proof(res.Leaf); err != nil {
					return err
				}
				res.ProofSource = "rebuilt from the file's node amounts (the SSZ form stores no proofs)"
			}
			if res.Proof == nil {
				res.Proof = []common.Hash{}
			}
			res.Verifies = tree.VerifyProof(res.Leaf, res.Proof, f.MerkleRoot)
			if oc.ec != "" {
				if res.OnChain, err = rootOnChain(cmd.Context(), oc, f.Index, f.MerkleRoot); err != nil {
					return fmt.Errorf("compare with the chain: %w", err)
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, res); err != nil {
					return err
				}
			} else {
				printProof(w, res)
			}
			if !res.Verifies || !res.FileRootRebuilds || (res.OnChain != nil && res.OnChain.Executed && !res.OnChain.Matches) {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "rewards file (JSON or SSZ, optionally compressed)")
	cmd.Flags().StringVar(&address, "address", "", "node address")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&oc.ec, "ec-endpoint", "", "execution client URL: also compare the file's root with the interval's root on chain")
	cmd.Flags().StringVar(&oc.storage, "storage-address", "", "RocketStorage address (default: mainnet's or Hoodi's by chain id)")
	cmd.Flags().StringVar(&oc.multicall, "multicall", execution.DefaultMulticall3.Hex(), "Multicall3 address")
	cmd.Flags().DurationVar(&oc.timeout, "timeout", 2*time.Minute, "timeout of the on-chain comparison")
	return cmd
}

func ethString(wei string) string {
	x, ok := new(big.Int).SetString(wei, 10)
	if !ok {
		return wei
	}
	q, r := new(big.Int).QuoRem(x, big.NewInt(1e18), new(big.Int))
	frac := fmt.Sprintf("%018s", r.String())
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return q.String()
	}
	return q.String() + "." + frac
}

func printProof(w io.Writer, r proofResult) {
	fmt.Fprintf(w, "node            %s (reward network %d)\n", r.Address, r.RewardNetwork)
	fmt.Fprintf(w, "collateral RPL  %s (%s RPL)\n", r.CollateralRpl, ethString(r.CollateralRpl))
	fmt.Fprintf(w, "oracle DAO RPL  %s (%s RPL)\n", r.OracleDaoRpl, ethString(r.OracleDaoRpl))
	fmt.Fprintf(w, "smoothing pool  %s (%s ETH)\n", r.SmoothingPoolEth, ethString(r.SmoothingPoolEth))
	if r.VoterShareEth != "" {
		fmt.Fprintf(w, "voter share     %s (%s ETH)\n", r.VoterShareEth, ethString(r.VoterShareEth))
	}
	fmt.Fprintf(w, "leaf (v%d, %d B) %s\n", r.LeafVersion, (len(r.LeafPreimage)-2)/2, r.Leaf.Hex())
	fmt.Fprintf(w, "proof           %d hashes, %s\n", len(r.Proof), r.ProofSource)
	for i, h := range r.Proof {
		fmt.Fprintf(w, "  %2d %s\n", i, h.Hex())
	}
	fmt.Fprintf(w, "merkle root     %s\n", r.Root.Hex())
	verdict := "VERIFIES against the file's root"
	if !r.Verifies {
		verdict = "DOES NOT VERIFY against the file's root"
	}
	fmt.Fprintf(w, "proof           %s\n", verdict)
	if !r.FileRootRebuilds {
		fmt.Fprintf(w, "warning         the file's root does not rebuild from its node amounts: run verify-file\n")
	}
	switch oc := r.OnChain; {
	case oc == nil:
	case !oc.Executed:
		fmt.Fprintf(w, "on-chain root   interval %d is not executed yet on chain %d: nothing to compare\n", r.Index, oc.ChainID)
	case oc.Matches:
		fmt.Fprintf(w, "on-chain root   %s (interval %d, chain %d): MATCHES the file\n", oc.Root.Hex(), r.Index, oc.ChainID)
	default:
		fmt.Fprintf(w, "on-chain root   %s (interval %d, chain %d): DIFFERS from the file's root: do not claim with this file\n", oc.Root.Hex(), r.Index, oc.ChainID)
	}
}

// ---- convert ----

func newConvertCmd() *cobra.Command {
	var to, out string
	cmd := &cobra.Command{
		Use:   "convert FILE --to ssz|json [--out PATH]",
		Short: "Convert a rewards file between its JSON and SSZ forms without changing the root",
		Long: `convert re-encodes a verified rewards file. SSZ → JSON regenerates the proofs from the node
amounts. The SSZ layout has no room for the JSON-only fields totalProtocolDaoEth, totalPdaoShareEth
(written as "null" when converting back) and minipoolPerformanceFileCid; everything else and the
Merkle root are kept. The output is written atomically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := args[0]
			f, _, err := tree.ReadRewardsFile(in)
			if err != nil {
				return err
			}
			if r := tree.Verify(f); !r.OK() {
				return fmt.Errorf("%s does not verify (%s); refusing to convert", in, r.Problems[0])
			}
			root := f.MerkleRoot
			var data []byte
			switch to {
			case "ssz":
				data, err = f.MarshalSSZ()
			case "json":
				if _, err = f.Seal(); err == nil && f.MerkleRoot != root {
					err = fmt.Errorf("rebuilt root %s differs from %s", f.MerkleRoot.Hex(), root.Hex())
				}
				if err == nil {
					data, err = f.MarshalJSON()
				}
			default:
				return fmt.Errorf("--to must be ssz or json, not %q", to)
			}
			if err != nil {
				return fmt.Errorf("convert %s: %w", in, err)
			}
			// Check the output before writing it.
			g, _, err := tree.DecodeRewardsFile(data)
			if err != nil {
				return fmt.Errorf("convert %s: the %s output does not decode: %w", in, to, err)
			}
			if r := tree.Verify(g); !r.OK() || g.MerkleRoot != root {
				return fmt.Errorf("convert %s: the %s output does not verify", in, to)
			}
			if out == "" {
				out = defaultConvertPath(in, to)
			}
			if err := tree.WriteFileAtomic(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes), merkle root %s\n", out, len(data), root.Hex())
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "target form: ssz or json")
	cmd.Flags().StringVar(&out, "out", "", "output path (default: input name with the new extension, in the same folder)")
	return cmd
}

func defaultConvertPath(in, to string) string {
	base := in
	for _, ext := range []string{".gz", ".zst"} {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".json"), ".ssz")
	return base + "." + to
}

// ---- cid ----

func newCIDCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cid FILE...",
		Short: "Print the IPFS CID of a file as the reference computes it (1 MiB raw leaves, CIDv1, wrapping directory)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				c, err := tree.CIDFile(p)
				if err != nil {
					return fmt.Errorf("cid of %s: %w", p, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", c, p)
			}
			return nil
		},
	}
}
