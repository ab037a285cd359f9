package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odaowatch/watchtower/internal/testutil"
	"github.com/odaowatch/watchtower/tree"
)

// run executes treegen with args and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func canonical(t *testing.T, name string) string {
	return filepath.Join(testutil.SharedTestdata(t), "canonical", name)
}

func TestVerifyFileAllCanonical(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.SharedTestdata(t), "canonical", "rp-rewards-*.json.gz"))
	if err != nil || len(files) != 7 {
		t.Fatalf("want the 7 canonical rewards files, found %d (%v)", len(files), err)
	}
	out, err := run(t, append([]string{"verify-file", "--json"}, files...)...)
	if err != nil {
		t.Fatalf("verify-file failed: %v\n%s", err, out)
	}
	var res []verifyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.OK || r.Report.RebuiltRoot != r.Report.StoredRoot || r.Report.ProofsChecked != r.Report.Nodes {
			t.Errorf("%s: ok=%v rebuilt %s stored %s proofs %d/%d", r.File, r.OK, r.Report.RebuiltRoot.Hex(), r.Report.StoredRoot.Hex(), r.Report.ProofsChecked, r.Report.Nodes)
		}
	}
}

// tamper writes a modified copy of a canonical JSON file.
func tamper(t *testing.T, name, old, repl string) string {
	t.Helper()
	data := testutil.ReadShared(t, "canonical/"+name)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q not in %s", old, name)
	}
	data = bytes.Replace(data, []byte(old), []byte(repl), 1)
	p := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".gz"))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyFileNamesWhatFailed(t *testing.T) {
	// testnet-149, node 0x03f5…: collateral 14888020363377923294 → …295.
	p := tamper(t, "rp-rewards-testnet-149.json.gz", `"collateralRpl": "14888020363377923294"`, `"collateralRpl": "14888020363377923295"`)
	out, err := run(t, "verify-file", p)
	if err == nil || !strings.Contains(out, "FAIL") || !strings.Contains(out, "totalCollateralRpl") || !strings.Contains(out, "merkleRoot") {
		t.Fatalf("amount change: err=%v\n%s", err, out)
	}
	// One proof hash of that node.
	p = tamper(t, "rp-rewards-testnet-149.json.gz", "0xa379ac550bfba65e80565b9646ba3958675142f775f5f940f85f3d3a3627ae40", "0xa379ac550bfba65e80565b9646ba3958675142f775f5f940f85f3d3a3627ae41")
	out, err = run(t, "verify-file", p)
	if err == nil || !strings.Contains(strings.ToLower(out), "node 0x03f56480aeef3f6c39eeb5ae42469ba3f62b8622 field merkleproof") {
		t.Fatalf("proof change: err=%v\n%s", err, out)
	}
	// The root.
	p = tamper(t, "rp-rewards-testnet-149.json.gz", `"merkleRoot": "0xa472`, `"merkleRoot": "0xb472`)
	out, err = run(t, "verify-file", p)
	if err == nil || !strings.Contains(out, "root field merkleRoot") {
		t.Fatalf("root change: err=%v\n%s", err, out)
	}
	// Not a rewards file at all.
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte("{\"rewardsFileVersion\": 3, \"index\": "), 0o644)
	if out, err = run(t, "verify-file", bad); err == nil || !strings.Contains(out, "decode rewards JSON") {
		t.Fatalf("malformed: err=%v\n%s", err, out)
	}
}

func TestProofCommand(t *testing.T) {
	f := canonical(t, "rp-rewards-mainnet-20.json.gz")
	out, err := run(t, "proof", "--json", "--file", f, "--address", "0x2c6c5809a257ea74a2df6d20aee6119196d4bea0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r proofResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// leaf-samples.json: this node's 116-byte leaf hash.
	if !r.Verifies || r.Leaf.Hex() != "0x24511dc223a7d78dfc4083b1ad44e09b752f211b855ee4c09ba8457eaac9f5c4" || len(r.Proof) != 12 {
		t.Fatalf("unexpected proof result %+v", r)
	}
	if _, err := run(t, "proof", "--file", f, "--address", "0x000000000000000000000000000000000000dead"); err == nil {
		t.Fatal("unknown address must fail")
	}
	if _, err := run(t, "proof", "--file", f, "--address", "0x12"); err == nil {
		t.Fatal("malformed address must fail")
	}
}

func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := canonical(t, "rp-rewards-mainnet-51.json.gz")
	sszPath := filepath.Join(dir, "rp-rewards-mainnet-51.ssz")
	if out, err := run(t, "convert", src, "--to", "ssz", "--out", sszPath); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "back.json")
	if out, err := run(t, "convert", sszPath, "--to", "json", "--out", jsonPath); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a, _, err := tree.ReadRewardsFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := tree.ReadRewardsFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if a.MerkleRoot != b.MerkleRoot || len(a.NodeRewards) != len(b.NodeRewards) {
		t.Fatal("round trip changed the root or the node count")
	}
	for i := range a.NodeRewards {
		x, y := a.NodeRewards[i], b.NodeRewards[i]
		if x.Address != y.Address || x.CollateralRpl.String() != y.CollateralRpl.String() || x.VoterShareEth.String() != y.VoterShareEth.String() || len(x.MerkleProof) != len(y.MerkleProof) {
			t.Fatalf("node %d differs after round trip", i)
		}
	}
	// The proof command works on the SSZ form too (proofs rebuilt).
	out, err := run(t, "proof", "--file", sszPath, "--address", a.NodeRewards[7].Address.Hex())
	if err != nil || !strings.Contains(out, "VERIFIES") || !strings.Contains(out, "rebuilt") {
		t.Fatalf("proof on SSZ: %v\n%s", err, out)
	}
	// A tampered file is not converted.
	bad := tamper(t, "rp-rewards-testnet-149.json.gz", `"merkleRoot": "0xa472`, `"merkleRoot": "0xb472`)
	if _, err := run(t, "convert", bad, "--to", "ssz", "--out", filepath.Join(dir, "bad.ssz")); err == nil {
		t.Fatal("converting a file that does not verify must fail")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.ssz")); !os.IsNotExist(err) {
		t.Fatal("a refused conversion left a file behind")
	}
}

func TestCIDCommand(t *testing.T) {
	out, err := run(t, "cid", filepath.Join(testutil.SharedTestdata(t), "cid", "rp-rewards-holesky-155.ssz"))
	if err != nil || !strings.HasPrefix(out, "bafybeig4ofwnvou4bgehwzrc27nhfczd2cls5gzejsbliibrwm35owmaca") {
		t.Fatalf("%v\n%s", err, out)
	}
}
