package beacon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"testing"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

type duty struct {
	v phase0.ValidatorIndex
	s phase0.Slot
}

// scanBlocks decodes attestations the way the rewards scanner does and
// returns the inclusion slot of every (validator, duty slot).
func scanBlocks(t *testing.T, c *Chain, upTo phase0.Slot) map[duty]phase0.Slot {
	t.Helper()
	ctx := context.Background()
	got := map[duty]phase0.Slot{}
	record := func(v phase0.ValidatorIndex, s, b phase0.Slot) {
		k := duty{v, s}
		if prev, dup := got[k]; dup {
			t.Fatalf("validator %d slot %d included twice (%d and %d)", v, s, prev, b)
		}
		if b > c.lastInclusionSlot(s) || b <= s {
			t.Fatalf("validator %d slot %d included at %d outside the window", v, s, b)
		}
		got[k] = b
	}
	for b := phase0.Slot(1); b <= upTo; b++ {
		if !c.HasBlock(b) {
			continue
		}
		blk, err := c.Block(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		switch blk.Version {
		case spec.DataVersionDeneb:
			if n := len(blk.Deneb.Message.Body.Attestations); n > 128 {
				t.Fatalf("block %d has %d attestations", b, n)
			}
			for _, a := range blk.Deneb.Message.Body.Attestations {
				ec, err := c.Committees(c.epochOf(a.Data.Slot))
				if err != nil {
					t.Fatal(err)
				}
				members, err := ec.Committee(a.Data.Slot, a.Data.Index)
				if err != nil {
					t.Fatal(err)
				}
				if a.AggregationBits.Len() != uint64(len(members)) {
					t.Fatalf("block %d: bits %d for committee of %d", b, a.AggregationBits.Len(), len(members))
				}
				for i, v := range members {
					if a.AggregationBits.BitAt(uint64(i)) {
						record(v, a.Data.Slot, b)
					}
				}
			}
		default:
			atts := blk.Electra.Message.Body.Attestations
			if len(atts) > 8 {
				t.Fatalf("block %d has %d attestations", b, len(atts))
			}
			for _, a := range atts {
				if a.Data.Index != 0 {
					t.Fatalf("electra attestation with data.index %d", a.Data.Index)
				}
				ec, err := c.Committees(c.epochOf(a.Data.Slot))
				if err != nil {
					t.Fatal(err)
				}
				offset := uint64(0)
				for _, ci := range a.CommitteeBits.BitIndices() {
					members, err := ec.Committee(a.Data.Slot, phase0.CommitteeIndex(ci))
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range members {
						if a.AggregationBits.BitAt(offset + uint64(i)) {
							record(v, a.Data.Slot, b)
						}
					}
					offset += uint64(len(members))
				}
				if a.AggregationBits.Len() != offset {
					t.Fatalf("block %d slot %d: %d aggregation bits for %d committee members", b, a.Data.Slot, a.AggregationBits.Len(), offset)
				}
			}
		}
	}
	return got
}

// TestInclusionOracleMatchesBlocks: what the blocks carry is exactly what
// the model's oracle says, for every duty of epochs 0..5.
func TestInclusionOracleMatchesBlocks(t *testing.T) {
	for _, tc := range []struct {
		name, fork string
		electraAt  uint64
	}{{"electra", ForkElectra, 0}, {"deneb", ForkDeneb, 0}, {"deneb-to-electra-at-3", ForkElectra, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			sc := testScenario(7, tc.fork)
			sc.ElectraForkEpoch = tc.electraAt
			c := newTestChain(t, sc)
			got := scanBlocks(t, c, 61)
			duties, included, late := 0, 0, 0
			for e := phase0.Epoch(0); e <= 5; e++ {
				ec, err := c.Committees(e)
				if err != nil {
					t.Fatal(err)
				}
				ec.ForEach(func(s phase0.Slot, _ phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
					for _, v := range members {
						duties++
						b, ok, err := c.Inclusion(v, s)
						if err != nil {
							t.Fatal(err)
						}
						gb, gok := got[duty{v, s}]
						if ok != gok || (ok && b != gb) {
							t.Fatalf("validator %d slot %d: oracle (%d,%v), blocks (%d,%v)", v, s, b, ok, gb, gok)
						}
						if ok {
							included++
							if b != c.nextBlockSlot(s) {
								late++
							}
						}
						if v == 7 && !ok {
							t.Fatalf("validator 7 (participation 1) missed slot %d", s)
						}
						if v == 500 && e >= 2 && ok {
							t.Fatalf("slashed validator 500 attested at slot %d", s)
						}
					}
				})
			}
			// 6 epochs of ~4,096 duties; participation 0.9, late rate 0.1 (some dropped or past the window).
			rate := float64(included) / float64(duties)
			if duties < 6*4094 || rate < 0.85 || rate > 0.92 || late < included/20 || late > included/6 {
				t.Fatalf("duties %d included %d (%.3f) late %d", duties, included, rate, late)
			}
		})
	}
}

// TestDeterminism: same seed, byte-identical responses; different seed, different.
func TestDeterminism(t *testing.T) {
	paths := []struct{ path, accept string }{
		{"/eth/v2/debug/beacon/states/head", "application/octet-stream"},
		{"/eth/v2/debug/beacon/states/40", "application/json"},
		{"/eth/v2/beacon/blocks/head", "application/octet-stream"},
		{"/eth/v2/beacon/blocks/21", "application/json"},
		{"/eth/v1/beacon/blinded_blocks/21", "application/octet-stream"},
		{"/eth/v1/beacon/states/head/committees?epoch=3", "application/json"},
		{"/eth/v1/beacon/states/head/validators?id=7,100,2047", "application/json"},
		{"/eth/v1/beacon/headers/9", "application/json"},
	}
	fetch := func(url string, accept string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		return body
	}
	a := newTestServer(t, newTestChain(t, testScenario(42, ForkElectra)))
	b := newTestServer(t, newTestChain(t, testScenario(42, ForkElectra)))
	d := newTestServer(t, newTestChain(t, testScenario(43, ForkElectra)))
	for _, p := range paths {
		ra, rb, rd := fetch(a.URL()+p.path, p.accept), fetch(b.URL()+p.path, p.accept), fetch(d.URL()+p.path, p.accept)
		if !bytes.Equal(ra, rb) {
			t.Errorf("%s: same seed, different bytes", p.path)
		}
		if bytes.Equal(ra, rd) {
			t.Errorf("%s: different seeds, same bytes", p.path)
		}
	}
}

// TestMEVAndForcedProposals: forced proposals land with the chosen fee
// recipient; a builder block pays the proposer in its last transaction.
func TestMEVAndForcedProposals(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkElectra))
	local, err := c.Block(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if m := local.Electra.Message; m.ProposerIndex != 7 || m.Body.ExecutionPayload.FeeRecipient.String() != common.HexToAddress(addrHex(1)).Hex() {
		t.Fatalf("slot 9: proposer %d fee recipient %s", m.ProposerIndex, m.Body.ExecutionPayload.FeeRecipient)
	}
	mev, err := c.Block(ctx, 21)
	if err != nil {
		t.Fatal(err)
	}
	p := mev.Electra.Message.Body.ExecutionPayload
	builders := c.BuilderAddresses()
	isBuilder := false
	for _, b := range builders {
		if b == [20]byte(p.FeeRecipient) {
			isBuilder = true
		}
	}
	if mev.Electra.Message.ProposerIndex != 7 || !isBuilder || len(p.Transactions) == 0 {
		t.Fatalf("slot 21 not a builder block by 7")
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(p.Transactions[len(p.Transactions)-1]); err != nil {
		t.Fatal(err)
	}
	sender, err := types.Sender(types.LatestSignerForChainID(big.NewInt(1)), &tx)
	if err != nil {
		t.Fatal(err)
	}
	// 123,456,789 gwei = 123456789 * 1e9 wei
	want, _ := new(big.Int).SetString("123456789000000000", 10)
	if sender != common.Address(p.FeeRecipient) || *tx.To() != common.HexToAddress(addrHex(1)) || tx.Value().Cmp(want) != 0 {
		t.Fatalf("payment tx from %s to %s value %s", sender, tx.To(), tx.Value())
	}
	// EL block numbers advance by one per block and skip nothing.
	prev := uint64(0)
	for s := phase0.Slot(0); s <= 61; s++ {
		if !c.HasBlock(s) {
			continue
		}
		n := c.ELBlockNumber(s)
		if s > 0 && n != prev+1 {
			t.Fatalf("slot %d: EL block %d after %d", s, n, prev)
		}
		prev = n
	}
}

// TestWithdrawalSweep: the exited validator gets one full withdrawal after
// its withdrawable epoch; every other visit is a partial skim.
func TestWithdrawalSweep(t *testing.T) {
	sc := testScenario(42, ForkElectra)
	sc.ValidatorCount = 256 // 16 blocks per sweep round
	sc.HeadSlot = 200
	sc.ProtocolValidators = sc.ProtocolValidators[2:3]
	sc.ProtocolValidators[0].Index = u64(100)
	c := newTestChain(t, sc)
	full := 0
	for s := phase0.Slot(1); s <= 200; s++ {
		if !c.HasBlock(s) {
			continue
		}
		for _, w := range c.Withdrawals(s) {
			if w.ValidatorIndex != 100 {
				if w.Amount >= 32*gweiPerEth {
					t.Fatalf("validator %d full withdrawal", w.ValidatorIndex)
				}
				continue
			}
			if w.Amount >= 32*gweiPerEth {
				full++
				if c.epochOf(s) < 4 {
					t.Fatalf("full withdrawal at slot %d before withdrawable epoch 4", s)
				}
			} else if c.epochOf(s) >= 3 {
				t.Fatalf("skim for exited validator at slot %d", s)
			}
		}
	}
	if full != 1 {
		t.Fatalf("%d full withdrawals, want 1", full)
	}
}

// TestConcurrentRequests: parallel generation gives the same blocks as sequential.
func TestConcurrentRequests(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(11, ForkElectra))
	want := map[phase0.Slot][32]byte{}
	seq := newTestChain(t, testScenario(11, ForkElectra))
	for s := phase0.Slot(0); s <= 61; s++ {
		if seq.HasBlock(s) {
			b, err := seq.Block(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			want[s], _ = b.Electra.HashTreeRoot()
		}
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for k := range 62 {
				s := phase0.Slot((k*7 + g*13) % 62)
				if !c.HasBlock(s) {
					continue
				}
				b, err := c.Block(ctx, s)
				if err != nil {
					errs <- err
					return
				}
				if r, _ := b.Electra.HashTreeRoot(); r != want[s] {
					errs <- fmt.Errorf("slot %d differs under concurrency", s)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
