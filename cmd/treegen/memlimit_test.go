package main

import (
	"runtime/debug"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1700MiB": 1700 << 20, "4GiB": 4 << 30, "512KiB": 512 << 10, "100B": 100, "42": 42, "0": 0} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5GiB", "lots", "12TB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMemoryLimitFlag: the root command applies --memory-limit before a
// subcommand runs (GOMEMLIMIT unset in the test environment).
func TestMemoryLimitFlag(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	if _, err := run(t, "--memory-limit", "1234MiB", "cid", "../../testdata/rp-rewards-testnet-149.json.gz"); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1234<<20 {
		t.Fatalf("memory limit %d, want %d", got, 1234<<20)
	}
	if _, err := run(t, "--memory-limit", "lots", "cid", "../../testdata/rp-rewards-testnet-149.json.gz"); err == nil {
		t.Fatal("a malformed limit must be an error")
	}
}
