//go:build integration

package scenario_test

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// gethVersion is the pinned geth built for the integration tier (same as the go-ethereum module version).
const gethVersion = "v1.17.8"

// gethBinary returns $SIMNET_GETH, or builds geth at the pinned version into the user cache directory once
// (`go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.8`, ~3 minutes cold).
func gethBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SIMNET_GETH"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("user cache dir: %v", err)
	}
	dir := filepath.Join(cache, "odaowatch", "geth-"+gethVersion)
	bin := filepath.Join(dir, "geth")
	if out, err := exec.Command(bin, "version").Output(); err == nil && strings.Contains(string(out), strings.TrimPrefix(gethVersion, "v")+"-stable") {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/ethereum/go-ethereum/cmd/geth@"+gethVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t.Logf("building geth %s into %s", gethVersion, dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("build geth %s: %v", gethVersion, err)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startGethDev runs geth --dev on loopback ports and returns a connected client and the dev account.
func startGethDev(t *testing.T, ctx context.Context) (*ethclient.Client, common.Address) {
	t.Helper()
	bin := gethBinary(t)
	httpPort, authPort, p2pPort := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(bin, "--dev", "--datadir", t.TempDir(),
		"--http", "--http.addr", "127.0.0.1", "--http.port", fmt.Sprint(httpPort), "--http.api", "eth,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", fmt.Sprint(authPort),
		"--port", fmt.Sprint(p2pPort), "--nodiscover", "--maxpeers", "0", "--ipcdisable", "--verbosity", "2")
	logf, err := os.Create(filepath.Join(t.TempDir(), "geth.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start geth: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := ethclient.DialContext(ctx, url)
		if err == nil {
			var accounts []common.Address
			if err = c.Client().CallContext(ctx, &accounts, "eth_accounts"); err == nil && len(accounts) > 0 {
				return c, accounts[0]
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			raw, _ := os.ReadFile(logf.Name())
			t.Fatalf("geth --dev not ready at %s: %v\n%s", url, err, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fund sends ETH from geth's unlocked dev account.
func fund(t *testing.T, ctx context.Context, c *ethclient.Client, from, to common.Address, wei *big.Int) {
	t.Helper()
	var h common.Hash
	if err := c.Client().CallContext(ctx, &h, "eth_sendTransaction", map[string]interface{}{
		"from": from, "to": to, "value": (*hexutil.Big)(wei),
	}); err != nil {
		t.Fatalf("fund %s: %v", to.Hex(), err)
	}
	for i := 0; i < 100; i++ {
		if r, err := c.TransactionReceipt(ctx, h); err == nil && r.Status == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("funding transaction %s not mined", h.Hex())
}

// The two-interval scenario seeded on geth --dev; the oDAO reaches consensus over JSON-RPC and an external
// client reads the executed snapshot from the logs.
func TestScenarioOnGethDev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, dev := startGethDev(t, ctx)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := loadExample(t)
	alloc, err := s.GenesisAlloc()
	if err != nil {
		t.Fatal(err)
	}
	for addr := range alloc {
		fund(t, ctx, client, dev, addr, new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
	}
	start := time.Now()
	net, err := scenario.Seed(ctx, client, s, chainID, nil)
	if err != nil {
		t.Fatalf("seed on geth --dev: %v", err)
	}
	if _, err := net.ApplyUntil(ctx, 1700000768); err != nil {
		t.Fatalf("apply events: %v", err)
	}
	t.Logf("deployed and seeded in %s", time.Since(start))

	d := net.Deployment
	call := &bind.CallOpts{Context: ctx}
	spBal, err := client.BalanceAt(ctx, d.Addresses[contracts.NameSmoothingPool], nil)
	if err != nil || spBal.String() != "400000000000000000" { // 0.1 + 0.25 + 0.05 ETH paid by t = 1700000768
		t.Fatalf("smoothing pool = %v (%v), want 0.4 ETH", spBal, err)
	}
	sub := bindings.RewardSubmission{
		RewardIndex: big.NewInt(0), ExecutionBlock: big.NewInt(1), ConsensusBlock: big.NewInt(64),
		MerkleRoot: common.HexToHash("0x01"), IntervalsPassed: big.NewInt(1), SmoothingPoolETH: spBal,
		TreasuryRPL: big.NewInt(0), TreasuryETH: big.NewInt(0), UserETH: spBal,
		TrustedNodeRPL: []*big.Int{big.NewInt(0)}, NodeRPL: []*big.Int{big.NewInt(0)}, NodeETH: []*big.Int{big.NewInt(0)},
	}
	vote := func(i int) error {
		o, err := bind.NewKeyedTransactorWithChainID(net.Members[i].Key, chainID)
		if err != nil {
			return err
		}
		o.Context = ctx
		tx, err := d.RewardsPool.SubmitRewardSnapshot(o, sub)
		if err != nil {
			return err
		}
		r, err := bind.WaitMined(ctx, client, tx)
		if err != nil {
			return err
		}
		if r.Status != 1 {
			return fmt.Errorf("vote of member %d reverted", i)
		}
		return nil
	}
	if err := vote(0); err != nil {
		t.Fatal(err)
	}
	if err := vote(0); err == nil || !strings.Contains(err.Error(), "Duplicate submission from node") {
		t.Fatalf("duplicate vote: %v, want a revert", err)
	}
	if idx, _ := d.RewardsPool.GetRewardIndex(call); idx.Sign() != 0 {
		t.Fatal("executed with 1 of 3 votes")
	}
	if err := vote(1); err != nil { // 2/3 >= 0.51
		t.Fatal(err)
	}
	it, err := d.RewardsPool.FilterRewardSnapshot(&bind.FilterOpts{Start: 0, Context: ctx}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() {
		t.Fatalf("no RewardSnapshot log (%v)", it.Error())
	}
	if it.Event.Submission.MerkleRoot != sub.MerkleRoot || it.Event.IntervalEndTime.Uint64() != 1700000768 {
		t.Fatalf("RewardSnapshot = root %x end %s", it.Event.Submission.MerkleRoot, it.Event.IntervalEndTime)
	}
	rethBal, _ := client.BalanceAt(ctx, d.Addresses[contracts.NameTokenRETH], nil)
	if rethBal.Cmp(spBal) != 0 {
		t.Fatalf("rETH received %s, want %s", rethBal, spBal)
	}
}
