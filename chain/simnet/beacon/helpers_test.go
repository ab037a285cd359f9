package beacon

import (
	"context"
	"fmt"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
	"net/http"
)

func u64(v uint64) *uint64   { return &v }
func f64(v float64) *float64 { return &v }
func pubkeyHex(i int) string { return fmt.Sprintf("0x%096x", 0xa0_0000+i) }
func addrHex(i int) string   { return fmt.Sprintf("0x%040x", 0xfee0_0000+i) }

// testScenario: 4,096 validators, 8 slots per epoch, head slot 61 (epoch 7).
func testScenario(seed uint64, fork string) *Scenario {
	return &Scenario{
		Seed:              seed,
		GenesisTime:       1_700_000_000,
		SecondsPerSlot:    12,
		SlotsPerEpoch:     8,
		ValidatorCount:    4096,
		HeadSlot:          61,
		Fork:              fork,
		Participation:     f64(0.9),
		MissedSlotRate:    0.1,
		LateInclusionRate: 0.1,
		MEVRate:           0.3,
		ProtocolValidators: []ProtocolValidator{
			{Pubkey: pubkeyHex(1), Index: u64(7), FeeRecipient: addrHex(1), Participation: f64(1),
				Proposals: []Proposal{{Slot: 9, Kind: ProposalLocal}, {Slot: 21, Kind: ProposalMEV, MEVValueGwei: 123_456_789}}},
			{Pubkey: pubkeyHex(2), FeeRecipient: addrHex(2), MEVFeeRecipient: addrHex(22), Participation: f64(0.5)},
			// exits at epoch 3, withdrawable at epoch 4
			{Pubkey: pubkeyHex(3), Index: u64(100), ExitEpoch: u64(3), WithdrawableEpoch: u64(4)},
			// activates at epoch 2
			{Pubkey: pubkeyHex(4), Index: u64(2047), ActivationEpoch: 2},
			// slashed in epoch 2
			{Pubkey: pubkeyHex(5), Index: u64(500), SlashedEpoch: u64(2)},
		},
	}
}

func newTestChain(t testing.TB, sc *Scenario) *Chain {
	t.Helper()
	c, err := New(context.Background(), WithScenario(sc))
	if err != nil {
		t.Fatalf("new chain: %v", err)
	}
	return c
}

func newTestServer(t testing.TB, c *Chain, params ...ServerParameter) *Server {
	t.Helper()
	s, err := NewServer(context.Background(), append([]ServerParameter{WithChain(c)}, params...)...)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func newClient(t testing.TB, url string, enforceJSON bool) eth2client.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := eth2http.New(ctx,
		eth2http.WithAddress(url),
		eth2http.WithTimeout(10*time.Second),
		eth2http.WithLogLevel(zerolog.Disabled),
		eth2http.WithEnforceJSON(enforceJSON),
	)
	if err != nil {
		t.Fatalf("eth2 client: %v", err)
	}
	return cl
}

func phase0Slot(i int) phase0.Slot { return phase0.Slot(i) }

func srvHandler(t testing.TB, c *Chain) http.Handler {
	t.Helper()
	return (&Server{chain: c, log: zerolog.Nop()}).Handler()
}
