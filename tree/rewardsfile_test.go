package tree

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/odaowatch/watchtower/internal/testutil"
)

// canonicalRoots are the merkleRoot values recorded in shared/testdata/README.md.
var canonicalRoots = map[string]string{
	"rp-rewards-mainnet-1.json.gz":   "0xb060f0964ce14117075608a69835f4e5e3b872936d3fba2dbb17e202b5c2a7d1",
	"rp-rewards-mainnet-20.json.gz":  "0x55afb0387fb4c1c8e479f49433b996bce1d1c4658cf8e58f7a9ea3d3c5099eb2",
	"rp-rewards-mainnet-30.json.gz":  "0x021b434c4f6bc565225d03d77ba722f41668f5805574f8825c49d4f68b4e89b9",
	"rp-rewards-mainnet-46.json.gz":  "0x8cb45bcefd498b8788e6291c4dc086694c85b495fb60e9d5b047e7b921929d48",
	"rp-rewards-mainnet-51.json.gz":  "0x767f99e3831cf2d70ac45b0bc003dce3092205f87c27efd495ef20528d95ef77",
	"rp-rewards-testnet-139.json.gz": "0x8f1aaa8d40738e9bc40b2d6dc532bc164cf11258adfe71ce0eeedfbfef0d2d21",
	"rp-rewards-testnet-149.json.gz": "0xa472037fabb4c66e32c18abcdee224e7e666e33da9389a953297862a907374c2",
}

var canonicalNodes = map[string]int{
	"rp-rewards-mainnet-1.json.gz": 1499, "rp-rewards-mainnet-20.json.gz": 2435, "rp-rewards-mainnet-30.json.gz": 2135,
	"rp-rewards-mainnet-46.json.gz": 1594, "rp-rewards-mainnet-51.json.gz": 1444, "rp-rewards-testnet-139.json.gz": 45,
	"rp-rewards-testnet-149.json.gz": 47,
}

func loadCanonical(t testing.TB, name string) *RewardsFile {
	t.Helper()
	f, enc, err := DecodeRewardsFile(testutil.ReadShared(t, "canonical/"+name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if enc.Format != "json" {
		t.Fatalf("%s: detected %s", name, enc)
	}
	return f
}

func TestVerifyCanonical(t *testing.T) {
	for name, root := range canonicalRoots {
		t.Run(name, func(t *testing.T) {
			f := loadCanonical(t, name)
			r := Verify(f)
			if !r.OK() {
				t.Fatalf("problems: %v", r.Problems)
			}
			if r.RebuiltRoot != common.HexToHash(root) {
				t.Fatalf("rebuilt %s, want %s", r.RebuiltRoot.Hex(), root)
			}
			if r.Nodes != canonicalNodes[name] || r.ProofsChecked != r.Leaves || r.Leaves != r.Nodes {
				t.Fatalf("nodes %d leaves %d proofs %d, want %d each", r.Nodes, r.Leaves, r.ProofsChecked, canonicalNodes[name])
			}
		})
	}
}

// TestVerifyImpliedPVS: mainnet 51 moved a pending voter share of
// 4.354054681868939473 ETH (rewards-rules §6.5); mainnet 46 none.
func TestVerifyImpliedPVS(t *testing.T) {
	r := Verify(loadCanonical(t, "rp-rewards-mainnet-51.json.gz"))
	if r.ImpliedPendingVoterShare == nil || r.ImpliedPendingVoterShare.String() != "4354054681868939473" {
		t.Fatalf("implied PVS %v, want 4354054681868939473", r.ImpliedPendingVoterShare)
	}
	r = Verify(loadCanonical(t, "rp-rewards-mainnet-46.json.gz"))
	if r.ImpliedPendingVoterShare == nil || r.ImpliedPendingVoterShare.String() != "0" {
		t.Fatalf("implied PVS %v, want 0", r.ImpliedPendingVoterShare)
	}
}

func hasProblem(r *Report, check, node, fieldPart string) bool {
	for _, p := range r.Problems {
		if p.Check == check && (node == "" || strings.EqualFold(p.Node, node)) && strings.Contains(p.Field, fieldPart) {
			return true
		}
	}
	return false
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, name := range []string{"rp-rewards-mainnet-20.json.gz", "rp-rewards-testnet-149.json.gz"} {
		// One wei more for one node: the root no longer matches, and the
		// totals identities name the field.
		f := loadCanonical(t, name)
		n := &f.NodeRewards[len(f.NodeRewards)/2]
		n.SmoothingPoolEth = NewBigInt(new(big.Int).Add(n.SmoothingPoolEth.Ref(), big.NewInt(1)))
		r := Verify(f)
		if r.OK() || !hasProblem(r, "root", "", "merkleRoot") || !hasProblem(r, "total", "", "nodeOperatorSmoothingPoolEth") {
			t.Fatalf("%s: amount change not reported as root+total problem: %v", name, r.Problems)
		}

		// One proof hash altered: exactly that node's proof is reported.
		f = loadCanonical(t, name)
		n = &f.NodeRewards[3]
		n.MerkleProof[1][5] ^= 0x40
		r = Verify(f)
		if len(r.Problems) != 1 || !hasProblem(r, "proof", n.Address.Hex(), "merkleProof") {
			t.Fatalf("%s: proof change: %v", name, r.Problems)
		}

		// The root altered: root mismatch, and every proof then fails.
		f = loadCanonical(t, name)
		f.MerkleRoot[0] ^= 1
		r = Verify(f)
		if !hasProblem(r, "root", "", "merkleRoot") || !hasProblem(r, "proof", "", "merkleProof") {
			t.Fatalf("%s: root change: %v", name, r.Problems)
		}

		// A total altered: the identity names it, the root is fine.
		f = loadCanonical(t, name)
		f.TotalRewards.TotalCollateralRpl = NewBigInt(new(big.Int).Add(f.TotalRewards.TotalCollateralRpl.Ref(), big.NewInt(7)))
		r = Verify(f)
		if len(r.Problems) != 1 || !hasProblem(r, "total", "", "totalCollateralRpl") {
			t.Fatalf("%s: total change: %v", name, r.Problems)
		}
	}
}

// semantic decodes JSON into generic values for comparison.
func semantic(t testing.TB, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJSONRoundTripCanonical: our writer reproduces every canonical file
// field by field (the canonical copies are re-indented, so compare values).
func TestJSONRoundTripCanonical(t *testing.T) {
	for name := range canonicalRoots {
		t.Run(name, func(t *testing.T) {
			raw := testutil.ReadShared(t, "canonical/"+name)
			f, _, err := DecodeRewardsFile(raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			plain, _, _ := Decompressed(raw)
			if !reflect.DeepEqual(semantic(t, plain), semantic(t, out)) {
				t.Fatal("re-encoded JSON differs from the canonical file")
			}
			// Field order follows the reference's struct order.
			var compact bytes.Buffer
			if err := json.Compact(&compact, plain); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compact.Bytes(), out) {
				t.Fatal("re-encoded JSON is not byte-identical to the compacted canonical file")
			}
		})
	}
}

// TestSSZRoundTrip: JSON → SSZ → JSON keeps every field the SSZ layout
// carries and the root; SSZ → decode → SSZ is byte-identical.
func TestSSZRoundTrip(t *testing.T) {
	for _, name := range []string{"rp-rewards-mainnet-30.json.gz", "rp-rewards-mainnet-46.json.gz", "rp-rewards-mainnet-51.json.gz", "rp-rewards-testnet-139.json.gz", "rp-rewards-testnet-149.json.gz", "rp-rewards-mainnet-20.json.gz"} {
		t.Run(name, func(t *testing.T) {
			f := loadCanonical(t, name)
			ssz, err := f.MarshalSSZ()
			if err != nil {
				t.Fatal(err)
			}
			g, enc, err := DecodeRewardsFile(ssz)
			if err != nil {
				t.Fatal(err)
			}
			if enc.Format != "ssz" || enc.ByteOrder != LittleEndian {
				t.Fatalf("decoded as %s", enc)
			}
			if r := Verify(g); !r.OK() || r.RebuiltRoot != f.MerkleRoot {
				t.Fatalf("SSZ form does not verify: %v", r.Problems)
			}
			again, err := g.MarshalSSZ()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ssz, again) {
				t.Fatal("SSZ → decode → SSZ is not byte-identical")
			}
			// Back to JSON: proofs are regenerated; the JSON-only totals
			// are the only difference.
			if _, err := g.Seal(); err != nil {
				t.Fatal(err)
			}
			want := *f
			want.TotalRewards.ProtocolDaoEth = nil
			want.MinipoolPerformanceFileCID = "" // ruleset 8 JSON only
			if f.RewardsFileVersion == 4 {
				null := NullBigInt()
				want.TotalRewards.TotalPdaoShareEth = &null
			}
			a, _ := want.MarshalJSON()
			b, _ := g.MarshalJSON()
			if !bytes.Equal(a, b) {
				t.Fatal("JSON → SSZ → JSON changed a field the SSZ layout carries")
			}
		})
	}
}

// TestSSZLayout pins header offsets and sizes to formats.md §3.
func TestSSZLayout(t *testing.T) {
	f := loadCanonical(t, "rp-rewards-testnet-149.json.gz")
	b, err := f.MarshalSSZ()
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "RPRU" || len(b) != 420+104*1+156*47 {
		t.Fatalf("magic %q, size %d, want RPRU and %d", b[:4], len(b), 420+104+156*47)
	}
	// 560048 = 0x088bb0, little-endian at offset 20.
	if !bytes.Equal(b[20:28], []byte{0xb0, 0x8b, 0x08, 0, 0, 0, 0, 0}) {
		t.Fatalf("network chain id bytes %x", b[20:28])
	}
	if !bytes.Equal(b[92:124], f.MerkleRoot[:]) {
		t.Fatal("merkle root not at offset 92")
	}
	g := loadCanonical(t, "rp-rewards-testnet-139.json.gz")
	b, _ = g.MarshalSSZ()
	if string(b[:4]) != "RPRT" || len(b) != 356+104+124*45 {
		t.Fatalf("v3: magic %q size %d", b[:4], len(b))
	}
}

// TestRPIP52Sample decodes the big-endian sample and rebuilds its root.
func TestRPIP52Sample(t *testing.T) {
	f, enc, err := DecodeRewardsFile(testutil.ReadShared(t, "cid/rp-rewards-holesky-155.ssz"))
	if err != nil {
		t.Fatal(err)
	}
	if enc.ByteOrder != BigEndian || f.Network != "17000" || f.Index != 155 || len(f.NodeRewards) != 84 {
		t.Fatalf("decoded %s network %s index %d nodes %d", enc, f.Network, f.Index, len(f.NodeRewards))
	}
	r := Verify(f)
	if r.RebuiltRoot != common.HexToHash("0xeb029e91bb80b636c4ef75e9e44bd29acaf04461f8d53df4779f53459024d07f") || hasProblem(r, "root", "", "") {
		t.Fatalf("root %s, problems %v", r.RebuiltRoot.Hex(), r.Problems)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := loadCanonical(t, "rp-rewards-testnet-149.json.gz").MarshalSSZ()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":             {},
		"not a file":        []byte("hello"),
		"short ssz":         good[:100],
		"cut node":          good[:len(good)-3],
		"bad offset":        append(append([]byte{}, good[:412]...), append([]byte{1, 0, 0, 0}, good[416:]...)...),
		"json array":        []byte(`[1,2]`),
		"json no version":   []byte(`{"index":1}`),
		"json bad version":  []byte(`{"rewardsFileVersion":9}`),
		"json unknown key":  []byte(`{"rewardsFileVersion":3,"rulesetVersion":10,"index":1,"network":"mainnet","startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-01T00:00:00Z","merkleRoot":"0x0000000000000000000000000000000000000000000000000000000000000000","totalRewards":{},"nodeRewards":{},"surprise":1}`),
		"json bad address":  []byte(`{"rewardsFileVersion":3,"rulesetVersion":10,"index":1,"network":"mainnet","startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-01T00:00:00Z","merkleRoot":"0x0000000000000000000000000000000000000000000000000000000000000000","totalRewards":{},"nodeRewards":{"0x12":{}}}`),
		"json bad amount":   []byte(`{"rewardsFileVersion":3,"rulesetVersion":10,"index":1,"network":"mainnet","startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-01T00:00:00Z","merkleRoot":"0x0000000000000000000000000000000000000000000000000000000000000000","totalRewards":{"protocolDaoRpl":"-5"},"nodeRewards":{}}`),
		"performance file":  []byte(`{"rewardsFileVersion":3,"minipoolPerformance":{}}`),
		"truncated json":    []byte(`{"rewardsFileVersion":3,"index":`),
		"gzip garbage":      {0x1f, 0x8b, 0, 1, 2},
		"zstd garbage":      {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3},
		"magic wrong vers.": append([]byte("RPRT"), good[4:]...),
	}
	for name, data := range cases {
		if _, _, err := DecodeRewardsFile(data); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// TestVerifySSZWithoutPdaoShare: the SSZ v4 form lacks totalPdaoShareEth, so
// a positive pDAO share larger than the pending voter share must not be
// reported as a broken split. Take testnet 149 (PVS 208130229090000000 wei)
// and add X = 300000000000000000 wei to both the pool balance and the pDAO
// share: the JSON still balances (implied PVS unchanged), the SSZ form notes
// PVS − pDAO = 208130229090000000 − 300000000000000000 = −91869770910000000.
func TestVerifySSZWithoutPdaoShare(t *testing.T) {
	f := loadCanonical(t, "rp-rewards-testnet-149.json.gz")
	move := big.NewInt(300000000000000000)
	f.TotalRewards.TotalSmoothingPoolEth = NewBigInt(new(big.Int).Add(f.TotalRewards.TotalSmoothingPoolEth.Ref(), move))
	pdao := NewBigInt(move)
	f.TotalRewards.TotalPdaoShareEth = &pdao
	r := Verify(f)
	if !r.OK() || r.ImpliedPendingVoterShare.String() != "208130229090000000" {
		t.Fatalf("JSON: problems %v, implied PVS %v", r.Problems, r.ImpliedPendingVoterShare)
	}
	b, err := f.MarshalSSZ()
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := DecodeRewardsFile(b)
	if err != nil {
		t.Fatal(err)
	}
	r = Verify(g)
	if !r.OK() || r.ImpliedPendingVoterShare != nil || len(r.Notes) == 0 || !strings.Contains(r.Notes[len(r.Notes)-1], "-91869770910000000") {
		t.Fatalf("SSZ: problems %v, notes %v", r.Problems, r.Notes)
	}
}
