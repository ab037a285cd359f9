//go:build integration

package watchtower_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/sim"
)

// TestKill9Random SIGKILLs a subprocess member at pseudo-random moments (fixed seed, logged) while the chain
// keeps moving, including the "after signed, before broadcast" point, then lets it finish: exactly one
// transaction from its account, its vote on chain, and the same root in its state as in its first generation.
func TestKill9Random(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := scenario.Parse(sim.DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := scenario.Start(ctx, scenario.RunConfig{Scenario: s, KeystoreDir: filepath.Join(dir, "keys"), KeystorePassword: "pw",
		Beacon: simbeacon.Scenario{Seed: 11, ValidatorCount: 256, MissedSlotRate: 0.05, LateInclusionRate: 0.05, Fork: "electra"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	slow, err := simbeacon.NewServer(ctx, simbeacon.WithChain(r.Chain), simbeacon.WithListenAddress("127.0.0.1:0"),
		simbeacon.WithFaults(simbeacon.Faults{Latency: 25 * time.Millisecond, SkipNodeEndpoints: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c, cc := context.WithTimeout(context.Background(), 5*time.Second)
		defer cc()
		_ = slow.Stop(c)
	}()
	for r.HeadSlot() < phase0.Slot(240) {
		if err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	childDir := filepath.Join(dir, "child")
	env := []string{"WT_EL=" + r.EL.URL(), "WT_BEACON=" + slow.URL(), "WT_STORAGE=" + r.Net.Deployment.StorageAddress.Hex(),
		"WT_MULTICALL=" + r.Net.Deployment.Multicall.Hex(), "WT_DATADIR=" + childDir, "WT_KEYSTORE=" + r.Keystores[0], "WT_PASSWORD=" + pwFile}

	// A slow block clock (one slot per 400 ms) keeps the snapshot state within the EL's 128-block window.
	stepCtx, stopStep := context.WithCancel(ctx)
	stepped := make(chan struct{})
	go func() {
		defer close(stepped)
		for stepCtx.Err() == nil {
			time.Sleep(400 * time.Millisecond)
			_ = r.Step(stepCtx)
		}
	}()
	defer func() { stopStep(); <-stepped }()

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	// First: the point between signing (saved) and broadcast.
	c := startChild(t, env, "after-signed")
	c.waitFor(t, "KILLPOINT after-signed", 60*time.Second)
	c.kill(t)
	var firstRoot string
	if g := c.find("interval generated and files written"); len(g) == 1 {
		firstRoot = g[0]["root"].(string)
	}
	for i := 0; i < 6; i++ {
		c = startChild(t, env, "")
		time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond)
		c.kill(t)
		if g := c.find("interval generated and files written"); len(g) > 0 {
			t.Fatalf("kill %d: regenerated an interval already recorded", i)
		}
	}
	c = startChild(t, env, "")
	c.waitFor(t, "waiting for consensus", 60*time.Second)
	c.kill(t)

	st, err := rewardsduty.OpenState(filepath.Join(childDir, "duty.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(0)
	_ = st.Close()
	if err != nil || rec == nil || rec.Submission.MerkleRoot.Hex() != firstRoot || rec.SentCount != 1 {
		t.Fatalf("state %+v %v (first root %s)", rec, err, firstRoot)
	}
	nonce, err := r.EL.Client().NonceAt(ctx, r.Net.Members[0].Address, nil)
	if err != nil || nonce != 1 {
		t.Fatalf("%d transactions from the member (%v), want 1", nonce, err)
	}
	ok, err := r.Net.Deployment.RewardsPool.GetTrustedNodeSubmitted(&bind.CallOpts{Context: ctx}, r.Net.Members[0].Address, big.NewInt(0))
	if err != nil || !ok {
		t.Fatalf("vote flag %v %v", ok, err)
	}
}
