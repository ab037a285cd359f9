package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// Network is a scenario seeded onto a deployed protocol.
type Network struct {
	Scenario   *Scenario
	Deployment *contracts.Deployment
	Guardian   Account
	Members    []Account
	Nodes      []Account
	// Minipools maps a validator pubkey (lower-case 0x-hex) to its minipool contract.
	Minipools map[string]common.Address
	// Megapools maps a node name to its megapool contract.
	Megapools map[string]common.Address
	// MegapoolValidators maps a validator pubkey (lower-case 0x-hex) to its megapool validator id.
	MegapoolValidators map[string]uint32
	// FeeDistributors maps a node name to its fee distributor.
	FeeDistributors map[string]common.Address

	batch  *txBatch
	events []timedEvent
	next   int
}

// Seed deploys the protocol with the scenario's guardian as deployer and seeds the initial state: settings,
// oDAO members (also registered as nodes), nodes with their initial Smoothing Pool state, stakes and fee
// distributors, minipools, megapools and their validators, penalty counts. Timed events (Smoothing Pool changes,
// bond reductions, Smoothing Pool income, voter share) are applied later by ApplyUntil. commit mines pending
// transactions on backends that need it (the simulated backend); nil for auto-mining backends.
func Seed(ctx context.Context, backend contracts.Backend, s *Scenario, chainID *big.Int, commit func()) (*Network, error) {
	if s == nil {
		return nil, errors.New("seed: no scenario")
	}
	if backend == nil {
		return nil, errors.New("seed: no backend")
	}
	if chainID == nil {
		return nil, errors.New("seed: no chain id")
	}
	g, err := s.Guardian()
	if err != nil {
		return nil, err
	}
	members, err := s.MemberAccounts()
	if err != nil {
		return nil, err
	}
	nodes, err := s.NodeAccounts()
	if err != nil {
		return nil, err
	}
	opts, err := bind.NewKeyedTransactorWithChainID(g.Key, chainID)
	if err != nil {
		return nil, fmt.Errorf("seed: guardian transactor: %w", err)
	}
	opts.Context = ctx
	d, err := contracts.Deploy(ctx, backend, opts, contracts.Params{
		IntervalStart: *s.Rewards.IntervalStart,
		IntervalTime:  s.Rewards.IntervalSeconds,
		Commit:        commit,
	})
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	b, err := newTxBatch(ctx, backend, opts, commit)
	if err != nil {
		return nil, err
	}
	n := &Network{
		Scenario: s, Deployment: d, Guardian: g, Members: members, Nodes: nodes,
		Minipools: map[string]common.Address{}, Megapools: map[string]common.Address{},
		MegapoolValidators: map[string]uint32{}, FeeDistributors: map[string]common.Address{},
		batch: b,
	}
	if err := n.seedSettingsAndAccounts(); err != nil {
		return nil, err
	}
	if err := n.seedPools(); err != nil {
		return nil, err
	}
	if err := n.seedPoolDetails(); err != nil {
		return nil, err
	}
	n.events = s.timedEvents()
	return n, nil
}

func big64(v uint64) *big.Int { return new(big.Int).SetUint64(v) }

func (n *Network) seedSettingsAndAccounts() error {
	s, d, b := n.Scenario, n.Deployment, n.batch
	r := s.Rewards
	b.send("set interval", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return d.RewardsPool.SimSetInterval(o, big64(r.RewardIndex), big64(*r.IntervalStart), big64(r.IntervalSeconds))
	})
	b.send("set pending RPL", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return d.RewardsPool.SimSetPendingRPLRewards(o, r.PendingRPL.Wei())
	})
	for _, p := range []struct {
		name string
		f    Fraction
	}{{"rocketClaimNode", r.NodePerc}, {"rocketClaimTrustedNode", r.TrustedNodePerc}, {"rocketClaimDAO", r.DAOPerc}} {
		b.send("set claiming perc "+p.name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.RewardsPool.SimSetClaimingContractPerc(o, p.name, p.f.Scaled())
		})
	}
	if s.SlotsPerEpoch != 32 {
		b.send("set slots per epoch", func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.SettingsMegapool.SetSettingUint(o, "sim.slots.per.epoch", big64(s.SlotsPerEpoch))
		})
	}
	b.send("set RPL price", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return d.NetworkPrices.SimSetRPLPrice(o, big.NewInt(0), r.RPLPrice.Wei())
	})
	b.send("set revenue shares", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return d.NetworkRevenues.SimSetShares(o, r.NodeShare.Scaled(), r.VoterShare.Scaled(), r.PDAOShare.Scaled())
	})
	for _, net := range r.EnabledNetworks {
		b.send(fmt.Sprintf("enable network %d", net), func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.DAONodeTrustedSettingsReward.SimSetNetworkEnabled(o, big64(net), true)
		})
	}
	for i, m := range s.ODAO {
		a := n.Members[i]
		b.send("add member "+m.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.DAONodeTrusted.SimAddMember(o, a.Address, m.Name, "https://"+m.Name+".simnet.invalid", big64(m.JoinedTime))
		})
		b.send("register member node "+m.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.NodeManager.SimRegisterNode(o, a.Address, big64(*m.RegistrationTime), big.NewInt(0), "Etc/UTC")
		})
	}
	for i, nd := range s.Nodes {
		a := n.Nodes[i]
		b.send("register node "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.NodeManager.SimRegisterNode(o, a.Address, big64(nd.RegistrationTime), big64(nd.RewardNetwork), "Etc/UTC")
		})
	}
	if err := b.flush(); err != nil {
		return err
	}
	for i, nd := range s.Nodes {
		a := n.Nodes[i]
		if nd.SmoothingPool.OptedIn || nd.SmoothingPool.Time != 0 {
			b.send("smoothing pool state of "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.NodeManager.SimSetSmoothingPoolRegistration(o, a.Address, nd.SmoothingPool.OptedIn, big64(nd.SmoothingPool.Time))
			})
		}
		if nd.LegacyRPL.IsSet() || nd.MegapoolRPL.IsSet() || nd.MegapoolETHBonded.IsSet() {
			b.send("stake of "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.NodeStaking.SimSetNodeStake(o, a.Address, nd.LegacyRPL.Wei(), nd.MegapoolRPL.Wei(), nd.MegapoolETHBonded.Wei())
			})
		}
		b.send("fee distributor of "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return d.NodeDistributorFactory.CreateProxy(o, a.Address)
		})
	}
	if err := b.flush(); err != nil {
		return err
	}
	call := &bind.CallOpts{Context: b.ctx}
	for i, nd := range s.Nodes {
		p, err := d.NodeDistributorFactory.GetProxyAddress(call, n.Nodes[i].Address)
		if err != nil {
			return fmt.Errorf("seed: fee distributor address of %s: %w", nd.Name, err)
		}
		n.FeeDistributors[nd.Name] = p
	}
	return nil
}

func (n *Network) seedPools() error {
	s, d, b := n.Scenario, n.Deployment, n.batch
	type created struct{ pubkey string }
	var order []created
	for i, nd := range s.Nodes {
		a := n.Nodes[i]
		for _, mp := range nd.Minipools {
			pk, _ := parsePubkey(mp.Pubkey) // validated by Parse
			status := minipoolStatuses[mp.Status]
			user := new(big.Int).Sub(eth(32).Wei(), mp.Bond.Wei())
			b.send("create minipool "+mp.Pubkey, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.MinipoolManager.SimCreateMinipool(o, a.Address, pk, status, big64(mp.StatusTime), mp.NodeFee.Scaled(), mp.Bond.Wei(), user)
			})
			order = append(order, created{pubkey: pubkeyKey(mp.Pubkey)})
		}
		if nd.Megapool != nil {
			b.send("deploy megapool of "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.MegapoolFactory.DeployContract(o, a.Address)
			})
		}
	}
	receipts, err := b.flushReceipts()
	if err != nil {
		return err
	}
	// Minipool addresses from the MinipoolCreated events, in sending order.
	k := 0
	for _, r := range receipts {
		for _, l := range r.Logs {
			ev, err := d.MinipoolManager.ParseMinipoolCreated(*l)
			if err != nil {
				continue
			}
			if k >= len(order) {
				return errors.New("seed: more minipools created than requested")
			}
			n.Minipools[order[k].pubkey] = ev.Minipool
			k++
		}
	}
	if k != len(order) {
		return fmt.Errorf("seed: %d minipools created, want %d", k, len(order))
	}
	call := &bind.CallOpts{Context: b.ctx}
	for i, nd := range s.Nodes {
		if nd.Megapool == nil {
			continue
		}
		addr, err := d.MegapoolFactory.GetExpectedAddress(call, n.Nodes[i].Address)
		if err != nil {
			return fmt.Errorf("seed: megapool address of %s: %w", nd.Name, err)
		}
		n.Megapools[nd.Name] = addr
	}
	return nil
}

// validatorInfo maps a scenario state onto the contract's ValidatorInfo flags (values in milli-ETH).
func validatorInfo(v MegapoolValidator) (bindings.ValidatorInfo, error) {
	milli := new(big.Int).Div(v.Bond.Wei(), big.NewInt(1e15))
	if new(big.Int).Mul(milli, big.NewInt(1e15)).Cmp(v.Bond.Wei()) != 0 {
		return bindings.ValidatorInfo{}, fmt.Errorf("bond %s is not a whole number of milli-ETH", v.Bond)
	}
	info := bindings.ValidatorInfo{LastRequestedValue: 32000, LastRequestedBond: uint32(milli.Uint64())}
	switch v.State {
	case StateQueue:
		info.InQueue = true
	case StatePrestake:
		info.InPrestake = true
		info.DepositValue = 1000
		if v.AssignmentTime > uint64(^uint32(0)) {
			return info, fmt.Errorf("assignment time %d does not fit in uint32", v.AssignmentTime)
		}
		info.LastAssignmentTime = uint32(v.AssignmentTime)
	case StateStaked:
		info.Staked, info.DepositValue = true, 32000
	case StateLocked:
		info.Staked, info.DepositValue, info.Locked, info.LockedTime = true, 32000, true, v.LockedTime
	case StateExiting:
		info.Staked, info.DepositValue, info.Exiting = true, 32000, true
	case StateExited:
		info.Staked, info.DepositValue, info.Exited = true, 32000, true
	case StateDissolved:
		info.Dissolved = true
	}
	return info, nil
}

func (n *Network) seedPoolDetails() error {
	s, d, b := n.Scenario, n.Deployment, n.batch
	for _, nd := range s.Nodes {
		if nd.Megapool == nil {
			continue
		}
		mpAddr := n.Megapools[nd.Name]
		mp, err := bindings.NewRocketMegapoolDelegate(mpAddr, b.backend)
		if err != nil {
			return fmt.Errorf("seed: bind megapool of %s: %w", nd.Name, err)
		}
		for j, v := range nd.Megapool.Validators {
			info, err := validatorInfo(v)
			if err != nil {
				return fmt.Errorf("seed: node %s megapool validator %d: %w", nd.Name, j, err)
			}
			pk, _ := parsePubkey(v.Pubkey)
			b.send("add megapool validator "+v.Pubkey, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.MegapoolManager.SimAddValidator(o, mpAddr, pk, info)
			})
			n.MegapoolValidators[pubkeyKey(v.Pubkey)] = uint32(j)
		}
		zero := big.NewInt(0)
		b.send("megapool capital of "+nd.Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return mp.SimSetCapital(o, nd.Megapool.NodeBond.Wei(), nd.Megapool.UserCapital.Wei(), zero, zero, zero, zero)
		})
	}
	for _, nd := range s.Nodes {
		for _, mp := range nd.Minipools {
			if mp.PenaltyCount == 0 {
				continue
			}
			addr := n.Minipools[pubkeyKey(mp.Pubkey)]
			b.send("penalty count of "+mp.Pubkey, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.NetworkPenalties.SimSetPenaltyCount(o, addr, big64(mp.PenaltyCount))
			})
		}
	}
	return b.flush()
}

func pubkeyKey(pk string) string { return "0x" + strings.ToLower(strings.TrimPrefix(pk, "0x")) }

// ---- timed events ----

type eventKind int

const (
	evSmoothingPoolChange eventKind = iota
	evBondReduction
	evSmoothingPoolIncome
	evVoterShare
	evNotifyExit
)

type timedEvent struct {
	time   uint64
	kind   eventKind
	seq    int // scenario order, breaks ties deterministically
	node   int
	pubkey string
	sp     SPState
	br     BondReduction
	amount Amount
	// notify exit
	validator    uint32
	withdrawable uint64
}

func (s *Scenario) timedEvents() []timedEvent {
	var evs []timedEvent
	seq := 0
	add := func(e timedEvent) {
		e.seq = seq
		seq++
		evs = append(evs, e)
	}
	for i, nd := range s.Nodes {
		for _, c := range nd.SmoothingPoolChanges {
			add(timedEvent{time: c.Time, kind: evSmoothingPoolChange, node: i, sp: c})
		}
		for _, mp := range nd.Minipools {
			for _, br := range mp.BondReductions {
				add(timedEvent{time: br.Time, kind: evBondReduction, node: i, pubkey: pubkeyKey(mp.Pubkey), br: br})
			}
		}
	}
	for i, nd := range s.Nodes {
		if nd.Megapool == nil {
			continue
		}
		for j, v := range nd.Megapool.Validators {
			if v.NotifyExitTime != nil {
				add(timedEvent{time: *v.NotifyExitTime, kind: evNotifyExit, node: i, pubkey: pubkeyKey(v.Pubkey), validator: uint32(j), withdrawable: *v.Beacon.WithdrawableEpoch})
			}
		}
	}
	for _, dep := range s.SmoothingPoolIncome {
		add(timedEvent{time: dep.Time, kind: evSmoothingPoolIncome, amount: dep.Amount})
	}
	for _, dep := range s.VoterShareDeposits {
		add(timedEvent{time: dep.Time, kind: evVoterShare, amount: dep.Amount})
	}
	sort.SliceStable(evs, func(a, b int) bool {
		if evs[a].time != evs[b].time {
			return evs[a].time < evs[b].time
		}
		return evs[a].seq < evs[b].seq
	})
	return evs
}

// FeeRecipientAt is the fee recipient a protocol validator's blocks use at time t, following its node's
// Smoothing Pool state at t (initial state, then the timed changes): the Smoothing Pool when opted in (the node
// address for a defector), the node's fee distributor otherwise. ok is false for non-protocol validators.
func (n *Network) FeeRecipientAt(pubkey []byte, t uint64) (common.Address, bool) {
	key := "0x" + common.Bytes2Hex(pubkey)
	for i, nd := range n.Scenario.Nodes {
		if !nodeHasValidator(nd, key) {
			continue
		}
		state := nd.SmoothingPool.OptedIn
		for _, c := range nd.SmoothingPoolChanges {
			if c.Time <= t {
				state = c.OptedIn
			}
		}
		switch {
		case state && nd.Defector:
			return n.Nodes[i].Address, true
		case state:
			return n.Deployment.Addresses[contracts.NameSmoothingPool], true
		default:
			return n.FeeDistributors[nd.Name], true
		}
	}
	return common.Address{}, false
}

func nodeHasValidator(nd Node, key string) bool {
	for _, mp := range nd.Minipools {
		if pubkeyKey(mp.Pubkey) == key {
			return true
		}
	}
	if nd.Megapool != nil {
		for _, v := range nd.Megapool.Validators {
			if pubkeyKey(v.Pubkey) == key {
				return true
			}
		}
	}
	return false
}

// SetCommit replaces the function that mines pending transactions (e.g. once the chain runs slot by slot).
func (n *Network) SetCommit(commit func()) { n.batch.commit = commit }

// PendingEvents returns how many timed events have not been applied yet.
func (n *Network) PendingEvents() int { return len(n.events) - n.next }

// NextEventTime returns the time of the next unapplied event and false if none is left.
func (n *Network) NextEventTime() (uint64, bool) {
	if n.next >= len(n.events) {
		return 0, false
	}
	return n.events[n.next].time, true
}

// ApplyUntil sends every unapplied timed event with time <= t, in time order, and mines them. Smoothing Pool
// changes and bond reductions are recorded with the event's own time; ETH payments arrive in the mining block.
func (n *Network) ApplyUntil(ctx context.Context, t uint64) (int, error) {
	d, b := n.Deployment, n.batch
	b.ctx = ctx
	applied := 0
	for n.next < len(n.events) && n.events[n.next].time <= t {
		ev := n.events[n.next]
		switch ev.kind {
		case evSmoothingPoolChange:
			a := n.Nodes[ev.node]
			b.send("smoothing pool change of "+n.Scenario.Nodes[ev.node].Name, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.NodeManager.SimSetSmoothingPoolRegistration(o, a.Address, ev.sp.OptedIn, big64(ev.sp.Time))
			})
		case evBondReduction:
			addr := n.Minipools[ev.pubkey]
			b.send("bond reduction of "+ev.pubkey, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.MinipoolBondReducer.SimReduceBond(o, addr, big64(ev.br.Time), ev.br.NewBond.Wei(), ev.br.NewFee.Scaled())
			})
		case evSmoothingPoolIncome:
			b.send("smoothing pool income", func(o *bind.TransactOpts) (*types.Transaction, error) {
				o.Value = ev.amount.Wei()
				return d.SmoothingPool.Receive(o)
			})
		case evNotifyExit:
			mp := n.Megapools[n.Scenario.Nodes[ev.node].Name]
			proofSlot := (ev.time - n.Scenario.GenesisTime) / n.Scenario.SecondsPerSlot
			b.send("notify exit of "+ev.pubkey, func(o *bind.TransactOpts) (*types.Transaction, error) {
				return d.MegapoolManager.NotifyExit(o, mp, ev.validator, ev.withdrawable, proofSlot)
			})
		case evVoterShare:
			b.send("voter share deposit", func(o *bind.TransactOpts) (*types.Transaction, error) {
				o.Value = ev.amount.Wei()
				return d.RewardsPool.Receive(o)
			})
		}
		n.next++
		applied++
	}
	if applied == 0 {
		return 0, nil
	}
	if err := b.flush(); err != nil {
		return 0, err
	}
	return applied, nil
}

// MemberKeyHex returns the hex private key of an oDAO member (for tests and dev tooling only).
func MemberKeyHex(a Account) string { return common.Bytes2Hex(crypto.FromECDSA(a.Key)) }
