package tree

import (
	"testing"

	"github.com/odaowatch/watchtower/internal/testutil"
)

// BenchmarkSealMainnet20 builds the tree and every proof of mainnet interval
// 20 (2,435 leaves, width 4096) from the decoded node amounts.
func BenchmarkSealMainnet20(b *testing.B) {
	f, _, err := DecodeRewardsFile(testutil.ReadShared(b, "canonical/rp-rewards-mainnet-20.json.gz"))
	if err != nil {
		b.Fatal(err)
	}
	want := f.MerkleRoot
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Seal(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if f.MerkleRoot != want {
		b.Fatalf("root %s, want %s", f.MerkleRoot.Hex(), want.Hex())
	}
}

// BenchmarkVerifyMainnet20 is the whole verify-file pipeline after reading:
// decode the 2.8 MB JSON, rebuild, check every proof and total.
func BenchmarkVerifyMainnet20(b *testing.B) {
	raw := testutil.ReadShared(b, "canonical/rp-rewards-mainnet-20.json.gz")
	plain, _, _ := Decompressed(raw)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, _, err := DecodeRewardsFile(plain)
		if err != nil {
			b.Fatal(err)
		}
		if r := Verify(f); !r.OK() {
			b.Fatal(r.Problems)
		}
	}
}
