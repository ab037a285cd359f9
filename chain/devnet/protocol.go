package devnet

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
)

// Protocol layout on the interop keys of a 64-validator devnet whose last 4 validators are offline
// (WithOffline(4)). Validators not listed belong to nobody in the protocol.
//
//	node   Smoothing Pool  validators                      kind
//	alice  in              0-5                             minipools (8 / 16 ETH bonds)
//	bob    in              6-9, 60 (offline)               minipools
//	carol  in              10-15, 61 (offline)             megapool
//	dave   out             16-19                           minipools (fee distributor; one penalty)
//	erin   in, DEFECTOR    20-31                           minipools paying the node itself
//	frank  in              32-37                           megapool
//
// erin's twelve keys make a proposal of hers very likely in any stretch of a few dozen slots
// ((52/64)^60 ≈ 4·10⁻⁶ that 60 slots have none).
const (
	// LayoutValidators and LayoutOffline are the devnet size the layout is written for.
	LayoutValidators = 64
	LayoutOffline    = 4
	// Defector is the node whose validators pay a wrong fee recipient.
	Defector = "erin"
	// IntervalStartSlot is where reward interval 0 starts (claimIntervalTimeStart is this slot's time).
	IntervalStartSlot = 32
)

type layoutNode struct {
	name      string
	optedIn   bool
	defector  bool
	megapool  bool
	keys      []int
	legacyRPL string
	extra     string
}

func keyRange(lo, hi int, more ...int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return append(out, more...)
}

var layout = []layoutNode{
	{name: "alice", optedIn: true, keys: keyRange(0, 5), legacyRPL: "2000 rpl"},
	{name: "bob", optedIn: true, keys: keyRange(6, 9, 60), legacyRPL: "500 rpl"},
	{name: "carol", optedIn: true, megapool: true, keys: keyRange(10, 15, 61)},
	{name: "dave", optedIn: false, keys: keyRange(16, 19), legacyRPL: "100 rpl", extra: "penalty"},
	{name: "erin", optedIn: true, defector: true, keys: keyRange(20, 31), legacyRPL: "800 rpl"},
	{name: "frank", optedIn: true, megapool: true, keys: keyRange(32, 37)},
}

// ScenarioYAML is the devnet's protocol as a chain/simnet/scenario document: interval 0 starts with epoch 1
// and lasts intervalEpochs epochs; every registration, opt-in and minipool status dates from a day before the
// genesis; 2 ETH of Smoothing Pool income and 0.1 ETH of voter share are paid at the genesis.
//
// Interval 0 does not start at the genesis: it would start with the genesis block, which carries no execution
// payload on a real chain (Prysm's slot-0 block has an empty body), and chain/interval needs the first
// block's payload for the interval's first EL block. Epoch 1 also begins after the seeding.
func ScenarioYAML(g *Genesis, intervalEpochs uint64) (string, error) {
	if len(g.Pubkeys) != LayoutValidators {
		return "", fmt.Errorf("protocol layout: written for %d validators, the devnet has %d", LayoutValidators, len(g.Pubkeys))
	}
	if intervalEpochs == 0 {
		return "", fmt.Errorf("protocol layout: interval of 0 epochs")
	}
	day := g.Time - 86400
	key := func(i int) string { return fmt.Sprintf("%#x", g.Pubkeys[i][:]) }
	var b strings.Builder
	fmt.Fprintf(&b, "name: odaowatch-devnet\nseed: 9\ngenesis_time: %d\nseconds_per_slot: %d\nslots_per_epoch: 32\n", g.Time, g.SecondsPerSlot)
	fmt.Fprintf(&b, "rewards:\n  interval_seconds: %d\n  interval_start: %d\n  reward_index: 0\n  pending_rpl: 10000 rpl\n  rpl_price: 0.005 eth\n",
		intervalEpochs*32*g.SecondsPerSlot, g.SlotTime(IntervalStartSlot))
	b.WriteString("odao:\n")
	for _, m := range []string{"odao-1", "odao-2", "odao-3"} {
		fmt.Fprintf(&b, "  - {name: %s, joined_time: %d}\n", m, day)
	}
	b.WriteString("nodes:\n")
	for _, n := range layout {
		fmt.Fprintf(&b, "  - name: %s\n    registration_time: %d\n    smoothing_pool: {opted_in: %t, time: %d}\n", n.name, day, n.optedIn, day)
		if n.defector {
			b.WriteString("    defector: true\n")
		}
		if n.legacyRPL != "" {
			fmt.Fprintf(&b, "    legacy_rpl: %s\n", n.legacyRPL)
		}
		if n.megapool {
			fmt.Fprintf(&b, "    megapool_rpl: 300 rpl\n    megapool_eth_bonded: %d eth\n    megapool:\n      validators:\n", 4*len(n.keys))
			for _, k := range n.keys {
				fmt.Fprintf(&b, "        - {pubkey: '%s'}\n", key(k))
			}
			continue
		}
		b.WriteString("    minipools:\n")
		for j, k := range n.keys {
			bond, fee := "8 eth", "14%"
			if j%2 == 1 {
				bond, fee = "16 eth", "5%"
			}
			fmt.Fprintf(&b, "      - {pubkey: '%s', status_time: %d, bond: %s, node_fee: %s", key(k), day, bond, fee)
			if n.extra == "penalty" && j == 0 {
				b.WriteString(", penalty_count: 1")
			}
			b.WriteString("}\n")
		}
	}
	fmt.Fprintf(&b, "smoothing_pool_income:\n  - {time: %d, amount: 2 eth}\nvoter_share_deposits:\n  - {time: %d, amount: 0.1 eth}\n", g.Time, g.Time)
	return b.String(), nil
}

// Protocol is the devnet's protocol scenario with the addresses its deployment will have.
type Protocol struct {
	Scenario *scenario.Scenario
	// Predicted is the scenario seeded on a simulated backend: the same guardian, nonces and order give the
	// same contract, minipool, megapool and fee distributor addresses on the devnet (Seed checks them).
	Predicted *scenario.Network
	// ValidatorNode maps a protocol validator index to its node name.
	ValidatorNode map[uint64]string
}

// NewProtocol builds the scenario for g and predicts its addresses.
func NewProtocol(ctx context.Context, g *Genesis, intervalEpochs uint64) (*Protocol, error) {
	doc, err := ScenarioYAML(g, intervalEpochs)
	if err != nil {
		return nil, err
	}
	s, err := scenario.Parse([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("protocol scenario: %w", err)
	}
	alloc, err := s.GenesisAlloc()
	if err != nil {
		return nil, err
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(100_000_000))
	defer sim.Close()
	net, err := scenario.Seed(ctx, sim.Client(), s, big.NewInt(ChainID), func() { sim.Commit() })
	if err != nil {
		return nil, fmt.Errorf("predict protocol addresses: %w", err)
	}
	p := &Protocol{Scenario: s, Predicted: net, ValidatorNode: map[uint64]string{}}
	for _, n := range layout {
		for _, k := range n.keys {
			p.ValidatorNode[uint64(k)] = n.name
		}
	}
	return p, nil
}

// Setup funds the scenario's accounts in the genesis and gives every protocol validator the fee recipient
// of its node's Smoothing Pool state (the node itself for the defector), as the predicted deployment says.
func (p *Protocol) Setup(g *Genesis) (*Setup, error) {
	alloc, err := p.Scenario.GenesisAlloc()
	if err != nil {
		return nil, err
	}
	s := &Setup{Alloc: alloc, FeeRecipients: map[phase0.BLSPubKey]common.Address{}}
	for idx := range p.ValidatorNode {
		pk := g.Pubkeys[idx]
		a, ok := p.Predicted.FeeRecipientAt(pk[:], g.Time)
		if !ok {
			return nil, fmt.Errorf("validator %d is in the layout but not in the scenario", idx)
		}
		s.FeeRecipients[pk] = a
	}
	return s, nil
}

// Validators returns the protocol validators of node (all nodes when node is ""), sorted.
func (p *Protocol) Validators(node string) []uint64 {
	var out []uint64
	for idx, n := range p.ValidatorNode {
		if node == "" || n == node {
			out = append(out, idx)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Seed deploys and seeds the protocol on the devnet's EL (the guardian's transactions are mined by the
// running chain) and checks that every address is the predicted one.
func (p *Protocol) Seed(ctx context.Context, backend contracts.Backend) (*scenario.Network, error) {
	net, err := scenario.Seed(ctx, backend, p.Scenario, big.NewInt(ChainID), nil)
	if err != nil {
		return nil, fmt.Errorf("seed the devnet: %w", err)
	}
	if err := sameAddresses(p.Predicted, net); err != nil {
		return nil, fmt.Errorf("seed the devnet: %w (the validators' fee recipients were set from the prediction)", err)
	}
	return net, nil
}

func sameAddresses(want, got *scenario.Network) error {
	if want.Deployment.StorageAddress != got.Deployment.StorageAddress || want.Deployment.Multicall != got.Deployment.Multicall {
		return fmt.Errorf("RocketStorage/Multicall3 at %s/%s, predicted %s/%s", got.Deployment.StorageAddress.Hex(),
			got.Deployment.Multicall.Hex(), want.Deployment.StorageAddress.Hex(), want.Deployment.Multicall.Hex())
	}
	for _, name := range want.Deployment.Names() {
		if want.Deployment.Addresses[name] != got.Deployment.Addresses[name] {
			return fmt.Errorf("%s at %s, predicted %s", name, got.Deployment.Addresses[name].Hex(), want.Deployment.Addresses[name].Hex())
		}
	}
	for _, m := range []struct {
		what      string
		want, got map[string]common.Address
	}{{"minipool", want.Minipools, got.Minipools}, {"megapool", want.Megapools, got.Megapools}, {"fee distributor", want.FeeDistributors, got.FeeDistributors}} {
		if len(m.want) != len(m.got) {
			return fmt.Errorf("%d %ss, predicted %d", len(m.got), m.what, len(m.want))
		}
		for k, a := range m.want {
			if m.got[k] != a {
				return fmt.Errorf("%s of %s at %s, predicted %s", m.what, k, m.got[k].Hex(), a.Hex())
			}
		}
	}
	return nil
}
