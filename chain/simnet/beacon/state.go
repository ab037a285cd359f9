package beacon

import (
	"context"
	"encoding/binary"
	"fmt"

	bitfield "github.com/OffchainLabs/go-bitfield"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

const (
	maxSeedLookahead       = 4
	slotsPerHistoricalRoot = 8192
	epochsPerSlashings     = 8192
	syncCommitteeSize      = 512
	maxEffectiveBalance    = 32 * gweiPerEth
)

// Fork versions (mainnet values).
var (
	denebForkVersion   = phase0.Version{0x04, 0x00, 0x00, 0x00}
	electraForkVersion = phase0.Version{0x05, 0x00, 0x00, 0x00}
)

// Pubkey of validator i.
func (c *Chain) Pubkey(i phase0.ValidatorIndex) phase0.BLSPubKey {
	if pv := c.sc.protocol[i]; pv != nil {
		return pv.pubkey
	}
	var pk phase0.BLSPubKey
	fill(pk[:44], c.sc.Seed, purposePubkey, uint64(i))
	pk[0] = 0x80 | pk[0]&0x1f                      // compressed-point flag bits, like real keys
	binary.BigEndian.PutUint32(pk[44:], uint32(i)) // invertible: O(1) lookups at any size
	return pk
}

// Validator returns validator i's record as seen in a state at epoch e.
// Activation and exit epochs become visible MAX_SEED_LOOKAHEAD+1 epochs
// ahead, as the spec schedules them.
func (c *Chain) Validator(i phase0.ValidatorIndex, e phase0.Epoch) *phase0.Validator {
	addr := c.withdrawalAddress(i)
	creds := make([]byte, 32)
	creds[0] = 0x01
	copy(creds[12:], addr[:])
	v := &phase0.Validator{
		PublicKey:                  c.Pubkey(i),
		WithdrawalCredentials:      creds,
		EffectiveBalance:           maxEffectiveBalance,
		ActivationEligibilityEpoch: 0,
		ActivationEpoch:            0,
		ExitEpoch:                  farFuture,
		WithdrawableEpoch:          farFuture,
	}
	pv := c.sc.protocol[i]
	if pv == nil {
		return v
	}
	visible := func(at phase0.Epoch) bool { return e+maxSeedLookahead+1 >= at }
	if pv.activationEpoch > 0 {
		// Deposited (eligible) a few epochs before activation; pending before that.
		eligible := pv.activationEpoch - min(pv.activationEpoch, maxSeedLookahead+1+2)
		v.ActivationEligibilityEpoch = farFuture
		v.ActivationEpoch = farFuture
		if e >= eligible {
			v.ActivationEligibilityEpoch = eligible
		}
		if visible(pv.activationEpoch) {
			v.ActivationEpoch = pv.activationEpoch
		}
	}
	if e >= pv.slashedEpoch {
		v.Slashed = true
	}
	if pv.exitEpoch != farFuture && (visible(pv.exitEpoch) || v.Slashed) {
		v.ExitEpoch = pv.exitEpoch
		v.WithdrawableEpoch = pv.withdrawableEpoch
	}
	if e >= pv.withdrawableEpoch {
		v.EffectiveBalance = 0
	}
	return v
}

// Balance of validator i at epoch e.
func (c *Chain) Balance(i phase0.ValidatorIndex, e phase0.Epoch) phase0.Gwei {
	if pv := c.sc.protocol[i]; pv != nil {
		if e >= pv.withdrawableEpoch {
			return 0
		}
		if e < pv.activationEpoch {
			return maxEffectiveBalance
		}
	}
	return phase0.Gwei(maxEffectiveBalance + draw(c.sc.Seed, purposeBalance, uint64(i), uint64(e))%50_000_000)
}

// APIValidator is the validators-endpoint view of validator i at epoch e.
func (c *Chain) APIValidator(i phase0.ValidatorIndex, e phase0.Epoch) *apiv1.Validator {
	v := c.Validator(i, e)
	bal := c.Balance(i, e)
	return &apiv1.Validator{
		Index:     i,
		Balance:   bal,
		Status:    apiv1.ValidatorToState(v, &bal, e, farFuture),
		Validator: v,
	}
}

// ValidatorByPubkey finds a validator index.
func (c *Chain) ValidatorByPubkey(pk phase0.BLSPubKey) (phase0.ValidatorIndex, bool) {
	if idx, ok := c.protoByKey[pk]; ok {
		return idx, true
	}
	i := phase0.ValidatorIndex(binary.BigEndian.Uint32(pk[44:]))
	if uint64(i) < c.sc.ValidatorCount && !c.isProto[i] && c.Pubkey(i) == pk {
		return i, true
	}
	return 0, false
}

// RandaoMixes of the state at slot t (len EPOCHS_PER_HISTORICAL_VECTOR):
// entry i holds the mix of the latest epoch k <= epoch(t) with k ≡ i, or the
// genesis mix.
func (c *Chain) RandaoMixes(t phase0.Slot) []phase0.Root {
	l := c.spec.EpochsPerHistoricalVector
	out := make([]phase0.Root, l)
	gm := c.genesisMix()
	e := uint64(c.epochOf(t))
	for i := range l {
		// latest k <= e with k % l == i
		if i > e {
			out[i] = gm
			continue
		}
		k := e - (e-i)%l
		out[i] = c.mix(phase0.Epoch(k))
	}
	return out
}

func (c *Chain) syncCommittee(period uint64) *altair.SyncCommittee {
	sc := &altair.SyncCommittee{Pubkeys: make([]phase0.BLSPubKey, syncCommitteeSize)}
	for i := range sc.Pubkeys {
		v := draw(c.sc.Seed, purposeSyncCommittee, period, uint64(i)) % c.sc.ValidatorCount
		sc.Pubkeys[i] = c.Pubkey(phase0.ValidatorIndex(v))
	}
	fill(sc.AggregatePubkey[:], c.sc.Seed, purposeSyncCommittee, period<<32)
	return sc
}

// LatestBlockHeader of the state at slot t.
func (c *Chain) latestHeader(ctx context.Context, t phase0.Slot) (*phase0.BeaconBlockHeader, *deneb.ExecutionPayloadHeader, error) {
	b := c.prevBlockSlot(t)
	bp, err := c.Proposal(b)
	if err != nil {
		return nil, nil, err
	}
	eb, err := c.executionBlock(ctx, b, bp)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.payload(eb, b)
	if err != nil {
		return nil, nil, err
	}
	hdr, err := payloadHeader(p)
	if err != nil {
		return nil, nil, err
	}
	var parent phase0.Root
	if b > 0 {
		parent = c.BlockRoot(c.prevBlockSlot(b - 1))
	}
	var bodyRoot phase0.Root
	if b == t {
		bodyRoot = phase0.Root(hash32(c.sc.Seed, purposeBlockRoot, uint64(b)^1<<63))
	}
	h := &phase0.BeaconBlockHeader{Slot: b, ProposerIndex: bp.Proposer, ParentRoot: parent, BodyRoot: bodyRoot}
	if b != t {
		// The state root was filled in by the next slot's processing.
		h.StateRoot = c.StateRoot(b)
		h.BodyRoot = phase0.Root(hash32(c.sc.Seed, purposeBlockRoot, uint64(b)^1<<63))
	}
	return h, hdr, nil
}

// State generates the beacon state at slot t (t <= head).
func (c *Chain) State(ctx context.Context, t phase0.Slot) (*spec.VersionedBeaconState, error) {
	if t > c.HeadSlot() {
		return nil, fmt.Errorf("state at slot %d beyond head: %w", t, ErrNotFound)
	}
	e := c.epochOf(t)
	n := c.sc.ValidatorCount
	validators := make([]*phase0.Validator, n)
	balances := make([]phase0.Gwei, n)
	for i := range n {
		validators[i] = c.Validator(phase0.ValidatorIndex(i), e)
		balances[i] = c.Balance(phase0.ValidatorIndex(i), e)
	}
	blockRoots := make([]phase0.Root, slotsPerHistoricalRoot)
	stateRoots := make([]phase0.Root, slotsPerHistoricalRoot)
	for k := uint64(0); k < slotsPerHistoricalRoot && k < uint64(t); k++ {
		s := t - 1 - phase0.Slot(k)
		blockRoots[uint64(s)%slotsPerHistoricalRoot] = c.BlockRoot(c.prevBlockSlot(s))
		stateRoots[uint64(s)%slotsPerHistoricalRoot] = c.StateRoot(s)
	}
	prevPart := make([]altair.ParticipationFlags, n)
	curPart := make([]altair.ParticipationFlags, n)
	inactivity := make([]uint64, n)
	for i := range n {
		prevPart[i] = 0b111
	}
	hdr, ph, err := c.latestHeader(ctx, t)
	if err != nil {
		return nil, err
	}
	head := c.HeadSlot()
	_ = head
	fin := c.FinalizedEpoch(t)
	just := c.JustifiedEpoch(t)
	period := uint64(e) / 256
	justBits := bitfield.NewBitvector4()
	justBits.SetBitAt(0, true)
	justBits.SetBitAt(1, true)
	k := c.blockOrdinal(c.prevBlockSlot(t)) * maxWithdrawalsPerPayload
	gvr := phase0.Root(hash32(c.sc.Seed, purposeGVR, 0))
	fork := c.Fork(t)
	out := &spec.VersionedBeaconState{Version: c.VersionAt(t)}
	switch out.Version {
	case spec.DataVersionDeneb:
		out.Deneb = &deneb.BeaconState{
			GenesisTime: c.sc.GenesisTime, GenesisValidatorsRoot: gvr, Slot: t, Fork: fork, LatestBlockHeader: hdr,
			BlockRoots: blockRoots, StateRoots: stateRoots, HistoricalRoots: []phase0.Root{}, ETH1Data: c.eth1Data(),
			ETH1DataVotes: []*phase0.ETH1Data{}, ETH1DepositIndex: n, Validators: validators, Balances: balances,
			RANDAOMixes: c.RandaoMixes(t), Slashings: make([]phase0.Gwei, epochsPerSlashings),
			PreviousEpochParticipation: prevPart, CurrentEpochParticipation: curPart, JustificationBits: justBits,
			PreviousJustifiedCheckpoint: c.checkpoint(fin), CurrentJustifiedCheckpoint: c.checkpoint(just),
			FinalizedCheckpoint: c.checkpoint(fin), InactivityScores: inactivity,
			CurrentSyncCommittee: c.syncCommittee(period), NextSyncCommittee: c.syncCommittee(period + 1),
			LatestExecutionPayloadHeader: ph, NextWithdrawalIndex: capella.WithdrawalIndex(k),
			NextWithdrawalValidatorIndex: phase0.ValidatorIndex(k % n), HistoricalSummaries: []*capella.HistoricalSummary{},
		}
	default:
		out.Electra = &electra.BeaconState{
			GenesisTime: c.sc.GenesisTime, GenesisValidatorsRoot: gvr, Slot: t, Fork: fork, LatestBlockHeader: hdr,
			BlockRoots: blockRoots, StateRoots: stateRoots, HistoricalRoots: []phase0.Root{}, ETH1Data: c.eth1Data(),
			ETH1DataVotes: []*phase0.ETH1Data{}, ETH1DepositIndex: n, Validators: validators, Balances: balances,
			RANDAOMixes: c.RandaoMixes(t), Slashings: make([]phase0.Gwei, epochsPerSlashings),
			PreviousEpochParticipation: prevPart, CurrentEpochParticipation: curPart, JustificationBits: justBits,
			PreviousJustifiedCheckpoint: c.checkpoint(fin), CurrentJustifiedCheckpoint: c.checkpoint(just),
			FinalizedCheckpoint: c.checkpoint(fin), InactivityScores: inactivity,
			CurrentSyncCommittee: c.syncCommittee(period), NextSyncCommittee: c.syncCommittee(period + 1),
			LatestExecutionPayloadHeader: ph, NextWithdrawalIndex: capella.WithdrawalIndex(k),
			NextWithdrawalValidatorIndex: phase0.ValidatorIndex(k % n), HistoricalSummaries: []*capella.HistoricalSummary{},
			DepositRequestsStartIndex: ^uint64(0), EarliestExitEpoch: e + maxSeedLookahead + 1,
			EarliestConsolidationEpoch: e + maxSeedLookahead + 1,
			PendingDeposits:            []*electra.PendingDeposit{},
			PendingPartialWithdrawals:  []*electra.PendingPartialWithdrawal{},
			PendingConsolidations:      []*electra.PendingConsolidation{},
		}
	}
	return out, nil
}
