package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/rs/zerolog"
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestSimnetUp runs `watchtower simnet up` for two intervals while an
// external ethclient and go-eth2-client read the endpoints it printed.
func TestSimnetUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"simnet", "up", "--scenario", filepath.Join(repoRoot(t), defaultScenario),
		"--intervals", "2", "--slots-per-second", "40", "--keystore-dir", t.TempDir()})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()

	lines := bufio.NewScanner(pr)
	var elURL, bnURL, storage string
	var members int
	var transcript []string
	for lines.Scan() {
		l := lines.Text()
		transcript = append(transcript, l)
		field := func(prefix string) string { return strings.Fields(strings.TrimPrefix(l, prefix))[0] }
		switch {
		case strings.HasPrefix(l, "execution JSON-RPC:"):
			elURL = field("execution JSON-RPC:")
		case strings.HasPrefix(l, "beacon API:"):
			bnURL = field("beacon API:")
		case strings.HasPrefix(l, "RocketStorage:"):
			storage = field("RocketStorage:")
		case strings.HasPrefix(l, "oDAO member"):
			members++
		}
		if strings.HasPrefix(l, "keystore password:") {
			break
		}
	}
	if elURL == "" || bnURL == "" || storage == "" || members != 3 {
		t.Fatalf("summary incomplete: %q", transcript)
	}
	if !strings.HasPrefix(elURL, "http://127.0.0.1:") || !strings.HasPrefix(bnURL, "http://127.0.0.1:") {
		t.Fatalf("endpoints not on loopback: %s %s", elURL, bnURL)
	}
	go io.Copy(io.Discard, pr) // keep the command's output flowing

	// EL: chain id and the deployed protocol, read through the bindings.
	ec, err := ethclient.DialContext(ctx, elURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if id, err := ec.ChainID(ctx); err != nil || id.Uint64() != 1337 {
		t.Fatalf("chain id %v, %v", id, err)
	}
	rs, err := bindings.NewRocketStorage(common.HexToAddress(storage), ec)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := rs.GetDeployedStatus(&bind.CallOpts{Context: ctx}); err != nil || !ok {
		t.Fatalf("deployed status %v, %v", ok, err)
	}
	key := crypto.Keccak256Hash([]byte("contract.address"), []byte("rocketRewardsPool"))
	if a, err := rs.GetAddress(&bind.CallOpts{Context: ctx}, key); err != nil || a == (common.Address{}) {
		t.Fatalf("rocketRewardsPool address %s, %v", a.Hex(), err)
	}

	// CL: the real go-eth2-client reads genesis (scenario genesis time 1700000000).
	svc, err := eth2http.New(ctx, eth2http.WithAddress(bnURL), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{})
	if err != nil || g.Data.GenesisTime.Unix() != 1700000000 {
		t.Fatalf("genesis %v, %v", g, err)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("simnet up: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("simnet up did not stop after 2 intervals within 60 s")
	}
}
