package rewards

import (
	"fmt"
	"math"
	"math/big"
)

// Option changes how Compute runs.
type Option func(*options)

type options struct {
	ruleset int
}

// WithRuleset forces a ruleset (8, 10 or 11) instead of the one RulesetFor
// selects for the snapshot's network and index.
func WithRuleset(v int) Option { return func(o *options) { o.ruleset = v } }

// Compute runs the ruleset for the snapshot and duty record. It is pure: the
// same inputs (in any list order) give the same Result. Invariants are checked
// on every result; a violation is returned as an error.
func Compute(snap *Snapshot, duties *DutyRecord, opts ...Option) (*Result, error) {
	if snap == nil {
		return nil, fmt.Errorf("compute rewards: no snapshot")
	}
	if duties == nil {
		return nil, fmt.Errorf("compute rewards: no duty record")
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := snap.Validate(); err != nil {
		return nil, fmt.Errorf("compute rewards: snapshot: %w", err)
	}
	if err := duties.Validate(); err != nil {
		return nil, fmt.Errorf("compute rewards: duty record: %w", err)
	}
	if duties.Index != snap.Index || duties.StartSlot != snap.ConsensusStartBlock || duties.EndSlot != snap.ConsensusEndBlock {
		return nil, fmt.Errorf("compute rewards: duty record (interval %d, slots %d..%d) does not match snapshot (interval %d, slots %d..%d)",
			duties.Index, duties.StartSlot, duties.EndSlot, snap.Index, snap.ConsensusStartBlock, snap.ConsensusEndBlock)
	}
	rs := o.ruleset
	if rs == 0 {
		var err error
		if rs, err = RulesetFor(snap.Network, snap.Index); err != nil {
			return nil, fmt.Errorf("compute rewards: %w", err)
		}
	}
	if rs != RulesetV8 && rs != RulesetV10 && rs != RulesetV11 {
		return nil, fmt.Errorf("compute rewards: ruleset %d not implemented", rs)
	}
	c := newCalc(snap.Canonical(), duties, rs)
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("compute rewards (ruleset %d, interval %d): %w", rs, snap.Index, err)
	}
	return c.res, nil
}

type nodeState struct {
	n          *Node
	network    uint64
	isODAO     bool
	cheater    bool
	eligible   bool // Smoothing Pool eligible (ruleset rules, not opt-in)
	registered bool
	changeTime uint64
	optIn      uint64
	optOut     uint64
	minipools  []*mpState // Staking minipools for the SP; all for RPL
	mega       *megaState
	pct        *big.Int // percent of borrowed ETH for the RPIP-62 fee boost

	weight, effStake       *big.Int
	collateralRPL, odaoRPL *big.Int
	sp, bonus, voterEth    *big.Int
	voteEligibleRPL        *big.Int
	hasKeptMegaValidators  bool
}

type mpState struct {
	mp        *Minipool
	node      *nodeState
	beacon    *BeaconValidator // SP view (pending statuses dropped); nil if none
	wasActive bool
	// Successful duties before the last bond reduction / at or after it.
	nBefore, nAfter uint64
	missed          uint64
	missing         []uint64
	score, eth      *big.Int
	consensusIncome *big.Int
	bonus           *big.Int
	effCommission   *big.Int
	hasBonusEntry   bool
}

type megaState struct {
	m    *Megapool
	node *nodeState
	kept []*mvState
	b    *big.Int
}

type mvState struct {
	v       *MegapoolValidator
	mega    *megaState
	beacon  *BeaconValidator
	n       uint64
	missed  uint64
	missing []uint64
	score   *big.Int
	eth     *big.Int
}

type calc struct {
	s       *Snapshot
	d       *DutyRecord
	rs      int
	res     *Result
	nodes   []*nodeState
	nodeBy  map[Address]*nodeState
	mps     []*mpState
	megas   []*megaState
	spView  map[Pubkey]*BeaconValidator
	allView map[Pubkey]*BeaconValidator
	enabled map[uint64]bool
}

func newCalc(s *Snapshot, d *DutyRecord, rs int) *calc {
	c := &calc{s: s, d: d, rs: rs, nodeBy: make(map[Address]*nodeState, len(s.Nodes)),
		spView: make(map[Pubkey]*BeaconValidator), allView: make(map[Pubkey]*BeaconValidator), enabled: map[uint64]bool{0: true}}
	for _, n := range s.EnabledNetworks {
		c.enabled[n] = true
	}
	for i := range s.Validators {
		v := &s.Validators[i]
		c.allView[v.Pubkey] = v
		if v.Status != "pending_initialized" && v.Status != "pending_queued" {
			c.spView[v.Pubkey] = v
		}
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		ns := &nodeState{n: n, network: n.RewardNetwork, registered: n.SmoothingPoolRegistered, changeTime: n.SmoothingPoolChangeTime,
			collateralRPL: new(big.Int), odaoRPL: new(big.Int), sp: new(big.Int), bonus: new(big.Int), voterEth: new(big.Int),
			voteEligibleRPL: new(big.Int), weight: new(big.Int), effStake: new(big.Int)}
		if !c.enabled[ns.network] {
			ns.network = 0 // invalid reward network falls back to 0
		}
		if ns.registered {
			ns.optIn, ns.optOut = ns.changeTime, math.MaxUint64
		} else {
			ns.optIn, ns.optOut = 0, ns.changeTime
		}
		c.nodes = append(c.nodes, ns)
		c.nodeBy[n.Address] = ns
	}
	for i := range s.Minipools {
		mp := &s.Minipools[i]
		ms := &mpState{mp: mp, node: c.nodeBy[mp.Node], beacon: c.spView[mp.Pubkey], score: new(big.Int), eth: new(big.Int)}
		ms.node.minipools = append(ms.node.minipools, ms)
		c.mps = append(c.mps, ms)
	}
	for i := range s.Megapools {
		m := &s.Megapools[i]
		mg := &megaState{m: m, node: c.nodeBy[m.Node], b: new(big.Int)}
		if m.ActiveValidatorCount > 0 {
			mg.b.Quo(m.NodeBond.Big(), bi(m.ActiveValidatorCount))
		}
		mg.node.mega = mg
		c.megas = append(c.megas, mg)
	}
	return c
}

// slotTime returns the Unix time of a slot.
func (c *calc) slotTime(slot uint64) uint64 { return c.s.SlotTime(slot) }

// countsAt: the node was in the Smoothing Pool at T (§4.3; strict compares).
func (n *nodeState) countsAt(t uint64) bool { return !(t < n.optIn) && !(n.optOut < t) }

// wasOptedInAt is the v10 bonus variant (§4.3).
func (n *nodeState) wasOptedInAt(t uint64) bool {
	if n.registered {
		return t > n.optIn
	}
	return n.changeTime != 0 && t < n.optOut
}

// bondAndFeeAt returns the bond and contract fee of a minipool at time t (§4.7).
func bondAndFeeAt(mp *Minipool, t uint64) (bond, fee *big.Int) {
	if mp.LastBondReductionTime != 0 && mp.LastBondReductionTime > t {
		fee = mp.LastBondReductionPrevNodeFee.Big()
		if fee.Sign() == 0 {
			fee = mp.NodeFee.Big()
		}
		return mp.LastBondReductionPrevValue.Big(), fee
	}
	return mp.NodeDepositBalance.Big(), mp.NodeFee.Big()
}

func (c *calc) run() error {
	s := c.s
	c.res = &Result{
		Ruleset: c.rs, Network: s.Network, ChainID: s.ChainID, Index: s.Index, IntervalsPassed: s.IntervalsPassed,
		ConsensusStartBlock: s.ConsensusStartBlock, ConsensusEndBlock: s.ConsensusEndBlock,
		ExecutionStartBlock: s.ExecutionStartBlock, ExecutionEndBlock: s.ExecutionEndBlock,
		BonusScalar: new(big.Int).Set(eth1), TotalAttestationScore: new(big.Int),
	}
	if c.rs == RulesetV8 {
		c.res.StartTime = s.ClaimIntervalTimeStart
		c.res.EndTime = s.ClaimIntervalTimeStart + s.IntervalTime*s.IntervalsPassed
	} else {
		c.res.StartTime = c.slotTime(s.ConsensusStartSlot)
		c.res.EndTime = c.slotTime(s.SnapshotSlot)
	}
	t := &c.res.Totals
	for _, p := range []**big.Int{&t.ProtocolDAORPL, &t.TotalCollateralRPL, &t.TotalOracleDAORPL, &t.TotalSmoothingPoolETH,
		&t.PoolStakerSmoothingPoolETH, &t.NodeOperatorSmoothingPoolETH, &t.TotalNodeWeight, &t.TotalVoterShareETH,
		&t.SmoothingPoolVoterShareETH, &t.TotalPDAOShareETH, &t.PendingVoterShare} {
		*p = new(big.Int)
	}
	if err := c.computeRPL(); err != nil {
		return fmt.Errorf("rpl rewards: %w", err)
	}
	if err := c.computeSmoothingPool(); err != nil {
		return fmt.Errorf("smoothing pool rewards: %w", err)
	}
	c.assemble()
	if err := CheckInvariants(c.s, c.res); err != nil {
		return err
	}
	return nil
}
