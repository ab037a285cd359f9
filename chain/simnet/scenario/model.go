// Package scenario describes a simulated Rocket Pool network in YAML — oDAO members, nodes with minipools and
// megapools, Smoothing Pool opt-in/out history, bond reductions, penalties, defectors, exits and Smoothing Pool
// income over time — and seeds it onto the simnet contracts (chain/simnet/contracts). The same scenario yields the
// protocol validators of the simulated beacon chain (chain/simnet/beacon), so EL and CL agree on pubkeys,
// withdrawal credentials, fee recipients and exits.
//
// Times are Unix seconds; amounts are exact (see Amount); keys are derived deterministically from the seed and
// the account name.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Scenario is the top-level YAML document.
type Scenario struct {
	// Name labels the scenario in logs.
	Name string `yaml:"name"`
	// Seed keys every derived private key.
	Seed uint64 `yaml:"seed"`
	// GenesisTime of the beacon chain (Unix seconds); the rewards interval and all event times are absolute.
	GenesisTime uint64 `yaml:"genesis_time"`
	// SecondsPerSlot (default 12) and SlotsPerEpoch (default 32), shared with the beacon chain.
	SecondsPerSlot uint64 `yaml:"seconds_per_slot"`
	SlotsPerEpoch  uint64 `yaml:"slots_per_epoch"`
	// Rewards configures the rewards pool and network prices.
	Rewards Rewards `yaml:"rewards"`
	// ODAO lists the oracle-DAO members (each also registered as a node).
	ODAO []Member `yaml:"odao"`
	// Nodes lists the node operators.
	Nodes []Node `yaml:"nodes"`
	// SmoothingPoolIncome is ETH paid into the Smoothing Pool over time (priority fees and MEV of opted-in nodes).
	SmoothingPoolIncome []Deposit `yaml:"smoothing_pool_income"`
	// VoterShareDeposits is megapool voter-share ETH arriving in the rewards pool's vault over time.
	VoterShareDeposits []Deposit `yaml:"voter_share_deposits"`
}

// Rewards configures interval timing, pending RPL and prices.
type Rewards struct {
	// IntervalSeconds is the interval length (mainnet 28 days).
	IntervalSeconds uint64 `yaml:"interval_seconds"`
	// IntervalStart is claimIntervalTimeStart (default GenesisTime).
	IntervalStart *uint64 `yaml:"interval_start"`
	// RewardIndex is the index of the first open interval (default 0).
	RewardIndex uint64 `yaml:"reward_index"`
	// PendingRPL is the RPL inflation available to the first submission.
	PendingRPL Amount `yaml:"pending_rpl"`
	// RPLPrice in ETH per RPL (default 0.01 eth).
	RPLPrice Amount `yaml:"rpl_price"`
	// Revenue shares (defaults: node 5 %, voter 9 %, pDAO 0 %).
	NodeShare  Fraction `yaml:"node_share"`
	VoterShare Fraction `yaml:"voter_share"`
	PDAOShare  Fraction `yaml:"pdao_share"`
	// Claiming percentages of the RPL pots (defaults: node 70 %, trusted node 2.5 %, pDAO 27.5 %).
	NodePerc        Fraction `yaml:"node_perc"`
	TrustedNodePerc Fraction `yaml:"trusted_node_perc"`
	DAOPerc         Fraction `yaml:"dao_perc"`
	// EnabledNetworks lists reward networks other than 0 that are enabled.
	EnabledNetworks []uint64 `yaml:"enabled_networks"`
}

// Member is an oDAO member.
type Member struct {
	Name       string `yaml:"name"`
	JoinedTime uint64 `yaml:"joined_time"`
	// RegistrationTime of the member's node (default JoinedTime).
	RegistrationTime *uint64 `yaml:"registration_time"`
}

// Node is a node operator.
type Node struct {
	Name             string `yaml:"name"`
	RegistrationTime uint64 `yaml:"registration_time"`
	RewardNetwork    uint64 `yaml:"reward_network"`
	// SmoothingPool is the initial registration state; SmoothingPoolChanges happen later in time order.
	SmoothingPool        SPState   `yaml:"smoothing_pool"`
	SmoothingPoolChanges []SPState `yaml:"smoothing_pool_changes"`
	// Stakes.
	LegacyRPL         Amount `yaml:"legacy_rpl"`
	MegapoolRPL       Amount `yaml:"megapool_rpl"`
	MegapoolETHBonded Amount `yaml:"megapool_eth_bonded"`
	// Defector: the node's validators send fees to the node itself instead of the Smoothing Pool while opted in.
	Defector  bool       `yaml:"defector"`
	Minipools []Minipool `yaml:"minipools"`
	Megapool  *Megapool  `yaml:"megapool"`
}

// SPState is a Smoothing Pool registration state from Time on.
type SPState struct {
	OptedIn bool   `yaml:"opted_in"`
	Time    uint64 `yaml:"time"`
}

// Minipool statuses (mainnet MinipoolStatus order).
var minipoolStatuses = map[string]uint8{"initialised": 0, "prelaunch": 1, "staking": 2, "withdrawable": 3, "dissolved": 4}

// Minipool is a legacy minipool and its validator.
type Minipool struct {
	// Pubkey is the validator's 48-byte BLS key, 0x-hex (shared with the beacon chain).
	Pubkey     string `yaml:"pubkey"`
	Status     string `yaml:"status"` // default staking
	StatusTime uint64 `yaml:"status_time"`
	// Bond is the node deposit (default 8 eth); the user deposit is 32 ETH minus the bond.
	Bond    Amount   `yaml:"bond"`
	NodeFee Fraction `yaml:"node_fee"` // default 14 %
	// BondReductions in time order (only the last one is remembered on chain, like mainnet).
	BondReductions []BondReduction `yaml:"bond_reductions"`
	PenaltyCount   uint64          `yaml:"penalty_count"`
	Beacon         BeaconFacts     `yaml:"beacon"`
}

// BondReduction lowers a minipool's bond at Time.
type BondReduction struct {
	Time    uint64   `yaml:"time"`
	NewBond Amount   `yaml:"new_bond"`
	NewFee  Fraction `yaml:"new_fee"`
}

// Megapool is a node's Saturn megapool.
type Megapool struct {
	// NodeBond and UserCapital default to the sums over staked validators (bond, 32 ETH − bond).
	NodeBond    Amount              `yaml:"node_bond"`
	UserCapital Amount              `yaml:"user_capital"`
	Validators  []MegapoolValidator `yaml:"validators"`
}

// Megapool validator states.
const (
	StateQueue     = "queue"
	StatePrestake  = "prestake"
	StateStaked    = "staked"
	StateLocked    = "locked" // staked with an outstanding exit challenge
	StateExiting   = "exiting"
	StateExited    = "exited"
	StateDissolved = "dissolved"
)

// MegapoolValidator is one validator of a megapool.
type MegapoolValidator struct {
	Pubkey string `yaml:"pubkey"`
	State  string `yaml:"state"` // default staked
	// Bond in ETH (default 4 eth); requested value is always 32 ETH.
	Bond Amount `yaml:"bond"`
	// AssignmentTime is lastAssignmentTime for prestaked validators.
	AssignmentTime uint64      `yaml:"assignment_time"`
	LockedTime     uint64      `yaml:"locked_time"`
	Beacon         BeaconFacts `yaml:"beacon"`
	// NotifyExitTime, if set, is when the node operator calls notifyExit (timed), proving the beacon state of the
	// slot at that time; needs beacon.withdrawable_epoch. The late fine applies iff that slot's epoch >
	// withdrawable_epoch − notify.threshold.
	NotifyExitTime *uint64 `yaml:"notify_exit_time"`
}

// BeaconFacts are the validator's beacon-chain facts (passed to the simulated beacon chain).
type BeaconFacts struct {
	Index             *uint64  `yaml:"index"`
	ActivationEpoch   uint64   `yaml:"activation_epoch"`
	ExitEpoch         *uint64  `yaml:"exit_epoch"`
	WithdrawableEpoch *uint64  `yaml:"withdrawable_epoch"`
	SlashedEpoch      *uint64  `yaml:"slashed_epoch"`
	Participation     *float64 `yaml:"participation"`
}

// Deposit is an ETH payment at Time.
type Deposit struct {
	Time   uint64 `yaml:"time"`
	Amount Amount `yaml:"amount"`
}

// Load reads and validates a YAML scenario file.
func Load(path string) (*Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(raw)
}

// Parse decodes a YAML scenario (unknown fields are errors), fills defaults and validates it.
func Parse(raw []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	if err := s.normalise(); err != nil {
		return nil, err
	}
	return &s, nil
}

func eth(n int64) Amount {
	a, _ := ParseAmount(fmt.Sprintf("%d eth", n))
	return a
}

func frac(s string) Fraction {
	f, _ := ParseFraction(s)
	return f
}

// normalise fills defaults and checks consistency.
func (s *Scenario) normalise() error {
	if s.SecondsPerSlot == 0 {
		s.SecondsPerSlot = 12
	}
	if s.SlotsPerEpoch == 0 {
		s.SlotsPerEpoch = 32
	}
	r := &s.Rewards
	if r.IntervalSeconds == 0 {
		return errors.New("scenario: rewards.interval_seconds must be > 0")
	}
	if r.IntervalStart == nil {
		start := s.GenesisTime
		r.IntervalStart = &start
	}
	if !r.RPLPrice.IsSet() {
		r.RPLPrice, _ = ParseAmount("0.01 eth")
	}
	if r.RPLPrice.Wei().Sign() == 0 {
		return errors.New("scenario: rewards.rpl_price must be > 0")
	}
	for _, d := range []struct {
		f   *Fraction
		def string
	}{{&r.NodeShare, "0.05"}, {&r.VoterShare, "0.09"}, {&r.PDAOShare, "0"}, {&r.NodePerc, "0.7"}, {&r.TrustedNodePerc, "0.025"}, {&r.DAOPerc, "0.275"}} {
		if !d.f.IsSet() {
			*d.f = frac(d.def)
		}
	}

	names := map[string]bool{}
	pubkeys := map[string]string{}
	claim := func(kind, name string) error {
		if name == "" {
			return fmt.Errorf("scenario: %s without a name", kind)
		}
		if names[name] {
			return fmt.Errorf("scenario: duplicate account name %q", name)
		}
		names[name] = true
		return nil
	}
	claimKey := func(owner, pk string) error {
		if _, err := parsePubkey(pk); err != nil {
			return fmt.Errorf("scenario: %s: %w", owner, err)
		}
		k := strings.ToLower(strings.TrimPrefix(pk, "0x"))
		if other, dup := pubkeys[k]; dup {
			return fmt.Errorf("scenario: pubkey %s used by %s and %s", pk, other, owner)
		}
		pubkeys[k] = owner
		return nil
	}
	for i := range s.ODAO {
		m := &s.ODAO[i]
		if err := claim("odao member", m.Name); err != nil {
			return err
		}
		if m.RegistrationTime == nil {
			t := m.JoinedTime
			m.RegistrationTime = &t
		}
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if err := claim("node", n.Name); err != nil {
			return err
		}
		if !sort.SliceIsSorted(n.SmoothingPoolChanges, func(a, b int) bool { return n.SmoothingPoolChanges[a].Time < n.SmoothingPoolChanges[b].Time }) {
			return fmt.Errorf("scenario: node %s: smoothing_pool_changes not in time order", n.Name)
		}
		prev := n.SmoothingPool
		for _, c := range n.SmoothingPoolChanges {
			if c.OptedIn == prev.OptedIn {
				return fmt.Errorf("scenario: node %s: smoothing pool change at %d does not change the state", n.Name, c.Time)
			}
			if c.Time < prev.Time {
				return fmt.Errorf("scenario: node %s: smoothing pool change at %d before the previous one at %d", n.Name, c.Time, prev.Time)
			}
			prev = c
		}
		for j := range n.Minipools {
			mp := &n.Minipools[j]
			owner := fmt.Sprintf("node %s minipool %d", n.Name, j)
			if err := claimKey(owner, mp.Pubkey); err != nil {
				return err
			}
			if mp.Status == "" {
				mp.Status = "staking"
			}
			if _, ok := minipoolStatuses[mp.Status]; !ok {
				return fmt.Errorf("scenario: %s: unknown status %q", owner, mp.Status)
			}
			if !mp.Bond.IsSet() {
				mp.Bond = eth(8)
			}
			if mp.Bond.Wei().Cmp(eth(32).Wei()) > 0 {
				return fmt.Errorf("scenario: %s: bond above 32 ETH", owner)
			}
			if !mp.NodeFee.IsSet() {
				mp.NodeFee = frac("0.14")
			}
			bond := mp.Bond.Wei()
			last := uint64(0)
			for k, br := range mp.BondReductions {
				if br.Time < last {
					return fmt.Errorf("scenario: %s: bond reductions not in time order", owner)
				}
				last = br.Time
				if !br.NewBond.IsSet() || br.NewBond.Wei().Cmp(bond) >= 0 {
					return fmt.Errorf("scenario: %s: bond reduction %d must lower the bond", owner, k)
				}
				if !br.NewFee.IsSet() {
					mp.BondReductions[k].NewFee = mp.NodeFee
				}
				bond = br.NewBond.Wei()
			}
		}
		if n.Megapool != nil {
			sumBond, sumUser := new(big.Int), new(big.Int)
			for j := range n.Megapool.Validators {
				v := &n.Megapool.Validators[j]
				owner := fmt.Sprintf("node %s megapool validator %d", n.Name, j)
				if err := claimKey(owner, v.Pubkey); err != nil {
					return err
				}
				if v.State == "" {
					v.State = StateStaked
				}
				switch v.State {
				case StateQueue, StatePrestake, StateStaked, StateLocked, StateExiting, StateExited, StateDissolved:
				default:
					return fmt.Errorf("scenario: %s: unknown state %q", owner, v.State)
				}
				if !v.Bond.IsSet() {
					v.Bond = eth(4)
				}
				if v.Bond.Wei().Cmp(eth(32).Wei()) > 0 || v.Bond.Wei().Sign() == 0 {
					return fmt.Errorf("scenario: %s: bond must be in (0, 32] ETH", owner)
				}
				if v.NotifyExitTime != nil {
					if v.Beacon.WithdrawableEpoch == nil {
						return fmt.Errorf("scenario: %s: notify_exit_time needs beacon.withdrawable_epoch", owner)
					}
					if v.State != StateStaked && v.State != StateLocked {
						return fmt.Errorf("scenario: %s: notify_exit_time needs state staked or locked, not %s", owner, v.State)
					}
					if *v.NotifyExitTime < s.GenesisTime {
						return fmt.Errorf("scenario: %s: notify_exit_time before genesis", owner)
					}
				}
				if v.State == StateStaked || v.State == StateLocked || v.State == StateExiting {
					sumBond.Add(sumBond, v.Bond.Wei())
					sumUser.Add(sumUser, new(big.Int).Sub(eth(32).Wei(), v.Bond.Wei()))
				}
			}
			if !n.Megapool.NodeBond.IsSet() {
				n.Megapool.NodeBond = NewAmount(sumBond)
			}
			if !n.Megapool.UserCapital.IsSet() {
				n.Megapool.UserCapital = NewAmount(sumUser)
			}
		}
	}
	for _, list := range []struct {
		name string
		d    []Deposit
	}{{"smoothing_pool_income", s.SmoothingPoolIncome}, {"voter_share_deposits", s.VoterShareDeposits}} {
		if !sort.SliceIsSorted(list.d, func(a, b int) bool { return list.d[a].Time < list.d[b].Time }) {
			return fmt.Errorf("scenario: %s not in time order", list.name)
		}
		for i, d := range list.d {
			if !d.Amount.IsSet() {
				return fmt.Errorf("scenario: %s[%d] without an amount", list.name, i)
			}
		}
	}
	return nil
}

// SlotTime is the timestamp of a beacon slot (and of the EL block of that slot).
func (s *Scenario) SlotTime(slot uint64) uint64 { return s.GenesisTime + slot*s.SecondsPerSlot }
