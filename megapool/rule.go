package megapool

import (
	"sort"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
)

// FarFutureEpoch is the beacon chain's FAR_FUTURE_EPOCH (2^64 − 1).
const FarFutureEpoch = ^uint64(0)

// MaxChallengesPerTx is RocketMegapoolManager's limit on validator ids per challengeExit call (duties §5.4).
const MaxChallengesPerTx = 50

// Info is the part of the contract's ValidatorInfo the watcher uses (duties §5.1).
type Info struct {
	Staked     bool
	Exited     bool
	Exiting    bool
	Locked     bool
	Dissolved  bool
	InPrestake bool
	// LockedTime is the block timestamp of the last challenge (0 if never challenged).
	LockedTime uint64
}

// Validator is one megapool validator as listed by RocketMegapoolManager.
type Validator struct {
	// GlobalIndex is the manager's index (getValidatorInfo(i)); the watcher's ordering key.
	GlobalIndex uint64
	Pubkey      phase0.BLSPubKey
	Megapool    common.Address
	ID          uint32
	Info        Info
}

// Status is a validator's beacon status at the decision state.
type Status struct {
	Index             phase0.ValidatorIndex
	ExitEpoch         uint64
	WithdrawableEpoch uint64
}

// Challengeable reports whether the contract accepts a challenge for this validator and the watcher may
// send one: staked && !exiting && !exited && !locked. (The contract itself accepts locked validators —
// a re-challenge only refreshes lockedTime — but the watcher tracks locks instead of refreshing them.)
func (i Info) Challengeable() bool {
	return i.Staked && !i.Exiting && !i.Exited && !i.Locked
}

// Overdue reports whether a notification proving currentEpoch would be late, i.e. the contract's fine rule
// currentEpoch > W − threshold (duties §5.3). It is written as currentEpoch + threshold > W so that it never
// wraps: with W < threshold the contract's own subtraction reverts, so no notify can ever be on time and the
// validator counts as overdue. FAR_FUTURE (not exiting) is never overdue.
func Overdue(withdrawableEpoch, currentEpoch, threshold uint64) bool {
	if withdrawableEpoch == FarFutureEpoch {
		return false
	}
	if withdrawableEpoch < threshold {
		return true
	}
	return currentEpoch > withdrawableEpoch-threshold
}

// Select returns the validators to challenge at currentEpoch, sorted by global index. Validators without a
// beacon status (not yet deposited, or unknown to the beacon node) are never selected.
func Select(vals []Validator, statuses map[phase0.BLSPubKey]Status, currentEpoch, threshold uint64) []Validator {
	var out []Validator
	for _, v := range vals {
		if !v.Info.Challengeable() {
			continue
		}
		st, ok := statuses[v.Pubkey]
		if !ok {
			continue
		}
		if Overdue(st.WithdrawableEpoch, currentEpoch, threshold) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GlobalIndex < out[j].GlobalIndex })
	return out
}

// Challenge is one ExitChallenge entry: a megapool and validator ids within it.
type Challenge struct {
	Megapool common.Address
	IDs      []uint32
}

// Batch is the argument of one challengeExit transaction.
type Batch struct {
	Challenges []Challenge
	// Validators are the selected validators in the batch, in global-index order.
	Validators []Validator
}

// Size is the number of validator ids in the batch.
func (b Batch) Size() int { return len(b.Validators) }

// Batches cuts sel (already in global-index order) into consecutive batches of at most max ids (max ≤ 0 or
// above MaxChallengesPerTx means MaxChallengesPerTx). Within a batch, ids are grouped by megapool in order of
// the megapool's first appearance, and kept in global-index order within a megapool.
func Batches(sel []Validator, max int) []Batch {
	if max <= 0 || max > MaxChallengesPerTx {
		max = MaxChallengesPerTx
	}
	var out []Batch
	for start := 0; start < len(sel); start += max {
		end := min(start+max, len(sel))
		b := Batch{Validators: append([]Validator(nil), sel[start:end]...)}
		pos := map[common.Address]int{}
		for _, v := range b.Validators {
			i, ok := pos[v.Megapool]
			if !ok {
				i = len(b.Challenges)
				pos[v.Megapool] = i
				b.Challenges = append(b.Challenges, Challenge{Megapool: v.Megapool})
			}
			b.Challenges[i].IDs = append(b.Challenges[i].IDs, v.ID)
		}
		out = append(out, b)
	}
	return out
}

// BatchFor picks the batch a member sends this round: the member's position among the oDAO members modulo
// the number of batches, so that members reading the same state take different batches. ok is false when
// there is nothing to send.
func BatchFor(batches []Batch, position, members int) (Batch, bool) {
	if len(batches) == 0 {
		return Batch{}, false
	}
	if position < 0 {
		position = 0
	}
	return batches[position%len(batches)], true
}
