// Package gethtest runs a real geth --dev execution client on loopback for the integration tier: built from
// source at the pinned version into the user cache (never a prebuilt download), started with fresh data on
// free loopback ports, and killed by its PID when the test ends.
package gethtest

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

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/ethclient"
)

// Version is the pinned geth, the same as the go-ethereum module version.
const Version = "v1.17.8"

// Binary returns $SIMNET_GETH, or builds geth at Version into the user cache once
// (`go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.8`, about 3 minutes cold).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SIMNET_GETH"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("user cache dir: %v", err)
	}
	dir := filepath.Join(cache, "odaowatch", "geth-"+Version)
	bin := filepath.Join(dir, "geth")
	if out, err := exec.Command(bin, "version").Output(); err == nil && strings.Contains(string(out), strings.TrimPrefix(Version, "v")+"-stable") {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/ethereum/go-ethereum/cmd/geth@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t.Logf("building geth %s into %s", Version, dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("build geth %s: %v", Version, err)
	}
	return bin
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartDev runs geth --dev on loopback ports and returns a connected client and the unlocked dev account.
// The process is killed when the test ends; its log is shown if it does not become ready within 60 s.
func StartDev(t testing.TB, ctx context.Context) (*ethclient.Client, common.Address) {
	t.Helper()
	bin := Binary(t)
	httpPort, authPort, p2pPort := FreePort(t), FreePort(t), FreePort(t)
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
				t.Cleanup(c.Close)
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

// Fund sends wei from geth's unlocked dev account and waits until it is mined.
func Fund(t testing.TB, ctx context.Context, c *ethclient.Client, from, to common.Address, wei *big.Int) {
	t.Helper()
	var h common.Hash
	if err := c.Client().CallContext(ctx, &h, "eth_sendTransaction", map[string]any{
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
