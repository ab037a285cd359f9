package watchtower_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/watchtower"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/sim"
)

// The child process: one member, configured from the environment, with an optional kill point where it
// announces itself on stderr and stops until the parent sends SIGKILL.
func TestKillChild(t *testing.T) {
	if os.Getenv("WT_CHILD") != "1" {
		t.Skip("helper process for TestKill9")
	}
	log := zerolog.New(os.Stderr).Level(zerolog.TraceLevel).With().Timestamp().Logger()
	point := os.Getenv("WT_KILLPOINT")
	stopAt := func(name string) func(uint64) {
		return func(uint64) {
			if point == name {
				fmt.Fprintf(os.Stderr, "KILLPOINT %s\n", name)
				select {}
			}
		}
	}
	ctx := context.Background()
	m, err := watchtower.NewMember(ctx, watchtower.MemberConfig{
		Name: "child", ELURL: os.Getenv("WT_EL"), BeaconURLs: []string{os.Getenv("WT_BEACON")},
		Storage: common.HexToAddress(os.Getenv("WT_STORAGE")), Multicall: common.HexToAddress(os.Getenv("WT_MULTICALL")),
		Network: "devnet", DataDir: os.Getenv("WT_DATADIR"), Keystore: os.Getenv("WT_KEYSTORE"), PasswordFile: os.Getenv("WT_PASSWORD"),
		Tx:    watchtower.TxConfig{PollInterval: 20 * time.Millisecond, Timeout: time.Minute},
		Log:   log,
		Hooks: rewardsduty.Hooks{AfterSigned: stopAt("after-signed"), AfterSent: stopAt("after-sent"), AfterVoteMined: stopAt("after-receipt")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "CHILD ERROR", err)
		os.Exit(3)
	}
	m.Duty.Loop(ctx, 50*time.Millisecond, nil)
}

type child struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	seen  chan struct{}
}

func (c *child) has(sub string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (c *child) find(sub string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

func startChild(t *testing.T, env []string, point string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(append(os.Environ(), env...), "WT_CHILD=1", "WT_KILLPOINT="+point)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, seen: make(chan struct{}, 1024)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
			select {
			case c.seen <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

// waitFor waits until a line containing sub appears (bounded).
func (c *child) waitFor(t *testing.T, sub string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !c.has(sub) {
		if c.has("CHILD ERROR") {
			t.Fatalf("child failed: %v", c.find("CHILD ERROR"))
		}
		select {
		case <-deadline:
			c.kill(t)
			c.mu.Lock()
			tail := c.lines
			if len(tail) > 30 {
				tail = tail[len(tail)-30:]
			}
			c.mu.Unlock()
			t.Fatalf("child never logged %q (%d lines, %v); last lines:\n%s", sub, len(c.lines), c.cmd.ProcessState, strings.Join(tail, "\n"))
		case <-c.seen:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Kill() // SIGKILL
	_ = c.cmd.Wait()
}

// TestKill9 runs a member as a subprocess and SIGKILLs it during the scan, after its vote was broadcast and
// before the receipt (the vote is then mined while it is down), and after the receipt; each restart must
// resume (no rescan of stored epochs, no second vote) and the root must not change. A second, in-process
// member then votes the same submission: the executed consensus root equals the killed member's root, and the
// killed member's account sent exactly one transaction.
func TestKill9(t *testing.T) {
	if os.Getenv("WT_CHILD") == "1" {
		t.Skip("child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, env, childDir, pwFile := killNetwork(t, ctx, 40*time.Millisecond)
	member := r.Net.Members[0]
	// 1. Killed during the scan.
	c := startChild(t, env, "")
	c.waitFor(t, `"epoch stored"`, 30*time.Second)
	c.kill(t)
	if c.has("interval generated") {
		t.Fatal("generation finished before the kill: the scan was not interrupted")
	}
	stored := len(c.find(`"epoch stored"`))

	// 2. Restart: resumes the scan, generates, broadcasts its vote, killed before the receipt.
	c = startChild(t, env, "after-sent")
	c.waitFor(t, "KILLPOINT after-sent", 30*time.Second)
	c.kill(t)
	starts := c.find(`"scan started"`)
	dones := c.find(`"scan done"`)
	if len(starts) != 1 || len(dones) != 1 {
		t.Fatalf("scan log lines: %d started, %d done", len(starts), len(dones))
	}
	// Every epoch stored before the kill (logged after its bbolt commit) is reused, only the rest is scanned.
	resumed, scanned := dones[0]["resumed_epochs"].(float64), dones[0]["scanned_epochs"].(float64)
	if int(resumed) < stored || stored < 1 {
		t.Fatalf("restart resumed %v epochs; %d were stored before the kill", resumed, stored)
	}
	if scanned < 1 || scanned != starts[0]["pending_epochs"].(float64) {
		t.Fatalf("restart scanned %v epochs (pending %v): the kill came after the scan", scanned, starts[0]["pending_epochs"])
	}
	gen := c.find("interval generated and files written")
	if len(gen) != 1 {
		t.Fatalf("%d generations in run 2", len(gen))
	}
	root := gen[0]["root"].(string)

	// 3. Restart with the vote still in the pool: resumes the saved transaction (no new one), the chain moves
	// on, the receipt arrives; killed right after it, before the vote is recorded in its state.
	c = startChild(t, env, "after-receipt")
	c.waitFor(t, "resuming a saved vote", 30*time.Second) // before any block: the vote is not mined yet
	stepCtx, stopStep := context.WithCancel(ctx)
	stepped := make(chan struct{})
	go func() {
		defer close(stepped)
		for stepCtx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			_ = r.Step(stepCtx)
		}
	}()
	c.waitFor(t, "KILLPOINT after-receipt", 30*time.Second)
	c.kill(t)
	stopStep()
	<-stepped
	if c.has("interval generated") || c.has(`"transaction sent"`) {
		t.Fatal("run 3 regenerated or sent a new transaction")
	}

	// 4. Restart: sees its vote on chain and waits for consensus.
	c = startChild(t, env, "")
	c.waitFor(t, "waiting for consensus", 30*time.Second) // logged after the vote is recorded in its state
	c.kill(t)
	if !c.has("vote found on chain") {
		t.Fatal("run 4 did not find its vote on chain")
	}
	if c.has("interval generated") || c.has(`"transaction sent"`) {
		t.Fatal("run 4 regenerated or sent a new transaction")
	}

	st, err := rewardsduty.OpenState(filepath.Join(childDir, "duty.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(0)
	_ = st.Close()
	if err != nil || rec == nil || rec.Submission.MerkleRoot.Hex() != root || rec.SentCount != 1 || rec.Phase != rewardsduty.PhaseVoted {
		t.Fatalf("child state %+v (%v), root from its log %s", rec, err, root)
	}
	nonce, err := r.EL.Client().NonceAt(ctx, member.Address, nil)
	if err != nil || nonce != 1 {
		t.Fatalf("killed member's account sent %d transactions (%v), want exactly 1", nonce, err)
	}
	pool := r.Net.Deployment.RewardsPool
	if ok, err := pool.GetTrustedNodeSubmitted(&bind.CallOpts{Context: ctx}, member.Address, big.NewInt(0)); err != nil || !ok {
		t.Fatalf("vote flag %v %v", ok, err)
	}

	// An independent in-process member votes; 2 of 3 execute. The consensus root is the killed member's root.
	other, err := watchtower.NewMember(ctx, watchtower.MemberConfig{Name: "other", ELURL: r.EL.URL(), BeaconURLs: []string{r.Server.URL()},
		Storage: r.Net.Deployment.StorageAddress, Multicall: r.Net.Deployment.Multicall, Network: "devnet", DataDir: filepath.Join(t.TempDir(), "other"),
		Keystore: r.Keystores[1], PasswordFile: pwFile, Tx: watchtower.TxConfig{PollInterval: 20 * time.Millisecond, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stepCtx, stopStep = context.WithCancel(ctx)
	go func() {
		for stepCtx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			_ = r.Step(stepCtx)
		}
	}()
	var res *rewardsduty.Result
	for i := 0; i < 100; i++ {
		if res, err = other.Duty.Tick(ctx); err == nil && res.Index == 0 && res.Phase == rewardsduty.PhaseExecuted {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopStep()
	if res == nil || res.Phase != rewardsduty.PhaseExecuted {
		t.Fatalf("other member: %+v %v", res, err)
	}
	idx, err := pool.GetRewardIndex(&bind.CallOpts{Context: ctx})
	if err != nil || idx.Uint64() != 1 {
		t.Fatalf("reward index %v %v: not executed", idx, err)
	}
	if res.Root.Hex() != root {
		t.Fatalf("independent member's root %s differs from the killed member's %s", res.Root.Hex(), root)
	}
}

// killNetwork starts the simulated network for the kill -9 tests, advanced to slot 240 (interval 0 ends at
// slot 128, snapshot slot 159; the epoch after its target is finalized by slot 240), with a beacon endpoint
// that answers with the given latency (so a scan is long enough to be killed in the middle). It returns the
// runner, the child member's environment, its data directory and the keystore password file.
func killNetwork(t *testing.T, ctx context.Context, latency time.Duration) (r *scenario.Runner, env []string, childDir, pwFile string) {
	t.Helper()
	s, err := scenario.Parse(sim.DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err = scenario.Start(ctx, scenario.RunConfig{Scenario: s, KeystoreDir: filepath.Join(dir, "keys"), KeystorePassword: "pw",
		Beacon: simbeacon.Scenario{Seed: 11, ValidatorCount: 256, MissedSlotRate: 0.05, LateInclusionRate: 0.05, Fork: "electra"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	slow, err := simbeacon.NewServer(ctx, simbeacon.WithChain(r.Chain), simbeacon.WithListenAddress("127.0.0.1:0"),
		simbeacon.WithFaults(simbeacon.Faults{Latency: latency, SkipNodeEndpoints: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cc := context.WithTimeout(context.Background(), 5*time.Second)
		defer cc()
		_ = slow.Stop(c)
	})
	for r.HeadSlot() < phase0.Slot(240) {
		if err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pwFile = filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	childDir = filepath.Join(dir, "child")
	env = []string{"WT_EL=" + r.EL.URL(), "WT_BEACON=" + slow.URL(), "WT_STORAGE=" + r.Net.Deployment.StorageAddress.Hex(),
		"WT_MULTICALL=" + r.Net.Deployment.Multicall.Hex(), "WT_DATADIR=" + childDir, "WT_KEYSTORE=" + r.Keystores[0], "WT_PASSWORD=" + pwFile}
	return r, env, childDir, pwFile
}
