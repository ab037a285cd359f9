package interval_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/interval/simtest"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/rewards"
)

type runConfig struct {
	urls        []string
	concurrency int
	committees  string
	ruleset     int
	storePath   string
	progress    *[]interval.Progress
}

func generator(t *testing.T, sn *simtest.Net, rc runConfig) *interval.Generator {
	t.Helper()
	ctx := context.Background()
	if rc.progress == nil {
		rc.progress = new([]interval.Progress)
	}
	ec, err := ethclient.Dial(sn.EL.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	el, err := execution.New(ctx, execution.WithClient(ec), execution.WithStorageAddress(sn.Network.Deployment.StorageAddress),
		execution.WithMulticall(sn.Network.Deployment.Multicall), execution.WithBatchSize(50))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := beacon.New(ctx, beacon.WithAddresses(rc.urls...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	sc, err := interval.NewBeaconScanner(cl, interval.ScannerConfig{Committees: rc.committees, Concurrency: rc.concurrency, StorePath: rc.storePath})
	if err != nil {
		t.Fatal(err)
	}
	g, err := interval.New(ctx, interval.WithExecution(el), interval.WithBeacon(cl), interval.WithScanner(sc), interval.WithRuleset(rc.ruleset),
		interval.WithProgress(func(p interval.Progress) { *rc.progress = append(*rc.progress, p) }, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func generate(t *testing.T, sn *simtest.Net, index int64, rc runConfig) *interval.Output {
	t.Helper()
	var progress []interval.Progress
	rc.progress = &progress
	out, err := generator(t, sn, rc).Generate(context.Background(), index)
	if err != nil {
		t.Fatalf("generate interval %d: %v", index, err)
	}
	if len(progress) == 0 || progress[len(progress)-1].EpochsDone != progress[len(progress)-1].Epochs {
		t.Fatalf("progress reports %+v, want a final report with every epoch done", progress)
	}
	return out
}

func checkAgreed(t *testing.T, out *interval.Output, root common.Hash, what string) {
	t.Helper()
	if out.Files.Root != root {
		t.Fatalf("%s: root %s, the oDAO agreed on %s", what, out.Files.Root.Hex(), root.Hex())
	}
	if !out.Matches() || out.Canonical.MerkleRoot != root {
		t.Fatalf("%s: does not match the canonical event: %v", what, out.Differences)
	}
}

// v11 (Electra): the pipeline reproduces the roots the oDAO agreed on for every interval, identically with
// 1 and 3 beacon nodes, concurrency 1 and 16, committees computed locally, from the API and cross-checked.
func TestIntervalReproducesAgreedRootV11(t *testing.T) {
	simtest.Build(t, "electra", [3]int{11, 11, 11}, simtest.Hooks{Unfinalized: checkUnfinalized(t), Open: checkOpen(t), Executed: func(sn *simtest.Net, index int64, root common.Hash) {
		runs := []runConfig{
			{urls: sn.URLs[:1], concurrency: 1, committees: scan.CommitteesLocal},
			{urls: sn.URLs, concurrency: 16, committees: scan.CommitteesAPI},
			{urls: sn.URLs, concurrency: 1, committees: scan.CommitteesChecked, storePath: filepath.Join(t.TempDir(), "scan.db")},
		}
		if index != 1 {
			runs = runs[1:2]
		}
		var outs []*interval.Output
		for _, rc := range runs {
			out := generate(t, sn, index, rc)
			checkAgreed(t, out, root, fmt.Sprintf("interval %d", index))
			if out.Result.Ruleset != 11 {
				t.Fatalf("interval %d: ruleset %d", index, out.Result.Ruleset)
			}
			if index == 0 && out.Previous != nil || index > 0 && (out.Previous == nil || out.Timing.ConsensusStartSlot != (out.Previous.ConsensusBlock/32+1)*32) {
				t.Fatalf("interval %d start %d from previous %+v", index, out.Timing.ConsensusStartSlot, out.Previous)
			}
			if out.Scan.RecordDigest != outs0(outs, out).Scan.RecordDigest {
				t.Fatalf("interval %d: duty record digests differ between runs", index)
			}
			outs = append(outs, out)
		}
		if index == 2 {
			checkOpenInterval(t, sn)
		}
		if index != 1 {
			return
		}
		// The files are written next to each other and decode back to the same inputs.
		dir := t.TempDir()
		written, err := outs[0].Write(dir, "devnet")
		if err != nil {
			t.Fatal(err)
		}
		if len(written) != 8 { // json, ssz, performance, snapshot, duties, digests, events 0 and 1
			t.Fatalf("wrote %v", written)
		}
		f, err := os.Open(filepath.Join(dir, interval.SnapshotFileName("1337", 1)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		snap, err := rewards.DecodeSnapshot(f)
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := snap.Digest()
		d2, _ := outs[0].Snapshot.Digest()
		if d1 != d2 {
			t.Fatalf("snapshot file digest %s, generated %s", d1, d2)
		}
	}})
}

// checkUnfinalized: the interval has ended but the epoch after its target is not finalized: ErrNotFinalized.
// For interval 2, GenerateWhenFinal waits while the network advances to finality in the background (no Smoothing
// Pool payment is due after interval 2's snapshot, so advancing early changes nothing the hooks check).
func checkUnfinalized(t *testing.T) func(sn *simtest.Net, index int64) {
	return func(sn *simtest.Net, index int64) {
		g := generator(t, sn, runConfig{urls: sn.URLs, concurrency: 4})
		_, err := g.Generate(context.Background(), index)
		if !errors.Is(err, interval.ErrNotFinalized) {
			t.Fatalf("interval %d 12 slots after its snapshot slot: %v, want ErrNotFinalized", index, err)
		}
		if index != 2 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel2()
		if _, err := g.GenerateWhenFinal(ctx2, index, 20*time.Millisecond); !errors.Is(err, interval.ErrNotFinalized) {
			t.Fatalf("waiting without progress: %v, want ErrNotFinalized when the context ends", err)
		}
		done := make(chan error, 1)
		go func() {
			last := simtest.SnapshotSlots[2] + 12
			for s := last + 1; s <= simtest.SnapshotSlots[2]+70; s++ {
				if err := sn.Link.Advance(context.Background(), phase0.Slot(s)); err != nil {
					done <- err
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			done <- nil
		}()
		out, err := g.GenerateWhenFinal(ctx, index, 5*time.Millisecond)
		if err != nil {
			t.Fatalf("generate when final: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Finality of epoch 13 needs head epoch 15 (slot 480): generation cannot have run earlier.
		if head := sn.Link.LastSlot(); head < 480 || out.Timing.SnapshotSlot != simtest.SnapshotSlots[2] {
			t.Fatalf("generated at head slot %d, snapshot slot %d", head, out.Timing.SnapshotSlot)
		}
	}
}

// checkOpen: the open interval is due and final: the watchtower's path (timing from the head) gives the root the
// oDAO is about to agree on; there is no canonical event yet.
func checkOpen(t *testing.T) func(sn *simtest.Net, index int64, expected common.Hash) {
	return func(sn *simtest.Net, index int64, expected common.Hash) {
		out := generate(t, sn, index, runConfig{urls: sn.URLs, concurrency: 8})
		if out.Files.Root != expected || out.Canonical != nil || out.Matches() || out.Timing.IntervalsPassed != 1 {
			t.Fatalf("open interval %d: root %s (want %s), canonical %v, intervals passed %d", index, out.Files.Root.Hex(), expected.Hex(), out.Canonical, out.Timing.IntervalsPassed)
		}
		if want := simtest.SnapshotSlots[index]; out.Timing.SnapshotSlot != want || out.Timing.ConsensusEndBlock != sn.LastBlockAtOrBefore(want) {
			t.Fatalf("open interval %d: snapshot slot %d, end block %d", index, out.Timing.SnapshotSlot, out.Timing.ConsensusEndBlock)
		}
	}
}

func outs0(outs []*interval.Output, cur *interval.Output) *interval.Output {
	if len(outs) == 0 {
		return cur
	}
	return outs[0]
}

// Deneb blocks and states: a v10 interval (with the bonus's withdrawals) and a v8 interval reproduce the roots.
func TestIntervalReproducesAgreedRootDenebV10V8(t *testing.T) {
	simtest.Build(t, "deneb", [3]int{10, 10, 8}, simtest.Hooks{Executed: func(sn *simtest.Net, index int64, root common.Hash) {
		switch index {
		case 1:
			checkAgreed(t, generate(t, sn, 1, runConfig{urls: sn.URLs, concurrency: 4, ruleset: 10}), root, "v10 interval 1")
		case 2:
			out := generate(t, sn, 2, runConfig{urls: sn.URLs[1:2], concurrency: 16, committees: scan.CommitteesAPI, ruleset: 8})
			checkAgreed(t, out, root, "v8 interval 2")
			if out.Result.WritesSSZ() {
				t.Fatal("v8 writes an SSZ file")
			}
		}
	}})
}

// checkOpenInterval: after interval 2 executed (votes around slot 485), at head slot 576 interval 3 is open. Its
// end (slot 512) has passed but epoch 17 is not finalized (finalized = head epoch 18 - 2): generation refuses with
// ErrNotFinalized. A dry run ends at the last slot before the finalized epoch 16 (slot 511) and starts after
// interval 2's snapshot block. Future intervals are refused.
func checkOpenInterval(t *testing.T, sn *simtest.Net) {
	ctx := context.Background()
	sn.Advance(t, simtest.HeadSlot)
	g := generator(t, sn, runConfig{urls: sn.URLs, concurrency: 4})
	if _, err := g.Generate(ctx, 3); !errors.Is(err, interval.ErrNotFinalized) {
		t.Fatalf("open interval 3: %v, want ErrNotFinalized", err)
	}
	if _, err := g.Generate(ctx, 4); err == nil || !strings.Contains(err.Error(), "current interval is 3") {
		t.Fatalf("future interval 4: %v", err)
	}
	if _, err := g.Generate(ctx, -2); err == nil {
		t.Fatal("index -2 accepted")
	}
	out, err := g.Generate(ctx, interval.DryRun)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	want := interval.Timing{Index: 3, IntervalsPassed: 1, ConsensusStartSlot: (out.Previous.ConsensusBlock/32 + 1) * 32, SnapshotSlot: 511}
	got := out.Timing
	if got.Index != want.Index || got.IntervalsPassed != 1 || got.ConsensusStartSlot != want.ConsensusStartSlot || got.SnapshotSlot != 511 ||
		got.ConsensusEndBlock != sn.LastBlockAtOrBefore(511) || got.ConsensusStartBlock != sn.FirstBlockFrom(want.ConsensusStartSlot) || out.Canonical != nil {
		t.Fatalf("dry run timing %+v (canonical %v)", got, out.Canonical)
	}
	if got.ExecutionEndBlock != sn.Chain.ELBlockNumber(phase0.Slot(got.ConsensusEndBlock)) || got.ELEndTime != sn.Scenario.SlotTime(got.ConsensusEndBlock) {
		t.Fatalf("dry run EL end %d at %d", got.ExecutionEndBlock, got.ELEndTime)
	}
}

// The daemon's incremental path: a generator scans the running interval's finalized epochs at every epoch
// (ScanAhead); when the interval is due and final, generation finds nearly every epoch stored and gives the root
// the oDAO agrees on, with the same per-epoch digests as a generation from scratch.
func TestScanAheadDuringIntervals(t *testing.T) {
	var g *interval.Generator
	aheads := 0
	simtest.Build(t, "electra", [3]int{11, 11, 11}, simtest.Hooks{
		Epoch: func(sn *simtest.Net, slot uint64) {
			if g == nil {
				g = generator(t, sn, runConfig{urls: sn.URLs, concurrency: 4, storePath: filepath.Join(t.TempDir(), "scan.db")})
			}
			a, err := g.ScanAhead(context.Background(), 1)
			if err != nil {
				t.Fatalf("scan ahead at slot %d: %v", slot, err)
			}
			if a.Scan != nil && a.Scan.Scanned > 0 {
				aheads++
			}
		},
		Open: func(sn *simtest.Net, index int64, expected common.Hash) {
			out, err := g.Generate(context.Background(), index)
			if err != nil {
				t.Fatalf("interval %d: %v", index, err)
			}
			if out.Files.Root != expected {
				t.Fatalf("interval %d after scanning ahead: root %s, want %s", index, out.Files.Root.Hex(), expected.Hex())
			}
			if total := out.Scan.Scanned + out.Scan.Resumed; out.Scan.Scanned > 3 || out.Scan.Resumed < total-3 {
				t.Fatalf("interval %d: %d of %d block epochs left for the end, want at most 3", index, out.Scan.Scanned, total)
			}
			t.Logf("interval %d: %d block epochs scanned at the end, %d stored ahead", index, out.Scan.Scanned, out.Scan.Resumed)
			fresh := generate(t, sn, index, runConfig{urls: sn.URLs, concurrency: 4})
			if fresh.Scan.RecordDigest != out.Scan.RecordDigest {
				t.Fatalf("interval %d: record digest %s after scanning ahead, %s from scratch", index, out.Scan.RecordDigest, fresh.Scan.RecordDigest)
			}
			if e, differ := scan.FirstDivergence(out.Scan.EpochDigests, fresh.Scan.EpochDigests); differ {
				t.Fatalf("interval %d: epoch digests diverge from scratch at epoch %d", index, e)
			}
		},
	})
	if aheads < 6 {
		t.Fatalf("only %d scan-ahead calls scanned anything", aheads)
	}
}
