package beacon

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// TestClientReadsEverything drives go-eth2-client's real HTTP client.
func TestClientReadsEverything(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkElectra))
	srv := newTestServer(t, c)
	cl := newClient(t, srv.URL(), false)

	gen, err := cl.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		t.Fatalf("genesis: %v", err)
	}
	if gen.Data.GenesisTime.Unix() != 1_700_000_000 {
		t.Fatalf("genesis time %v", gen.Data.GenesisTime)
	}
	specResp, err := cl.(eth2client.SpecProvider).Spec(ctx, &api.SpecOpts{})
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	if specResp.Data["SLOTS_PER_EPOCH"] != uint64(8) || specResp.Data["SHUFFLE_ROUND_COUNT"] != uint64(90) {
		t.Fatalf("spec values: %v %v", specResp.Data["SLOTS_PER_EPOCH"], specResp.Data["SHUFFLE_ROUND_COUNT"])
	}

	// Validators by index and by pubkey (POST).
	var pk phase0.BLSPubKey
	pk[47] = 0 // pubkeyHex(2) = 0x...a00002
	copy(pk[45:], []byte{0xa0, 0x00, 0x02})
	vals, err := cl.(eth2client.ValidatorsProvider).Validators(ctx, &api.ValidatorsOpts{
		State: "head", Indices: []phase0.ValidatorIndex{7, 100, 2047, 500, 3}, PubKeys: []phase0.BLSPubKey{pk},
	})
	if err != nil {
		t.Fatalf("validators: %v", err)
	}
	if len(vals.Data) != 6 {
		t.Fatalf("validators returned %d, want 6", len(vals.Data))
	}
	// head 61 -> epoch 7: validator 100 exited at 3 and withdrawable at 4.
	if st := vals.Data[100].Status.String(); st != "withdrawal_done" {
		t.Errorf("validator 100 status %s", st)
	}
	if !vals.Data[500].Validator.Slashed || vals.Data[500].Status.String() != "exited_slashed" {
		t.Errorf("validator 500: slashed=%v status %s", vals.Data[500].Validator.Slashed, vals.Data[500].Status)
	}
	if vals.Data[2047].Validator.ActivationEpoch != 2 {
		t.Errorf("validator 2047 activation %d", vals.Data[2047].Validator.ActivationEpoch)
	}
	found := false
	for idx, v := range vals.Data {
		if v.Validator.PublicKey == pk {
			found = idx != 7 && idx != 100
		}
	}
	if !found {
		t.Errorf("pubkey lookup did not return the assigned protocol validator")
	}

	// All validators: go-eth2-client fetches the whole state (SSZ) for this.
	all, err := cl.(eth2client.ValidatorsProvider).Validators(ctx, &api.ValidatorsOpts{State: "head"})
	if err != nil {
		t.Fatalf("all validators: %v", err)
	}
	if len(all.Data) != 4096 || all.Data[100].Status.String() != "withdrawal_done" || all.Data[7].Validator.PublicKey != vals.Data[7].Validator.PublicKey {
		t.Fatalf("all validators: %d", len(all.Data))
	}

	// Full state over SSZ.
	stResp, err := cl.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: "head"})
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	if stResp.Data.Version != spec.DataVersionElectra {
		t.Fatalf("state version %v", stResp.Data.Version)
	}
	st := stResp.Data.Electra
	if st.Slot != 61 || len(st.Validators) != 4096 || len(st.RANDAOMixes) != 65536 {
		t.Fatalf("state slot %d validators %d mixes %d", st.Slot, len(st.Validators), len(st.RANDAOMixes))
	}

	// Committees endpoint agrees with the shuffle computed from the served state for every epoch.
	sp := shuffle.MainnetSpec()
	sp.SlotsPerEpoch = 8
	for e := phase0.Epoch(0); e <= 8; e++ {
		local, err := sp.ComputeFromState(e, st.Validators, st.RANDAOMixes)
		if err != nil {
			t.Fatalf("local committees %d: %v", e, err)
		}
		remote, err := cl.(eth2client.BeaconCommitteesProvider).BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: "head", Epoch: &e})
		if err != nil {
			t.Fatalf("committees %d: %v", e, err)
		}
		// 4095 or 4096 active validators: 4095/8/128 = 3, 4096/8/128 = 4.
		if uint64(len(remote.Data)) != local.Count() || local.CommitteesPerSlot != uint64(len(local.Shuffled))/8/128 || local.CommitteesPerSlot < 3 {
			t.Fatalf("epoch %d: %d committees remote, %d local (%d per slot)", e, len(remote.Data), local.Count(), local.CommitteesPerSlot)
		}
		for _, rc := range remote.Data {
			lc, err := local.Committee(rc.Slot, rc.Index)
			if err != nil {
				t.Fatal(err)
			}
			if len(lc) != len(rc.Validators) {
				t.Fatalf("epoch %d slot %d index %d: sizes %d vs %d", e, rc.Slot, rc.Index, len(lc), len(rc.Validators))
			}
			for i := range lc {
				if lc[i] != rc.Validators[i] {
					t.Fatalf("epoch %d slot %d index %d pos %d: %d vs %d", e, rc.Slot, rc.Index, i, lc[i], rc.Validators[i])
				}
			}
		}
		// Exited / not-yet-active validators are (not) in the committees as their epochs say.
		in := map[phase0.ValidatorIndex]bool{}
		local.ForEach(func(_ phase0.Slot, _ phase0.CommitteeIndex, m []phase0.ValidatorIndex) {
			for _, v := range m {
				in[v] = true
			}
		})
		if in[100] != (e < 3) || in[2047] != (e >= 2) || in[500] != (e < 7) {
			t.Errorf("epoch %d membership: 100=%v 2047=%v 500=%v", e, in[100], in[2047], in[500])
		}
	}

	// Blocks: SSZ and JSON decode to the same block.
	jsonCl := newClient(t, srv.URL(), true)
	blocks := 0
	for s := phase0.Slot(0); s <= 61; s++ {
		b1, err1 := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: slotID(s)})
		if !c.HasBlock(s) {
			var apiErr *api.Error
			if !errors.As(err1, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
				t.Fatalf("slot %d: missed slot gave %v", s, err1)
			}
			continue
		}
		if err1 != nil {
			t.Fatalf("block %d ssz: %v", s, err1)
		}
		b2, err := jsonCl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: slotID(s)})
		if err != nil {
			t.Fatalf("block %d json: %v", s, err)
		}
		r1, _ := b1.Data.Electra.HashTreeRoot()
		r2, _ := b2.Data.Electra.HashTreeRoot()
		if r1 != r2 || b1.Data.Electra.Message.Slot != s {
			t.Fatalf("block %d: SSZ and JSON differ", s)
		}
		blocks++
	}
	if blocks < 40 {
		t.Fatalf("only %d blocks in 62 slots at a 10%% miss rate", blocks)
	}

	// The Electra state decodes from JSON as well and matches the SSZ one.
	js, err := jsonCl.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: "head"})
	if err != nil {
		t.Fatalf("json state: %v", err)
	}
	rj, err := js.Data.Electra.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := st.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	if rj != rs {
		t.Fatal("JSON and SSZ states differ")
	}

	// Header and finality.
	hdr, err := cl.(eth2client.BeaconBlockHeadersProvider).BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: "head"})
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	head, _ := cl.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: "head"})
	bodyRoot, _ := head.Data.Electra.Message.Body.HashTreeRoot()
	if hdr.Data.Header.Message.BodyRoot != bodyRoot {
		t.Fatalf("header body root differs from the block body's hash tree root")
	}
	fin, err := cl.(eth2client.FinalityProvider).Finality(ctx, &api.FinalityOpts{State: "head"})
	if err != nil {
		t.Fatalf("finality: %v", err)
	}
	if fin.Data.Finalized.Epoch != 5 || fin.Data.Justified.Epoch != 6 {
		t.Fatalf("finality %d/%d", fin.Data.Finalized.Epoch, fin.Data.Justified.Epoch)
	}
}

func slotID(s phase0.Slot) string { return strconv.FormatUint(uint64(s), 10) }

// TestPayloadHeaderRoots: SSZ makes a payload and its header share one root,
// which pins our transactions and withdrawals roots.
func TestPayloadHeaderRoots(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkElectra))
	checked := 0
	for s := phase0.Slot(1); s <= 61; s++ {
		if !c.HasBlock(s) {
			continue
		}
		b, err := c.Block(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		p := b.Electra.Message.Body.ExecutionPayload
		h, err := payloadHeader(p)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := p.HashTreeRoot()
		if err != nil {
			t.Fatal(err)
		}
		hr, err := h.HashTreeRoot()
		if err != nil {
			t.Fatal(err)
		}
		if pr != hr {
			t.Fatalf("slot %d: payload root %x header root %x (txs %d, withdrawals %d)", s, pr, hr, len(p.Transactions), len(p.Withdrawals))
		}
		if len(p.Transactions) > 0 {
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no block with transactions checked")
	}
}

var _ = electra.Attestation{}
