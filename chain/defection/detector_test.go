package defection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/defection"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

var (
	spAddr   = common.HexToAddress("0x5500000000000000000000000000000000000005")
	rethAddr = common.HexToAddress("0x7e00000000000000000000000000000000000007")
)

type fakeState struct {
	reg   *defection.Registry
	nodes map[common.Address]defection.NodeState
}

func (f *fakeState) Validator(_ context.Context, i phase0.ValidatorIndex) (*defection.ProtocolValidator, error) {
	v, _ := f.reg.Lookup(i)
	return v, nil
}

func (f *fakeState) NodeState(_ context.Context, n common.Address, _ uint64) (defection.NodeState, error) {
	s, ok := f.nodes[n]
	if !ok {
		return defection.NodeState{}, fmt.Errorf("unknown node %s", n.Hex())
	}
	return s, nil
}

func (f *fakeState) Addresses(context.Context) (defection.Addresses, error) {
	return defection.Addresses{SmoothingPool: spAddr, RETH: rethAddr}, nil
}

type countingBlocks struct {
	defection.BlockSource
	fetched []uint64
}

func (c *countingBlocks) LastPayment(ctx context.Context, p *defection.Proposal) (*defection.Payment, error) {
	c.fetched = append(c.fetched, p.Slot)
	return c.BlockSource.LastPayment(ctx, p)
}

func addr(i int) common.Address { return common.BigToAddress(big.NewInt(int64(0x1000 + i))) }

func pubkeyHex(i int) string { return fmt.Sprintf("0x%094x%02x", 0xabc, i) }

// Protocol validators 10..15 propose forced blocks in slots 3..8 of a simulated beacon chain whose MEV blocks carry
// the builder as fee recipient and pay the proposer's mev_fee_recipient in the last transaction.
func TestDetectorOnSimulatedBeaconChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type actor struct {
		index              uint64
		kind               defection.Kind
		optedIn            bool
		slot               uint64
		mev                bool
		recipient, mevPays common.Address
	}
	nodeOf := func(i int) common.Address { return addr(i) }
	distOf := func(i int) common.Address { return addr(100 + i) }
	megaOf := func(i int) common.Address { return addr(200 + i) }
	actors := []actor{
		{index: 10, kind: defection.KindMinipool, optedIn: true, slot: 3, recipient: spAddr},              // honest SP
		{index: 11, kind: defection.KindMinipool, optedIn: true, slot: 4, mev: true, mevPays: spAddr},     // honest MEV
		{index: 12, kind: defection.KindMinipool, optedIn: true, slot: 5, recipient: nodeOf(2)},           // defector, local
		{index: 13, kind: defection.KindMegapool, optedIn: true, slot: 6, mev: true, mevPays: nodeOf(3)},  // defector via MEV
		{index: 14, kind: defection.KindMinipool, optedIn: false, slot: 7, recipient: distOf(4)},          // opted out, distributor
		{index: 15, kind: defection.KindMegapool, optedIn: false, slot: 8, mev: true, mevPays: megaOf(5)}, // opted out megapool, MEV
	}
	sc := &simbeacon.Scenario{Seed: 9, GenesisTime: 1700000000, SecondsPerSlot: 12, SlotsPerEpoch: 8, ValidatorCount: 64, HeadSlot: 16, ChainID: 1}
	var vals []defection.ProtocolValidator
	st := &fakeState{nodes: map[common.Address]defection.NodeState{}}
	for k, a := range actors {
		i := int(a.index) - 10
		pv := simbeacon.ProtocolValidator{Pubkey: pubkeyHex(i), Index: &actors[k].index}
		p := simbeacon.Proposal{Slot: a.slot, Kind: "local"}
		if a.mev {
			p.Kind = "mev"
			pv.FeeRecipient = a.mevPays.Hex()
			pv.MEVFeeRecipient = a.mevPays.Hex()
		} else {
			pv.FeeRecipient = a.recipient.Hex()
		}
		pv.Proposals = []simbeacon.Proposal{p}
		sc.ProtocolValidators = append(sc.ProtocolValidators, pv)
		v := defection.ProtocolValidator{Index: phase0.ValidatorIndex(a.index), Kind: a.kind, Node: nodeOf(i)}
		if a.kind == defection.KindMegapool {
			v.Megapool = megaOf(i)
		} else {
			v.Minipool = addr(300 + i)
		}
		vals = append(vals, v)
		st.nodes[nodeOf(i)] = defection.NodeState{OptedIn: a.optedIn, ChangedTime: 1600000000, Distributor: distOf(i)}
	}
	reg, err := defection.NewRegistry(vals)
	if err != nil {
		t.Fatal(err)
	}
	st.reg = reg
	chain, err := simbeacon.New(ctx, simbeacon.WithScenario(sc))
	if err != nil {
		t.Fatalf("beacon chain: %v", err)
	}
	srv, err := simbeacon.NewServer(ctx, simbeacon.WithChain(chain))
	if err != nil {
		t.Fatalf("beacon server: %v", err)
	}
	defer func() { _ = srv.Stop(context.Background()) }()
	cl, err := eth2http.New(ctx, eth2http.WithAddress(srv.URL()), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("eth2 client: %v", err)
	}
	bb, err := defection.NewBeaconBlocks(cl.(*eth2http.Service), big.NewInt(1))
	if err != nil {
		t.Fatal(err)
	}
	blocks := &countingBlocks{BlockSource: bb}
	det, err := defection.New(ctx, defection.WithState(st), defection.WithBlocks(blocks),
		defection.WithTiming(defection.Timing{GenesisTime: sc.GenesisTime, SecondsPerSlot: 12, SlotsPerEpoch: 8}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]defection.Verdict{3: defection.Legal, 4: defection.LegalMEV, 5: defection.Defection, 6: defection.Defection, 7: defection.Legal, 8: defection.LegalMEV}
	for slot, v := range want {
		rec, err := det.Examine(ctx, slot)
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		if rec == nil || rec.Verdict != v {
			t.Fatalf("slot %d: got %+v, want verdict %s", slot, rec, v)
		}
	}
	blocks.fetched = nil
	rep, err := det.Scan(ctx, "simnet", 7, 1, 16)
	if err != nil {
		t.Fatal(err)
	}
	// Full blocks are examined only where the payload's fee recipient is not legal: the three MEV blocks (builder
	// as fee recipient) and the local defector.
	if fmt.Sprint(blocks.fetched) != "[4 5 6 8]" {
		t.Fatalf("last transactions read for slots %v, want [4 5 6 8]", blocks.fetched)
	}
	if rep.Proposals != 6 || rep.LegalMEV != 2 || len(rep.Defections) != 2 {
		t.Fatalf("report: %d proposals, %d legal MEV, %d defections; want 6, 2, 2", rep.Proposals, rep.LegalMEV, len(rep.Defections))
	}
	d0, d1 := rep.Defections[0], rep.Defections[1]
	if d0.Slot != 5 || d0.Validator != 12 || d0.Actual != nodeOf(2) || d0.Expected != spAddr {
		t.Fatalf("first defection %+v", d0)
	}
	// The MEV defector's evidence: the builder (fee recipient) paid the node in the last transaction.
	if d1.Slot != 6 || d1.Payment == nil || d1.Payment.From != d1.Actual || d1.Payment.To != nodeOf(3) || d1.Payment.Value.Sign() <= 0 {
		t.Fatalf("MEV defection evidence %+v / %+v", d1, d1.Payment)
	}
	dir := t.TempDir()
	path, err := defection.WriteReport(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "rp-defections-simnet-7.json" {
		t.Fatalf("file %s", path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back defection.Report
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Defections) != 2 || back.Defections[1].Payment.To != nodeOf(3) {
		t.Fatalf("report round trip: %v %+v", err, back)
	}
	f, err := defection.NewFollower(det, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Advance(ctx, 10)
	if err != nil || len(got) != 2 || got[0].Slot != 5 || got[1].Slot != 6 || f.Next() != 11 {
		t.Fatalf("follower: %d defections, next %d, err %v", len(got), f.Next(), err)
	}
	if got, err := f.Advance(ctx, 16); err != nil || len(got) != 0 || f.Next() != 17 {
		t.Fatalf("follower second advance: %d defections, next %d, err %v", len(got), f.Next(), err)
	}
	// The follower counts what Scan counted over the same slots.
	if p, m := f.Counts(); p != rep.Proposals || m != rep.LegalMEV {
		t.Fatalf("follower counts %d proposals, %d legal MEV; Scan %d, %d", p, m, rep.Proposals, rep.LegalMEV)
	}

	// MergeReport accumulates a follower's rounds into one file per interval:
	// counts add up, the slot range widens, a record seen twice is kept once.
	mdir := t.TempDir()
	if _, err := defection.MergeReport(mdir, &defection.Report{Network: "simnet", Index: 7, StartSlot: 1, EndSlot: 10, Proposals: 4, LegalMEV: 1, Defections: rep.Defections[1:]}); err != nil {
		t.Fatal(err)
	}
	path, err = defection.MergeReport(mdir, &defection.Report{Network: "simnet", Index: 7, StartSlot: 11, EndSlot: 16, Proposals: 2, LegalMEV: 1, Defections: rep.Defections})
	if err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var merged defection.Report
	if err := json.Unmarshal(raw, &merged); err != nil {
		t.Fatal(err)
	}
	if merged.StartSlot != 1 || merged.EndSlot != 16 || merged.Proposals != 6 || merged.LegalMEV != 2 || len(merged.Defections) != 2 ||
		merged.Defections[0].Slot != 5 || merged.Defections[1].Slot != 6 {
		t.Fatalf("merged report %+v", merged)
	}
	if _, err := defection.MergeReport(mdir, &defection.Report{Network: "simnet", Index: 7, StartSlot: 17, EndSlot: 20}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("{broken"), 0o644)
	if _, err := defection.MergeReport(mdir, &defection.Report{Network: "simnet", Index: 7, StartSlot: 21, EndSlot: 22}); err == nil {
		t.Fatal("a malformed existing report must be an error, not overwritten")
	}
}
