package testutil

import "testing"

func TestReadSharedGunzips(t *testing.T) {
	data := ReadShared(t, "canonical/rp-rewards-testnet-149.json.gz")
	if len(data) != 35040 {
		t.Fatalf("testnet-149 rewards file: got %d bytes, want 35040 (size recorded in shared/testdata/README.md)", len(data))
	}
}
