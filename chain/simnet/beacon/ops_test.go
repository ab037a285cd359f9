package beacon

import (
	"context"
	"path/filepath"
	"testing"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func TestExampleScenarioLoads(t *testing.T) {
	sc, err := LoadScenario(filepath.Join("testdata", "example-scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := newTestChain(t, sc)
	ctx := context.Background()
	b, err := c.Block(ctx, 65)
	if err != nil {
		t.Fatal(err)
	}
	if b.Electra.Message.ProposerIndex != 17 {
		t.Fatalf("slot 65 proposer %d", b.Electra.Message.ProposerIndex)
	}
	// EL numbers start after el_genesis_block.
	if n := c.ELBlockNumber(65); n <= 1000 || n > 1065 {
		t.Fatalf("EL block %d", n)
	}
}

// TestOperations: slashings and voluntary exits appear once, in the first block of their epoch.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	sc := testScenario(42, ForkElectra)
	sc.ProtocolValidators = append(sc.ProtocolValidators, ProtocolValidator{Pubkey: pubkeyHex(9), Index: u64(900), ExitEpoch: u64(6)})
	c := newTestChain(t, sc)
	slashings, exits := map[phase0.ValidatorIndex]phase0.Slot{}, map[phase0.ValidatorIndex]phase0.Slot{}
	for s := phase0.Slot(0); s <= 61; s++ {
		if !c.HasBlock(s) {
			continue
		}
		b, err := c.Block(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, ps := range b.Electra.Message.Body.ProposerSlashings {
			v := ps.SignedHeader1.Message.ProposerIndex
			if _, dup := slashings[v]; dup || ps.SignedHeader2.Message.ProposerIndex != v || ps.SignedHeader1.Message.BodyRoot == ps.SignedHeader2.Message.BodyRoot {
				t.Fatalf("bad proposer slashing for %d at %d", v, s)
			}
			slashings[v] = s
		}
		for _, ve := range b.Electra.Message.Body.VoluntaryExits {
			if _, dup := exits[ve.Message.ValidatorIndex]; dup {
				t.Fatalf("exit of %d twice", ve.Message.ValidatorIndex)
			}
			exits[ve.Message.ValidatorIndex] = s
		}
	}
	// 500 slashed in epoch 2 (slots 16..23); 900 exits at epoch 6 -> signed in epoch 1 (6-5);
	// 100 exits at epoch 3 -> announced in its activation epoch 0.
	if len(slashings) != 1 || c.epochOf(slashings[500]) != 2 {
		t.Fatalf("slashings %v", slashings)
	}
	if len(exits) != 2 || c.epochOf(exits[900]) != 1 || exits[100] != 0 {
		t.Fatalf("exits %v", exits)
	}
	// State view follows: 900 shows its exit from epoch 1 on, not before.
	if v := c.Validator(900, 0); v.ExitEpoch != farFuture {
		t.Fatalf("exit visible too early: %d", v.ExitEpoch)
	}
	if v := c.Validator(900, 1); v.ExitEpoch != 6 || v.WithdrawableEpoch != 6+256 {
		t.Fatalf("exit not visible: %d/%d", v.ExitEpoch, v.WithdrawableEpoch)
	}
}

type hookEL struct{}

func (hookEL) ExecutionBlock(_ context.Context, slot phase0.Slot, _ *BlockProposal, gen *ExecutionBlock) (*ExecutionBlock, error) {
	out := *gen
	out.Number = 5_000_000 + uint64(slot)
	out.FeeRecipient = [20]byte{0xab}
	out.Transactions = [][]byte{{0x02, 0x01}}
	return &out, nil
}

func TestExecutionProviderHook(t *testing.T) {
	ctx := context.Background()
	c, err := New(ctx, WithScenario(testScenario(42, ForkElectra)), WithExecutionProvider(hookEL{}))
	if err != nil {
		t.Fatal(err)
	}
	for s := phase0.Slot(1); s < 20; s++ {
		if !c.HasBlock(s) {
			continue
		}
		b, err := c.Block(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		p := b.Electra.Message.Body.ExecutionPayload
		if p.BlockNumber != 5_000_000+uint64(s) || p.FeeRecipient[0] != 0xab || len(p.Transactions) != 1 {
			t.Fatalf("slot %d: hook not applied (number %d)", s, p.BlockNumber)
		}
	}
}

func TestPubkeyLookup(t *testing.T) {
	c := newTestChain(t, testScenario(42, ForkElectra))
	for _, i := range []phase0.ValidatorIndex{0, 1, 99, 4095} {
		got, ok := c.ValidatorByPubkey(c.Pubkey(i))
		if !ok || got != i {
			t.Fatalf("lookup of %d: %d %v", i, got, ok)
		}
	}
	pk := c.Pubkey(5)
	pk[3] ^= 1
	if _, ok := c.ValidatorByPubkey(pk); ok {
		t.Fatal("altered pubkey found")
	}
}

func TestProposerDutiesAndELMapping(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(42, ForkElectra))
	srv := newTestServer(t, c)
	cl := newClient(t, srv.URL(), false)
	duties, err := cl.(eth2client.ProposerDutiesProvider).ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(duties.Data) != 8 {
		t.Fatalf("%d duties", len(duties.Data))
	}
	for _, d := range duties.Data {
		if !c.HasBlock(d.Slot) {
			continue
		}
		b, err := c.Block(ctx, d.Slot)
		if err != nil {
			t.Fatal(err)
		}
		if b.Electra.Message.ProposerIndex != d.ValidatorIndex || c.Pubkey(d.ValidatorIndex) != d.PubKey {
			t.Fatalf("slot %d: duty %d, block %d", d.Slot, d.ValidatorIndex, b.Electra.Message.ProposerIndex)
		}
	}
	for s := phase0.Slot(0); s <= 61; s++ {
		if !c.HasBlock(s) {
			continue
		}
		back, ok := c.SlotOfELBlock(c.ELBlockNumber(s))
		if !ok || back != s {
			t.Fatalf("slot %d -> EL %d -> slot %d", s, c.ELBlockNumber(s), back)
		}
	}
}
