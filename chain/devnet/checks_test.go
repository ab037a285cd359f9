//go:build devnet

package devnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/defection"
	"github.com/odaowatch/watchtower/chain/devnet"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// testCommittees: the committees the scanner computes locally from ONE state (the interval's consensus end
// block, as chain/scan does) equal Prysm's committees endpoint for every epoch the scan covers, asked at the
// head state and at a state inside the epoch; the scanner's fast path (placing selected validators only)
// puts every validator where Prysm's committees have it.
func testCommittees(ctx context.Context, t *testing.T, bn *beacon.Service, out *interval.Output) {
	tm := out.Timing
	startEpoch, _, lastEpoch, err := scan.EpochRange(tm.ConsensusStartBlock, tm.ConsensusEndBlock, 32)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := scan.CommitteesFromBeacon(ctx, bn, phase0.Slot(tm.ConsensusEndBlock), scan.CommitteesLocal)
	if err != nil {
		t.Fatal(err)
	}
	local, ok := cp.(*scan.LocalCommittees)
	if !ok {
		t.Fatalf("local committees source is %T", cp)
	}
	spec, err := bn.ShuffleSpec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for e := startEpoch; e <= lastEpoch; e++ {
		epoch := phase0.Epoch(e)
		mine, err := local.EpochCommittees(ctx, epoch)
		if err != nil {
			t.Fatal(err)
		}
		members, err := local.EpochMembers(ctx, epoch, func(phase0.ValidatorIndex) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		for _, stateID := range []string{"head", strconv.FormatUint(e*32, 10)} {
			list, err := bn.BeaconCommittees(ctx, stateID, epoch)
			if err != nil {
				t.Fatalf("Prysm committees of epoch %d at state %s: %v", e, stateID, err)
			}
			prysm, err := scan.FromAPICommittees(spec, epoch, list)
			if err != nil {
				t.Fatalf("Prysm committees of epoch %d at state %s: %v", e, stateID, err)
			}
			if mine.CommitteesPerSlot != prysm.CommitteesPerSlot || !slices.Equal(mine.Shuffled, prysm.Shuffled) {
				t.Fatalf("epoch %d: local committees (%d per slot) %v differ from Prysm's at state %s (%d per slot) %v",
					e, mine.CommitteesPerSlot, mine.Shuffled, stateID, prysm.CommitteesPerSlot, prysm.Shuffled)
			}
			where := map[phase0.ValidatorIndex][3]uint64{}
			for _, c := range list {
				for pos, v := range c.Validators {
					where[v] = [3]uint64{uint64(c.Slot), uint64(c.Index), uint64(pos)}
				}
			}
			count := members.CommitteesPerSlot * members.SlotsPerEpoch
			for _, m := range members.Members {
				// Committee k holds the shuffled positions [n·k/count, n·(k+1)/count).
				k := uint64(0)
				for k+1 < count && members.Active*(k+1)/count <= m.Position {
					k++
				}
				start := members.Active * k / count
				got := [3]uint64{e*32 + k/members.CommitteesPerSlot, k % members.CommitteesPerSlot, m.Position - start}
				if where[m.Validator] != got {
					t.Fatalf("epoch %d: validator %d placed at (slot, committee, position) %v, Prysm has %v", e, m.Validator, got, where[m.Validator])
				}
			}
			if len(members.Members) != len(where) {
				t.Fatalf("epoch %d: %d validators placed locally, %d in Prysm's committees", e, len(members.Members), len(where))
			}
		}
	}
	t.Logf("committees of epochs %d..%d from the state at slot %d equal Prysm's (head and in-epoch states)", startEpoch, lastEpoch, tm.ConsensusEndBlock)
}

// proposers reads the proposer of every canonical block in [from, to] from Prysm (slot -> validator).
func proposers(ctx context.Context, t *testing.T, bn *beacon.Service, from, to uint64) map[uint64]uint64 {
	out := map[uint64]uint64{}
	for slot := from; slot <= to; slot++ {
		b, err := bn.Block(ctx, phase0.Slot(slot), false)
		if err != nil {
			t.Fatalf("block %d: %v", slot, err)
		}
		if b != nil {
			out[slot] = uint64(b.ProposerIndex)
		}
	}
	return out
}

// proposalsBy selects the proposals in [from, to] by one of the validators.
func proposalsBy(all map[uint64]uint64, from, to uint64, validators map[uint64]bool) map[uint64]uint64 {
	out := map[uint64]uint64{}
	for slot, v := range all {
		if slot >= from && slot <= to && validators[v] {
			out[slot] = v
		}
	}
	return out
}

// testDefections: over the intervals' slots (all after the protocol was seeded), the detector reports exactly the
// proposals of the node whose validators pay themselves (erin), each with the Smoothing Pool expected and the
// node's address found; every other protocol proposal is legal. The members' own defection reports (their
// followers started after the seeding) name only erin's proposals, and all of them in the slots they cover.
func testDefections(ctx context.Context, t *testing.T, dn *devnet.Devnet, net *scenario.Network, ec *ethclient.Client, bn *beacon.Service,
	proto *devnet.Protocol, seededSlot uint64, outs []*interval.Output, members []*member) {
	storage := net.Deployment.StorageAddress
	reg, err := defection.LoadRegistry(ctx, ec, storage, bn, "finalized", nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Len() != len(proto.Validators("")) {
		t.Fatalf("defection registry has %d protocol validators, the layout %d", reg.Len(), len(proto.Validators("")))
	}
	st, err := defection.NewChainState(ctx, ec, storage, reg)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := defection.NewELBlocks(defection.BeaconPayloads{Blocks: bn}, ec, big.NewInt(devnet.ChainID))
	if err != nil {
		t.Fatal(err)
	}
	det, err := defection.New(ctx, defection.WithState(st), defection.WithBlocks(blocks),
		defection.WithTiming(defection.Timing{GenesisTime: dn.Genesis.Time, SecondsPerSlot: dn.Genesis.SecondsPerSlot, SlotsPerEpoch: 32}))
	if err != nil {
		t.Fatal(err)
	}
	from, to := max(seededSlot+1, outs[0].Timing.ConsensusStartBlock), outs[len(outs)-1].Timing.ConsensusEndBlock
	if to < from+32 {
		t.Fatalf("seeding ended at slot %d, too late (the intervals end at slot %d) to look at proposals", seededSlot, to)
	}
	rep, err := det.Scan(ctx, "devnet", 0, from, to)
	if err != nil {
		t.Fatal(err)
	}
	erin := map[uint64]bool{}
	for _, v := range proto.Validators(devnet.Defector) {
		erin[v] = true
	}
	all := map[uint64]bool{}
	for _, v := range proto.Validators("") {
		all[v] = true
	}
	// The members' reports (rp-defections-<network>-<index>.json beside their rewards files), read first so
	// that the proposers of every slot they cover are read below.
	type memberReport struct {
		member, file string
		report       defection.Report
	}
	var reports []memberReport
	last := to
	for _, m := range members {
		files, _ := filepath.Glob(filepath.Join(m.outDir, "*", "rp-defections-*.json"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var r defection.Report
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if r.EndSlot >= r.StartSlot {
				reports = append(reports, memberReport{m.name, f, r})
				last = max(last, r.EndSlot)
			}
		}
	}
	chain := proposers(ctx, t, bn, seededSlot+1, last)
	want := proposalsBy(chain, from, to, erin)
	protocolProposals := proposalsBy(chain, from, to, all)
	nblocks := 0
	for slot := range chain {
		if slot >= from && slot <= to {
			nblocks++
		}
	}
	if len(want) == 0 {
		t.Fatalf("no proposal by %s's validators %v in slots %d..%d (%d blocks): the check would be empty", devnet.Defector, sortedKeys(erin), from, to, nblocks)
	}
	if rep.Proposals != uint64(len(protocolProposals)) {
		t.Errorf("detector examined %d protocol proposals, the chain has %d in slots %d..%d", rep.Proposals, len(protocolProposals), from, to)
	}
	got := map[uint64]uint64{}
	erinAddr := net.Nodes[slices.IndexFunc(net.Scenario.Nodes, func(n scenario.Node) bool { return n.Name == devnet.Defector })].Address
	sp := net.Deployment.Addresses[contracts.NameSmoothingPool]
	for _, r := range rep.Defections {
		got[r.Slot] = r.Validator
		if r.Actual != erinAddr || r.Expected != sp || r.Node != erinAddr || !r.OptedIn {
			t.Errorf("defection at slot %d: node %s expected %s actual %s opted in %t; want node = actual = %s, expected the Smoothing Pool %s",
				r.Slot, r.Node.Hex(), r.Expected.Hex(), r.Actual.Hex(), r.OptedIn, erinAddr.Hex(), sp.Hex())
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("defections (slot: validator) %v, want exactly %s's proposals %v", got, devnet.Defector, want)
	}
	t.Logf("slots %d..%d: %d blocks, %d protocol proposals, defections exactly %s's %d proposals %v",
		from, to, nblocks, rep.Proposals, devnet.Defector, len(want), sortedKeys(want))

	for _, mr := range reports {
		r := mr.report
		if r.StartSlot <= seededSlot {
			t.Errorf("%s starts at slot %d, before the protocol existed (slot %d)", mr.file, r.StartSlot, seededSlot)
			continue
		}
		wantHere := proposalsBy(chain, r.StartSlot, r.EndSlot, erin)
		gotHere := map[uint64]uint64{}
		for _, d := range r.Defections {
			gotHere[d.Slot] = d.Validator
		}
		if fmt.Sprint(gotHere) != fmt.Sprint(wantHere) {
			t.Errorf("member %s report %s (slots %d..%d): defections %v, want %v", mr.member, filepath.Base(mr.file), r.StartSlot, r.EndSlot, gotHere, wantHere)
		}
		t.Logf("member %s: %s covers slots %d..%d, %d defections", mr.member, filepath.Base(mr.file), r.StartSlot, r.EndSlot, len(gotHere))
	}
	if len(reports) == 0 {
		t.Errorf("no member wrote a defection report")
	}
}

var (
	_ = time.Second
	_ apiv1.BeaconCommittee
)
