package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/interval/simtest"
	"github.com/odaowatch/watchtower/tree"
)

func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestIntervalFlagsRejectBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "1"},
		{"--interval", "1", "--ec-endpoint", "http://127.0.0.1:1"},
		{"--interval", "-3", "--ec-endpoint", "http://127.0.0.1:1", "--bn-endpoint", "http://127.0.0.1:2"},
		{"--interval", "1", "--ec-endpoint", "http://127.0.0.1:1", "--bn-endpoint", "http://127.0.0.1:2", "--multicall", "0x12"},
	} {
		if _, _, err := runSplit(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	// Without --interval the root command prints its help and the other commands are unchanged.
	out, _, err := runSplit(t)
	if err != nil || !strings.Contains(out, "--interval") || !strings.Contains(out, "verify-file") {
		t.Fatalf("help: %v\n%s", err, out)
	}
}

// `treegen --interval N` against the loopback EL and beacon endpoints of the simulated network reproduces the
// root the oDAO agreed on (and says so), writes every file, and reports a forced wrong ruleset as a mismatch.
func TestIntervalCommandReproducesAgreedRoot(t *testing.T) {
	simtest.Build(t, "electra", [3]int{11, 11, 11}, simtest.Hooks{Executed: func(sn *simtest.Net, index int64, root common.Hash) {
		if index != 1 {
			return
		}
		d := sn.Network.Deployment
		dir := t.TempDir()
		base := []string{"--interval", "1", "--ec-endpoint", sn.EL.URL(), "--storage-address", d.StorageAddress.Hex(),
			"--multicall", d.Multicall.Hex(), "--progress", "log"}
		out, logs, err := runSplit(t, append(base, "--bn-endpoint", strings.Join(sn.URLs, ","), "--output-dir", dir, "--concurrency", "16",
			"--data-dir", filepath.Join(dir, "data"))...)
		if err != nil {
			t.Fatalf("treegen --interval 1: %v\n%s\n%s", err, out, logs)
		}
		if !strings.HasPrefix(out, root.Hex()+"\n") || !strings.Contains(out, "root matches canonical "+root.Hex()) {
			t.Fatalf("output does not give the agreed root %s:\n%s", root.Hex(), out)
		}
		if !strings.Contains(logs, "scan progress") || !strings.Contains(logs, "interval generated") {
			t.Fatalf("no progress log lines:\n%s", logs)
		}
		for _, name := range []string{"rp-rewards-1337-1.json", "rp-rewards-1337-1.ssz", "rp-performance-1337-1.json", "rp-snapshot-1337-1.json",
			"rp-duties-1337-1.json.zst", "rp-duties-1337-1.digests.txt", "rp-rewards-event-devnet-0.yaml", "rp-rewards-event-devnet-1.yaml", "data/scan.db"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("missing output: %v", err)
			}
		}
		// The written files verify and carry the agreed root; compute over the saved inputs gives it again.
		f, _, err := tree.ReadRewardsFile(filepath.Join(dir, "rp-rewards-1337-1.ssz"))
		if err != nil || !tree.Verify(f).OK() || f.MerkleRoot != root {
			t.Fatalf("SSZ file: %v, root %v", err, f)
		}
		again, err := run(t, "compute", "--snapshot", filepath.Join(dir, "rp-snapshot-1337-1.json"), "--duties", filepath.Join(dir, "rp-duties-1337-1.json.zst"),
			"--out", t.TempDir())
		if err != nil || !strings.HasPrefix(again, root.Hex()) {
			t.Fatalf("compute over the saved inputs: %v\n%s", err, again)
		}

		// One beacon node, committees from the API: same root. A forced v10 differs from the agreed v11 root.
		out, logs, err = runSplit(t, append(base, "--bn-endpoint", sn.URLs[2], "--output-dir", t.TempDir(), "--committees", "api", "--concurrency", "1")...)
		if err != nil || !strings.Contains(out, "root matches canonical "+root.Hex()) {
			t.Fatalf("one node, API committees: %v\n%s\n%s", err, out, logs)
		}
		v10 := t.TempDir()
		out, _, err = runSplit(t, append(base, "--bn-endpoint", sn.URLs[0], "--output-dir", v10, "--ruleset", "10")...)
		if !errors.Is(err, errReported) || !strings.Contains(out, "MISMATCH") || !strings.Contains(out, "merkleRoot: canonical "+root.Hex()) {
			t.Fatalf("forced v10: %v\n%s", err, out)
		}

		// A node operator checks a proof against the chain: the agreed file matches, the v10 file does not.
		var node string
		for i := range f.NodeRewards {
			if f.HasLeaf(&f.NodeRewards[i]) {
				node = f.NodeRewards[i].Address.Hex()
				break
			}
		}
		chainArgs := []string{"--address", node, "--ec-endpoint", sn.EL.URL(), "--storage-address", d.StorageAddress.Hex(), "--multicall", d.Multicall.Hex()}
		out, err = run(t, append([]string{"proof", "--file", filepath.Join(dir, "rp-rewards-1337-1.json")}, chainArgs...)...)
		if err != nil || !strings.Contains(out, "VERIFIES") || !strings.Contains(out, "on-chain root   "+root.Hex()+" (interval 1, chain 1337): MATCHES") {
			t.Fatalf("proof against the chain: %v\n%s", err, out)
		}
		out, err = run(t, append([]string{"proof", "--file", filepath.Join(v10, "rp-rewards-1337-1.json")}, chainArgs...)...)
		if !errors.Is(err, errReported) || !strings.Contains(out, "VERIFIES against the file's root") || !strings.Contains(out, "DIFFERS") {
			t.Fatalf("v10 file against the chain: %v\n%s", err, out)
		}
		// The same file labelled interval 2, which is not executed yet: nothing to compare, not an error.
		raw, err := os.ReadFile(filepath.Join(dir, "rp-rewards-1337-1.json"))
		if err != nil || !bytes.Contains(raw, []byte(`"index":1,`)) {
			t.Fatalf("read rewards file: %v", err)
		}
		next := filepath.Join(t.TempDir(), "rp-rewards-1337-2.json")
		if err := os.WriteFile(next, bytes.Replace(raw, []byte(`"index":1,`), []byte(`"index":2,`), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err = run(t, append([]string{"proof", "--file", next}, chainArgs...)...)
		if err != nil || !strings.Contains(out, "interval 2 is not executed yet on chain 1337") {
			t.Fatalf("open interval against the chain: %v\n%s", err, out)
		}
	}})
}

func TestProgressDisplay(t *testing.T) {
	var b bytes.Buffer
	bar := &progressBar{w: &b}
	bar.finish()
	if b.Len() != 0 {
		t.Fatal("finish without a bar printed something")
	}
	// 10 of 40 epochs in 20 s with 300 blocks: 15 blocks/s; 2 s per epoch x 30 epochs left = 60 s.
	p := interval.Progress{Index: 7, EpochsDone: 10, Epochs: 40, Blocks: 300, Elapsed: 20 * time.Second}
	if rate(p) != 15 || eta(p) != time.Minute {
		t.Fatalf("rate %v eta %v", rate(p), eta(p))
	}
	bar.update(p)
	bar.finish()
	want := "\rinterval 7 [=======                       ] 10/40 epochs  15.0 blocks/s  ETA 1m0s   \n"
	if b.String() != want {
		t.Fatalf("bar %q, want %q", b.String(), want)
	}
	if eta(interval.Progress{Epochs: 5}) != 0 || rate(interval.Progress{Blocks: 5}) != 0 {
		t.Fatal("no progress yet must give zero rate and ETA")
	}
	if isTerminal(&b) {
		t.Fatal("a buffer is not a terminal")
	}
}
