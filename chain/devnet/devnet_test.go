//go:build devnet

package devnet_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/devnet"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// intervalEpochs is the length of reward interval 0. It starts with epoch 1 and ends at slot 192 (epoch 6
// is its target epoch: duties of epochs 1..6, snapshot slot 223), and it can be generated once epoch 7 is
// finalized, at the start of epoch 9 (≈ 580 s after the genesis at 2-s slots). It must be long: the open
// interval's timing counts the intervals passed at the head, and a second interval has passed at the start
// of epoch 11 — from then on the target moves on to epoch 11, which finalizes only after another has passed,
// and so on. With finality two epochs behind the head, an interval of L epochs leaves a window of L − 3
// epochs to generate it; 5 epochs leave 2 (128 s) to the members.
const intervalEpochs = 5

// intervals are generated and executed one after the other; interval 1 is due once epoch 12 is finalized
// (≈ 15 min after the genesis).
const intervals = 2

// tierTimeout bounds the whole tier (binaries cached): about 16 minutes are expected.
const tierTimeout = 25 * time.Minute

// TestDevnet runs the tier against one devnet: geth + Prysm beacon node + Prysm validator client with 64
// interop validators (4 of them offline), our protocol deployed from a genesis-funded key, the interop keys
// registered as minipool and megapool validators of six nodes (one paying itself instead of the Smoothing
// Pool), three `watchtower run` members, and `treegen --interval 0`.
func TestDevnet(t *testing.T) {
	if os.Getenv("SKIP_DEVNET") == "1" {
		t.Skip("SKIP_DEVNET=1")
	}
	start := time.Now()
	root, err := devnet.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The build has its own bound (devnet.BuildTimeout): a cold build must not eat the tier's time.
	bins, err := devnet.Build(context.Background(), root, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client binaries ready after %s", time.Since(start).Round(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), tierTimeout)
	defer cancel()
	dir := t.TempDir()

	// Our own binaries build while the devnet waits for its genesis.
	ours := buildOurs(ctx, root, filepath.Join(dir, "bin"))

	var proto *devnet.Protocol
	dn, err := devnet.New(ctx, devnet.WithBinaries(bins), devnet.WithRepoRoot(root), devnet.WithDir(filepath.Join(dir, "devnet")),
		devnet.WithValidators(devnet.LayoutValidators), devnet.WithOffline(devnet.LayoutOffline),
		devnet.WithSetup(func(g *devnet.Genesis) (*devnet.Setup, error) {
			var err error
			if proto, err = devnet.NewProtocol(ctx, g, intervalEpochs); err != nil {
				return nil, err
			}
			return proto.Setup(g)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("devnet logs (tails):\n%s", dn.Tails(40))
		}
		if err := dn.Stop(); err != nil {
			t.Errorf("stop devnet: %v", err)
		}
	})
	g := dn.Genesis
	t.Logf("devnet up: EL %s, beacon %s, genesis in %s, pids %v", dn.ELURL, dn.BeaconURL,
		time.Until(time.Unix(int64(g.Time), 0)).Round(time.Second), dn.PIDs())

	ec, err := ethclient.DialContext(ctx, dn.ELURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if err := dn.WaitHeadSlot(ctx, 1, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	seedCtx, seedCancel := context.WithTimeout(ctx, 3*time.Minute)
	net, err := proto.Seed(seedCtx, ec)
	if err == nil {
		_, err = net.ApplyUntil(seedCtx, g.Time)
	}
	seedCancel()
	if err != nil {
		t.Fatalf("%v\n%s", err, dn.Tails(20))
	}
	seededSlot, err := dn.HeadSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("protocol deployed and seeded by slot %d (%s after genesis); RocketStorage %s", seededSlot,
		time.Since(time.Unix(int64(g.Time), 0)).Round(time.Second), net.Deployment.StorageAddress.Hex())
	if seededSlot >= devnet.IntervalStartSlot {
		// The members' defection followers start with the first slot after the finalized epoch 0 (slot 32)
		// and need the protocol to exist there; the tier's timing assumes seeding within epoch 0 (≈ 18 slots).
		t.Fatalf("seeding ended at slot %d, after interval 0 began (slot %d): this machine is too slow for the tier's timing", seededSlot, devnet.IntervalStartSlot)
	}

	bin, err := ours.wait()
	if err != nil {
		t.Fatal(err)
	}
	members := startMembers(t, bin, dir, dn, net)

	bn, err := beacon.New(ctx, beacon.WithAddresses(dn.BeaconURL), beacon.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer bn.Close()

	// While interval 0 runs: the simulated beacon server must answer like Prysm.
	t.Run("conformance", func(t *testing.T) {
		if err := dn.WaitHeadSlot(ctx, 40, time.Minute); err != nil {
			t.Fatal(err)
		}
		testConformance(ctx, t, dn)
	})

	el, err := execution.New(ctx, execution.WithClient(ec), execution.WithStorageAddress(net.Deployment.StorageAddress),
		execution.WithMulticall(net.Deployment.Multicall), execution.WithNetwork("devnet"))
	if err != nil {
		t.Fatal(err)
	}

	// Intervals 0 and 1, one after the other: due when the epoch after the target epoch is finalized, voted
	// and executed by the members, regenerated by treegen. Interval 0 pays no Smoothing Pool rewards (the rules'
	// interval 0), so interval 1 is the one whose root depends on every attestation duty.
	outs := make([]*interval.Output, intervals)
	for idx := uint64(0); idx < intervals; idx++ {
		target := devnet.IntervalStartSlot/32 + (idx+1)*intervalEpochs
		if err := dn.WaitFinalized(ctx, target+1, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("interval %d due: epoch %d finalized %s after genesis", idx, target+1, time.Since(time.Unix(int64(g.Time), 0)).Round(time.Second))
		var ev *execution.RewardEvent
		t.Run(fmt.Sprintf("members-consensus-%d", idx), func(t *testing.T) {
			ev = waitConsensus(ctx, t, dn, net, el, members, idx)
		})
		if ev == nil {
			t.FailNow()
		}
		if idx == 0 {
			// The simulated rewards pool mints no inflation: the guardian sets the next interval's RPL.
			setPendingRPL(ctx, t, ec, net)
		}
		t.Run(fmt.Sprintf("treegen-%d", idx), func(t *testing.T) {
			outs[idx] = testTreegen(ctx, t, bin, dn, net, el, bn, ev)
		})
		if outs[idx] == nil {
			t.FailNow()
		}
	}
	t.Run("committees", func(t *testing.T) {
		for _, out := range outs {
			testCommittees(ctx, t, bn, out)
		}
	})
	t.Run("defections", func(t *testing.T) {
		testDefections(ctx, t, dn, net, ec, bn, proto, seededSlot, outs, members)
	})
	t.Run("duty-oracle", func(t *testing.T) {
		testDutyOracle(ctx, t, dn, bn, el, outs)
	})
	t.Logf("devnet tier done in %s", time.Since(start).Round(time.Second))
}

// testWriter sends a build script's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ourBinaries builds cmd/watchtower and cmd/treegen in the background.
type ourBinaries struct {
	done chan struct{}
	dir  string
	err  error
}

func buildOurs(ctx context.Context, root, dir string) *ourBinaries {
	b := &ourBinaries{done: make(chan struct{}), dir: dir}
	go func() {
		defer close(b.done)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/watchtower", "./cmd/treegen")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build watchtower and treegen: %v\n%s", err, out)
		}
	}()
	return b
}

func (b *ourBinaries) wait() (string, error) {
	<-b.done
	return b.dir, b.err
}

// member is one `watchtower run` process.
type member struct {
	name    string
	account common.Address
	cmd     *exec.Cmd
	log     string
	outDir  string
	done    chan struct{}
	waitErr error
}

func (m *member) tail(n int) string {
	raw, _ := os.ReadFile(m.log)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startMembers runs the three oDAO members as `watchtower run` processes, each with its own config file,
// keystore, password file, data directory and metrics port; they are stopped by PID when the test ends.
func startMembers(t *testing.T, binDir, dir string, dn *devnet.Devnet, net *scenario.Network) []*member {
	t.Helper()
	const password = "devnet-member-password"
	keys, err := net.Scenario.WriteKeystores(filepath.Join(dir, "keystores"), password)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "keystores", "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var members []*member
	for i, acct := range net.Members {
		mdir := filepath.Join(dir, acct.Name)
		if err := os.MkdirAll(mdir, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`network: devnet
data-dir: %q
execution: {url: %q}
beacon: {urls: [%q]}
contracts: {rocket-storage: %q, multicall3: %q}
wallet: {keystore: %q, password-file: %q}
tick-period: 2s
tx: {poll-interval: 1s}
metrics: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, filepath.Join(mdir, "data"), dn.ELURL, dn.BeaconURL, net.Deployment.StorageAddress.Hex(), net.Deployment.Multicall.Hex(), keys[i], pw)
		cfgPath := filepath.Join(mdir, "watchtower.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(mdir, "watchtower.log")
		lf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(binDir, "watchtower"), "run", "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start member %s: %v", acct.Name, err)
		}
		m := &member{name: acct.Name, account: acct.Address, cmd: cmd, log: logPath, outDir: filepath.Join(mdir, "data", "rewards"), done: make(chan struct{})}
		go func() {
			m.waitErr = cmd.Wait()
			_ = lf.Close()
			close(m.done)
		}()
		members = append(members, m)
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-m.done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-m.done
				t.Errorf("member %s (pid %d) ignored SIGTERM and was killed", m.name, cmd.Process.Pid)
			}
			if t.Failed() {
				t.Logf("member %s log (tail):\n%s", m.name, m.tail(30))
			}
		})
	}
	return members
}

// waitConsensus waits until the members' votes executed interval index and checks that at least two members
// voted and that every member wrote the executed root.
func waitConsensus(ctx context.Context, t *testing.T, dn *devnet.Devnet, net *scenario.Network, el *execution.Service, members []*member, index uint64) *execution.RewardEvent {
	pool := net.Deployment.RewardsPool
	alive := func() error {
		for _, m := range members {
			select {
			case <-m.done:
				return fmt.Errorf("member %s exited: %v\n%s", m.name, m.waitErr, m.tail(30))
			default:
			}
		}
		return nil
	}
	err := dn.WaitFor(ctx, fmt.Sprintf("the members to execute interval %d", index), 4*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		if err := alive(); err != nil {
			return false, err
		}
		idx, err := pool.GetRewardIndex(&bind.CallOpts{Context: ctx})
		return err == nil && idx.Uint64() > index, nil
	})
	if err != nil {
		for _, m := range members {
			t.Logf("member %s (tail):\n%s", m.name, m.tail(15))
		}
		t.Fatal(err)
	}
	ev, err := el.RewardSnapshotEvent(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("interval %d executed: root %s, consensus block %d, EL block %d", index, ev.MerkleRoot.Hex(), ev.ConsensusBlock, ev.ExecutionBlock)
	votes := 0
	for _, m := range members {
		// Two votes execute the snapshot; the third member then finds the index moved on and does not vote,
		// but it has generated the interval too: every member wrote the same root.
		voted, err := pool.GetTrustedNodeSubmitted(&bind.CallOpts{Context: ctx}, m.account, new(big.Int).SetUint64(index))
		if err != nil {
			t.Fatal(err)
		}
		if voted {
			votes++
		}
		root, err := waitMemberRoot(ctx, m, index)
		if err != nil {
			t.Errorf("member %s: %v\n%s", m.name, err, m.tail(20))
			continue
		}
		if root != ev.MerkleRoot.Hex() {
			t.Errorf("member %s wrote root %s, executed %s", m.name, root, ev.MerkleRoot.Hex())
		}
		t.Logf("member %s: root %s, vote on chain %t", m.name, root, voted)
	}
	if votes < 2 {
		t.Errorf("only %d members' votes on chain for executed interval %d", votes, index)
	}
	return ev
}

var merkleRootRe = regexp.MustCompile(`"merkleRoot"\s*:\s*"(0x[0-9a-fA-F]{64})"`)

// waitMemberRoot reads the root of the rewards file the member wrote for index (up to 60 s after the
// execution: a member that did not vote first may still be generating).
func waitMemberRoot(ctx context.Context, m *member, index uint64) (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(m.outDir, fmt.Sprint(index), fmt.Sprintf("rp-rewards-*-%d.json", index)))
		if len(files) == 1 {
			raw, err := os.ReadFile(files[0])
			if err != nil {
				return "", err
			}
			if mm := merkleRootRe.FindSubmatch(raw); mm != nil {
				return strings.ToLower(string(mm[1])), nil
			}
			return "", fmt.Errorf("%s has no merkleRoot", files[0])
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("no rewards file for interval %d in %s (found %v)", index, m.outDir, files)
		}
		time.Sleep(time.Second)
	}
}

// testTreegen runs the treegen binary for the executed interval of ev (it must match the executed root) and
// generates the same interval in process for the other checks.
func testTreegen(ctx context.Context, t *testing.T, binDir string, dn *devnet.Devnet, net *scenario.Network, el *execution.Service, bn *beacon.Service, ev *execution.RewardEvent) *interval.Output {
	outDir := t.TempDir()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	index := fmt.Sprint(ev.Index)
	cmd := exec.CommandContext(cctx, filepath.Join(binDir, "treegen"), "--interval", index, "--ec-endpoint", dn.ELURL, "--bn-endpoint", dn.BeaconURL,
		"--storage-address", net.Deployment.StorageAddress.Hex(), "--multicall", net.Deployment.Multicall.Hex(),
		"--output-dir", outDir, "--progress", "none")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || !strings.Contains(stdout.String(), "root matches canonical "+ev.MerkleRoot.Hex()) {
		t.Fatalf("treegen --interval %s: %v\n%s\n%s", index, err, stdout.String(), lastLines(stderr.String(), 20))
	}
	t.Logf("treegen --interval %s:\n%s", index, stdout.String())

	sc, err := interval.NewBeaconScanner(bn, interval.ScannerConfig{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	g, err := interval.New(ctx, interval.WithExecution(el), interval.WithBeacon(bn), interval.WithScanner(sc), interval.WithNetwork("devnet"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Generate(ctx, int64(ev.Index))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Matches() {
		t.Fatalf("in-process interval %d differs from the executed submission: %v", ev.Index, out.Differences)
	}
	tm := out.Timing
	t.Logf("interval %d: slots %d..%d, EL blocks %d..%d, %d protocol validators, %d successful attestations, Smoothing Pool %s wei",
		ev.Index, tm.ConsensusStartBlock, tm.ConsensusEndBlock, tm.ExecutionStartBlock, tm.ExecutionEndBlock, len(out.Snapshot.Validators),
		out.Result.SuccessfulAttestations, out.Result.Totals.TotalSmoothingPoolETH)
	if ev.Index > 0 && (out.Result.SuccessfulAttestations == 0 || out.Result.Totals.TotalSmoothingPoolETH == nil || out.Result.Totals.TotalSmoothingPoolETH.Sign() == 0) {
		t.Fatalf("interval %d pays no Smoothing Pool rewards for attestations: the duties would not reach the root", ev.Index)
	}
	return out
}

// setPendingRPL has the guardian set the next interval's RPL rewards (the simulated pool mints none).
func setPendingRPL(ctx context.Context, t *testing.T, ec *ethclient.Client, net *scenario.Network) {
	opts, err := bind.NewKeyedTransactorWithChainID(net.Guardian.Key, big.NewInt(devnet.ChainID))
	if err != nil {
		t.Fatal(err)
	}
	opts.Context = ctx
	tx, err := net.Deployment.RewardsPool.SimSetPendingRPLRewards(opts, new(big.Int).Mul(big.NewInt(8000), big.NewInt(1e18)))
	if err != nil {
		t.Fatalf("set pending RPL: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if r, err := bind.WaitMined(wctx, ec, tx); err != nil || r.Status != 1 {
		t.Fatalf("set pending RPL: %v (receipt %+v)", err, r)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[uint64]V) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
