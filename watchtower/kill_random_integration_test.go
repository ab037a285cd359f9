//go:build integration

package watchtower_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"

	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
)

// TestKill9Random SIGKILLs a subprocess member at pseudo-random moments (seed from the clock, logged for replay) while the chain
// keeps moving, including the "after signed, before broadcast" point, then lets it finish: exactly one
// transaction from its account, its vote on chain, and the same root in its state as in its first generation.
func TestKill9Random(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, env, childDir, _ := killNetwork(t, ctx, 25*time.Millisecond)

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
