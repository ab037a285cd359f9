package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odaowatch/watchtower/rewards"
)

func wei(eth int64) rewards.Wei {
	return rewards.NewWei(new(big.Int).Mul(big.NewInt(eth), big.NewInt(1e18)))
}

// smallInterval writes a v10 snapshot (plain JSON) and duty record (gzip) for
// a 10-epoch interval with two nodes and returns their paths.
func smallInterval(t *testing.T) (string, string, *rewards.Snapshot) {
	t.Helper()
	const genesis = 1_600_000_000
	s := &rewards.Snapshot{
		Version: rewards.SnapshotVersion, Network: "mainnet", ChainID: 1, GenesisTime: genesis, SecondsPerSlot: 12, SlotsPerEpoch: 32,
		Index: 30, IntervalsPassed: 1, IntervalTime: 28 * 86400, ClaimIntervalTimeStart: genesis,
		ConsensusStartSlot: 3200, SnapshotSlot: 3519, ConsensusStartBlock: 3200, ConsensusEndBlock: 3519,
		ExecutionStartBlock: 100, ExecutionEndBlock: 400, ELStartTime: genesis + 3200*12, ELEndTime: genesis + 3519*12,
		PendingRPL: wei(1000), NodePerc: rewards.NewWei(big.NewInt(7e17)), TrustedNodePerc: rewards.NewWei(big.NewInt(15e15)),
		ProtocolDAOPerc: rewards.NewWei(big.NewInt(285e15)), RPLPrice: rewards.NewWei(big.NewInt(1e16)), SmoothingPoolBalance: wei(10),
	}
	for i := 1; i <= 2; i++ {
		var a, m rewards.Address
		var k rewards.Pubkey
		a[19], m[19], m[18], k[47] = byte(i), byte(i), 0xee, byte(i)
		s.Nodes = append(s.Nodes, rewards.Node{Address: a, RegistrationTime: 1, SmoothingPoolRegistered: true, SmoothingPoolChangeTime: 1, LegacyStakedRPL: wei(int64(100 * i))})
		s.Minipools = append(s.Minipools, rewards.Minipool{Address: m, Pubkey: k, Node: a, Status: rewards.MinipoolStaking, StatusTime: 1,
			NodeFee: rewards.NewWei(big.NewInt(1e17)), NodeDepositBalance: wei(16), UserDepositBalance: wei(16)})
		s.Validators = append(s.Validators, rewards.BeaconValidator{Pubkey: k, Index: uint64(i), Status: "active_ongoing", ActivationEpoch: 1,
			ExitEpoch: rewards.FarFutureEpoch, WithdrawableEpoch: rewards.FarFutureEpoch})
	}
	s.OracleDAO = []rewards.ODAOMember{{Address: s.Nodes[0].Address, JoinedTime: 1}}
	b := rewards.NewDutyRecordBuilder(30, 3200, 3519)
	for e := uint64(100); e < 110; e++ {
		for v := uint64(1); v <= 2; v++ {
			incl := e*32 + 1
			if v == 2 && e == 105 {
				incl = 0 // one miss
			}
			if err := b.AddDuty(v, e*32, incl); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	sp := filepath.Join(dir, "snapshot.json")
	data, err := s.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dp := filepath.Join(dir, "duties.json.gz")
	dd, err := b.Build().MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(dd)
	zw.Close()
	if err := os.WriteFile(dp, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return sp, dp, s
}

func TestComputeCommand(t *testing.T) {
	sp, dp, s := smallInterval(t)
	out1, out2 := t.TempDir(), t.TempDir()
	o, err := run(t, "compute", "--snapshot", sp, "--duties", dp, "--out", out1, "--json")
	if err != nil {
		t.Fatalf("compute: %v\n%s", err, o)
	}
	var sum computeSummary
	if err := json.Unmarshal([]byte(o), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, o)
	}
	if sum.Ruleset != 10 || len(sum.Files) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	// SP: two 16-ETH 10 % minipools, score 0.55/duty, 10 + 9 duties: scores 5.5e18 and 4.95e18.
	// nodeOpTotal = 10e18 * 10.45e18 / 19 / 1e18 = 5.5e18;
	// 5.5e18 * 5.5 / 10.45 = 2894736842105263157.9 → …157; 5.5e18 * 4.95 / 10.45 = 2605263157894736842.1 → …842
	// paid 5499999999999999999, rETH 10e18 - that = 4500000000000000001.
	if sum.NodeOperatorEth != "5499999999999999999" || sum.PoolStakerEth != "4500000000000000001" {
		t.Errorf("split %s / %s", sum.NodeOperatorEth, sum.PoolStakerEth)
	}
	want, _ := s.Digest()
	if sum.SnapshotDigest != want {
		t.Errorf("digest %s, want %s", sum.SnapshotDigest, want)
	}
	// The output verifies with verify-file, JSON and SSZ.
	jsonPath := filepath.Join(out1, "rp-rewards-mainnet-30.json")
	if o, err := run(t, "verify-file", jsonPath, filepath.Join(out1, "rp-rewards-mainnet-30.ssz")); err != nil {
		t.Fatalf("verify-file: %v\n%s", err, o)
	}
	// Same inputs → byte-identical files.
	if o, err := run(t, "compute", "--snapshot", sp, "--duties", dp, "--out", out2); err != nil || !strings.HasPrefix(o, sum.MerkleRoot) {
		t.Fatalf("second compute: %v\n%s", err, o)
	}
	for _, name := range []string{"rp-rewards-mainnet-30.json", "rp-rewards-mainnet-30.ssz", "rp-minipool-performance-mainnet-30.json"} {
		a, err1 := os.ReadFile(filepath.Join(out1, name))
		b, err2 := os.ReadFile(filepath.Join(out2, name))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between runs (%v, %v)", name, err1, err2)
		}
	}
	// snapshot-digest prints the same digest.
	o, err = run(t, "snapshot-digest", sp)
	if err != nil || !strings.HasPrefix(o, want+"  ") {
		t.Errorf("snapshot-digest: %v %q", err, o)
	}
}

func TestComputeCommandBadInput(t *testing.T) {
	sp, dp, _ := smallInterval(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"version":1,"network":"mainnet","pendingRpl":"x"}`), 0o644)
	for _, args := range [][]string{
		{"compute", "--snapshot", sp},
		{"compute", "--snapshot", bad, "--duties", dp},
		{"compute", "--snapshot", sp, "--duties", sp},
		{"snapshot-digest", bad},
	} {
		if o, err := run(t, args...); err == nil {
			t.Errorf("%v: want an error, got\n%s", args, o)
		}
	}
}
