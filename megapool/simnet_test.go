package megapool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/megapool"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// Scenario (4 slots per epoch, 12 s slots, genesis 1700000000, notify.threshold 112 from chain):
//   - late/v0 (global 0): W = 118, never notified. On time up to epoch 118 − 112 = 6: not challenged at 6, challenged at 7.
//   - late/v1 (global 1): W = 118, notifies at slot 12 (epoch 3 ≤ 6): on time, never challenged.
//   - late/v2 (global 2): W = 114, overdue from epoch 3 (3 > 2); notifies at slot 44 (epoch 11): tracked until then.
//   - bulk-0..2: 40 validators each (globals 3..122), W = 113, overdue from epoch 2 (2 > 1).
const (
	slotsPerEpoch = 4
	genesis       = 1700000000
)

func pubkey(group, i int) string {
	return fmt.Sprintf("0x%02x%090x%04x", group, 0, i)
}

func scenarioYAML() string {
	var b strings.Builder
	b.WriteString(`name: megapool-watch
seed: 8
genesis_time: 1700000000
seconds_per_slot: 12
slots_per_epoch: 4
rewards:
  interval_seconds: 86400
  interval_start: 1700000000
  pending_rpl: 100 rpl
odao:
  - {name: odao-1, joined_time: 1690000000}
  - {name: odao-2, joined_time: 1690000000}
  - {name: odao-3, joined_time: 1690000000}
nodes:
  - name: late
    registration_time: 1699000000
    smoothing_pool: {opted_in: true, time: 1699000000}
    megapool_eth_bonded: 12 eth
    megapool:
      validators:
`)
	fmt.Fprintf(&b, "        - {pubkey: '%s', beacon: {exit_epoch: 2, withdrawable_epoch: 118}}\n", pubkey(0xe1, 0))
	fmt.Fprintf(&b, "        - {pubkey: '%s', beacon: {exit_epoch: 2, withdrawable_epoch: 118}, notify_exit_time: %d}\n", pubkey(0xe1, 1), genesis+12*12)
	fmt.Fprintf(&b, "        - {pubkey: '%s', beacon: {exit_epoch: 2, withdrawable_epoch: 114}, notify_exit_time: %d}\n", pubkey(0xe1, 2), genesis+44*12)
	for n := 0; n < 3; n++ {
		fmt.Fprintf(&b, "  - name: bulk-%d\n    registration_time: 1699000000\n    smoothing_pool: {opted_in: true, time: 1699000000}\n    megapool_eth_bonded: 160 eth\n    megapool:\n      validators:\n", n)
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&b, "        - {pubkey: '%s', beacon: {exit_epoch: 2, withdrawable_epoch: 113}}\n", pubkey(0xb0+n, i))
		}
	}
	return b.String()
}

type member struct {
	w    *megapool.Watcher
	addr common.Address
}

func TestSimnetChallenges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	s, err := scenario.Parse([]byte(scenarioYAML()))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	r, err := scenario.Start(ctx, scenario.RunConfig{
		Scenario:       s,
		SlotsPerSecond: 15,
		Beacon:         simbeacon.Scenario{Seed: 1, ValidatorCount: 256},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer r.Close()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(runCtx, nil) }()
	defer func() {
		stopRun()
		if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("runner: %v", err)
		}
	}()

	bn, err := beacon.New(ctx, beacon.WithAddresses(r.Server.URL()))
	if err != nil {
		t.Fatalf("beacon: %v", err)
	}
	defer bn.Close()
	el := r.EL.Client()
	dep := r.Net.Deployment
	reader, err := megapool.NewChainReader(ctx, el, dep.StorageAddress, dep.Multicall, 16)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	var members []member
	for _, acct := range r.Net.Members {
		signer, err := txmgr.NewKeySigner(acct.Key)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := txmgr.New(ctx, txmgr.WithBackend(el), txmgr.WithSigner(signer), txmgr.WithPollInterval(10*time.Millisecond),
			txmgr.WithTimeout(20*time.Second), txmgr.WithLogger(zerolog.Nop()))
		if err != nil {
			t.Fatal(err)
		}
		w, err := megapool.New(ctx, megapool.WithProtocol(reader), megapool.WithBeacon(bn), megapool.WithTxSender(tm),
			megapool.WithSlotsPerEpoch(slotsPerEpoch), megapool.WithStaleAfter(4))
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, member{w: w, addr: acct.Address})
	}
	if _, err := megapool.New(ctx, megapool.WithProtocol(reader), megapool.WithBeacon(bn)); err == nil {
		t.Fatal("a watcher without a sender and not report-only must be rejected")
	}

	observer, err := megapool.New(ctx, megapool.WithProtocol(reader), megapool.WithBeacon(bn), megapool.WithReportOnly(true),
		megapool.WithSlotsPerEpoch(slotsPerEpoch))
	if err != nil {
		t.Fatal(err)
	}
	sawOverdue := false
	challengedAt := map[uint64]uint64{} // global index → epoch of the round that challenged it
	var lockResolvedAt uint64
	trackedEpochs := 0
	for epoch := uint64(1); epoch <= 13; epoch++ {
		slot := epoch * slotsPerEpoch
		for uint64(r.HeadSlot()) < slotTo(slot) {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for slot %d", slot)
			}
			time.Sleep(5 * time.Millisecond)
		}
		obs, err := observer.RoundAt(ctx, slot)
		if err != nil {
			t.Fatalf("report-only round: %v", err)
		}
		if len(obs.Overdue) > 0 {
			sawOverdue = true
			if obs.Sent.Size() != 0 || obs.Skipped != "report-only" {
				t.Fatalf("report-only watcher sent %d / skipped %q", obs.Sent.Size(), obs.Skipped)
			}
		}
		var wg sync.WaitGroup
		rounds := make([]*megapool.Round, len(members))
		errs := make([]error, len(members))
		for i, m := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rounds[i], errs[i] = m.w.RoundAt(ctx, slot)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("epoch %d member %d: %v", epoch, i, err) // includes reverted transactions
			}
		}
		for _, rd := range rounds {
			for _, v := range rd.Sent.Validators {
				if _, dup := challengedAt[v.GlobalIndex]; !dup {
					challengedAt[v.GlobalIndex] = epoch
				}
			}
		}
		// Lock tracking by member 0, whose view is refreshed after everyone's transactions at the next round.
		for _, l := range rounds[0].Locks {
			if l.Validator.GlobalIndex == 2 {
				trackedEpochs++
			}
		}
		headAfter := uint64(r.HeadSlot())
		for _, l := range rounds[0].Resolved {
			if l.Validator.GlobalIndex == 2 {
				if headAfter < 44 {
					t.Fatalf("lock of global 2 resolved at head %d, before the notification at slot 44", headAfter)
				}
				if l.Resolution != "exit" {
					t.Fatalf("global 2 resolved as %q, want exit", l.Resolution)
				}
				lockResolvedAt = epoch
			}
		}
		if epoch == 6 {
			if _, ok := challengedAt[0]; ok {
				t.Fatalf("global 0 challenged at epoch ≤ 6 although W − threshold = 6 is still on time")
			}
		}
		if epoch == 4 {
			for g := uint64(3); g < 123; g++ {
				if e, ok := challengedAt[g]; !ok || e > 4 {
					t.Fatalf("bulk validator %d not challenged within 3 rounds (epochs 2..4): %v", g, ok)
				}
			}
		}
	}
	if !sawOverdue {
		t.Fatal("the report-only watcher never saw an overdue validator")
	}
	if e, ok := challengedAt[0]; !ok || e != 7 {
		t.Fatalf("global 0 challenged at epoch %d (%v), want 7", e, ok)
	}
	if _, ok := challengedAt[1]; ok {
		t.Fatal("global 1 notified on time but was challenged")
	}
	for g := uint64(3); g < 123; g++ {
		if challengedAt[g] < 2 {
			t.Fatalf("bulk validator %d challenged at epoch %d, before it was overdue (epoch 2)", g, challengedAt[g])
		}
	}
	if e := challengedAt[2]; e != 3 {
		t.Fatalf("global 2 challenged at epoch %d, want 3", e)
	}
	// Notified at slot 44 = the decision slot of epoch 11. Contract flags are read at the latest block, so the
	// round of epoch 11 (run once the head has passed slot 44) sees the lock gone at the latest; an earlier round
	// may see it only if it ran late, after slot 44's block (checked above).
	if lockResolvedAt == 0 || lockResolvedAt > 11 {
		t.Fatalf("lock of global 2 resolved at epoch %d, want by 11", lockResolvedAt)
	}
	if trackedEpochs < 1 {
		t.Fatalf("lock of global 2 tracked for %d rounds only", trackedEpochs)
	}
	// Validator 0 (challenged at 7, never notified) is still locked and is stale (4 epochs) by epoch 11.
	locks := members[0].w.Locks()
	if len(locks) == 0 || locks[0].Validator.GlobalIndex != 0 || !locks[0].Stale {
		t.Fatalf("global 0 should be a stale lock, got %+v", locks)
	}
}

// slotTo is the head slot after which the decision slot's state and its successor block exist.
func slotTo(slot uint64) uint64 { return slot + 1 }
