package scan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// CommitteesProvider gives all beacon committees of an epoch.
type CommitteesProvider interface {
	EpochCommittees(ctx context.Context, epoch phase0.Epoch) (*shuffle.EpochCommittees, error)
}

// LocalCommittees computes committees from ONE beacon state's registry
// (activation and exit epochs) and randao_mixes with chain/shuffle. Any state
// from which an epoch's seed mix is still readable works: for epoch e the
// state's epoch S must satisfy e <= S + MIN_SEED_LOOKAHEAD and
// S - e < EPOCHS_PER_HISTORICAL_VECTOR - MIN_SEED_LOOKAHEAD - 1. Activation and
// exit epochs are fixed once scheduled, so a later state gives the same active
// sets as the historical ones.
type LocalCommittees struct {
	spec       shuffle.Spec
	stateEpoch phase0.Epoch
	registry   []shuffle.ValidatorEpochs
	// registry32 is registry with epochs clamped to 32 bits: the per-epoch
	// pass over a mainnet registry reads half the memory (it is bound by
	// memory bandwidth, not by the comparisons).
	registry32 []epochs32
	mixes      []phase0.Root

	mu  sync.Mutex
	win *activityWindow // for EpochMembersOf, rebuilt when an epoch falls outside
}

type epochs32 struct{ activation, exit uint32 }

// NewLocalCommittees keeps what committee computation needs from a state
// (24 bytes per validator plus the mixes).
func NewLocalCommittees(spec shuffle.Spec, stateSlot phase0.Slot, validators []*phase0.Validator, mixes []phase0.Root) (*LocalCommittees, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if uint64(len(mixes)) != spec.EpochsPerHistoricalVector {
		return nil, fmt.Errorf("local committees: state has %d randao mixes, spec expects %d", len(mixes), spec.EpochsPerHistoricalVector)
	}
	reg := make([]shuffle.ValidatorEpochs, len(validators))
	reg32 := make([]epochs32, len(validators))
	clamp := func(e phase0.Epoch) uint32 { return uint32(min(uint64(e), math.MaxUint32)) }
	for i, v := range validators {
		if v == nil {
			return nil, fmt.Errorf("local committees: validator %d is nil", i)
		}
		reg[i] = shuffle.ValidatorEpochs{ActivationEpoch: v.ActivationEpoch, ExitEpoch: v.ExitEpoch}
		reg32[i] = epochs32{activation: clamp(v.ActivationEpoch), exit: clamp(v.ExitEpoch)}
	}
	return &LocalCommittees{
		spec:       spec,
		stateEpoch: phase0.Epoch(uint64(stateSlot) / spec.SlotsPerEpoch),
		registry:   reg,
		registry32: reg32,
		mixes:      slices.Clone(mixes),
	}, nil
}

// Covers reports whether the state can give the committees of epoch.
func (l *LocalCommittees) Covers(epoch phase0.Epoch) error {
	s, e := uint64(l.stateEpoch), uint64(epoch)
	if e > s+l.spec.MinSeedLookahead {
		return fmt.Errorf("committees of epoch %d: state of epoch %d is too old (its seed is not known yet)", e, s)
	}
	if s >= e && s-e >= l.spec.EpochsPerHistoricalVector-l.spec.MinSeedLookahead-1 {
		return fmt.Errorf("committees of epoch %d: state of epoch %d is too recent (the seed mix was overwritten)", e, s)
	}
	return nil
}

// EpochCommittees shuffles the active set of epoch once.
func (l *LocalCommittees) EpochCommittees(ctx context.Context, epoch phase0.Epoch) (*shuffle.EpochCommittees, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.Covers(epoch); err != nil {
		return nil, err
	}
	seed, err := l.spec.SeedFromMixes(epoch, l.mixes)
	if err != nil {
		return nil, err
	}
	ec, err := l.spec.Compute(epoch, shuffle.ActiveIndices(l.registry, epoch), seed)
	if err != nil {
		return nil, fmt.Errorf("committees of epoch %d: %w", epoch, err)
	}
	return ec, nil
}

// MembersProvider is implemented by committee sources that can place a
// subset of the validators without building every committee; the scanner
// prefers it (the protocol validators are a few percent of the registry).
type MembersProvider interface {
	EpochMembers(ctx context.Context, epoch phase0.Epoch, want func(phase0.ValidatorIndex) bool) (*shuffle.EpochMembers, error)
}

// EpochMembers places the validators that want selects in epoch's
// committees, with the inverse shuffle of their positions only.
func (l *LocalCommittees) EpochMembers(ctx context.Context, epoch phase0.Epoch, want func(phase0.ValidatorIndex) bool) (*shuffle.EpochMembers, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.Covers(epoch); err != nil {
		return nil, err
	}
	n, js, selected := l.selectActive(epoch, want)
	return l.place(epoch, n, js, selected)
}

// MembersOfProvider is MembersProvider for a fixed, sorted validator list:
// knowing the list lets a source avoid a pass over the whole registry per
// epoch.
type MembersOfProvider interface {
	EpochMembersOf(ctx context.Context, epoch phase0.Epoch, validators []phase0.ValidatorIndex) (*shuffle.EpochMembers, error)
}

// activityWindow classifies the registry for the epochs lo..hi: validators
// active in all of them (stable, counted by prefix popcounts) and those
// active in some but not all (changers, few: the churn of the window);
// the others are inactive throughout.
type activityWindow struct {
	lo, hi      phase0.Epoch
	stable      bitset
	stableRank  []uint32 // stable validators before word k of stable
	stableTotal uint64
	changers    []changer // ascending index
}

type changer struct {
	index      phase0.ValidatorIndex
	activation phase0.Epoch
	exit       phase0.Epoch
}

// windowHalf is half the span of epochs an activity window covers (a reward
// interval is ~6,300 epochs).
const windowHalf = 4096

func (l *LocalCommittees) window(epoch phase0.Epoch) *activityWindow {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.win; w != nil && w.lo <= epoch && epoch <= w.hi {
		return w
	}
	lo := epoch - min(epoch, windowHalf)
	hi := epoch + min(math.MaxUint64-epoch, windowHalf)
	n := len(l.registry)
	w := &activityWindow{lo: lo, hi: hi, stable: make(bitset, n/64+1), stableRank: make([]uint32, n/64+1)}
	for i, r := range l.registry {
		switch {
		case r.ActivationEpoch <= lo && hi < r.ExitEpoch:
			w.stable[i/64] |= 1 << (i % 64)
		case r.ActivationEpoch <= hi && lo < r.ExitEpoch && r.ActivationEpoch < r.ExitEpoch:
			w.changers = append(w.changers, changer{index: phase0.ValidatorIndex(i), activation: r.ActivationEpoch, exit: r.ExitEpoch})
		}
	}
	total := uint32(0)
	for k, word := range w.stable {
		w.stableRank[k] = total
		total += uint32(bits.OnesCount64(word))
	}
	w.stableTotal = uint64(total)
	l.win = w
	return w
}

// EpochMembersOf places the listed validators (ascending, no duplicates;
// those inactive in epoch are left out) in epoch's committees. Per epoch it
// costs the list plus the validators whose activity changes near epoch, not
// a pass over the registry; the result equals EpochMembers' for a want that
// selects the list.
func (l *LocalCommittees) EpochMembersOf(ctx context.Context, epoch phase0.Epoch, validators []phase0.ValidatorIndex) (*shuffle.EpochMembers, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.Covers(epoch); err != nil {
		return nil, err
	}
	for k := 1; k < len(validators); k++ {
		if validators[k] <= validators[k-1] {
			return nil, fmt.Errorf("committees of epoch %d: validators not ascending or listed twice at %d", epoch, validators[k])
		}
	}
	w := l.window(epoch)
	active := func(c changer) bool { return c.activation <= epoch && epoch < c.exit }
	js := make([]uint64, 0, len(validators))
	selected := make([]phase0.ValidatorIndex, 0, len(validators))
	ci, changersBefore := 0, uint64(0) // active changers with a smaller index than the current validator
	nReg := phase0.ValidatorIndex(len(l.registry))
	for _, v := range validators {
		if v >= nReg {
			break
		}
		for ci < len(w.changers) && w.changers[ci].index < v {
			if active(w.changers[ci]) {
				changersBefore++
			}
			ci++
		}
		isActive := w.stable.has(v)
		if !isActive && ci < len(w.changers) && w.changers[ci].index == v {
			isActive = active(w.changers[ci])
		}
		if !isActive {
			continue
		}
		word, bit := uint64(v)/64, uint64(v)%64
		rank := uint64(w.stableRank[word]) + uint64(bits.OnesCount64(w.stable[word]&(1<<bit-1))) + changersBefore
		js = append(js, rank)
		selected = append(selected, v)
	}
	n := w.stableTotal
	for _, c := range w.changers {
		if active(c) {
			n++
		}
	}
	return l.place(epoch, n, js, selected)
}

// selectActive makes one pass over the registry: the number of validators
// active in epoch, and the positions in the active list (ascending) of those
// want selects, without building the list.
func (l *LocalCommittees) selectActive(epoch phase0.Epoch, want func(phase0.ValidatorIndex) bool) (n uint64, js []uint64, selected []phase0.ValidatorIndex) {
	if uint64(epoch) < math.MaxUint32 {
		e := uint32(epoch)
		for i, r := range l.registry32 {
			if r.activation <= e && e < r.exit {
				if want(phase0.ValidatorIndex(i)) {
					js = append(js, n)
					selected = append(selected, phase0.ValidatorIndex(i))
				}
				n++
			}
		}
		return n, js, selected
	}
	for i, r := range l.registry {
		if r.IsActive(epoch) {
			if want(phase0.ValidatorIndex(i)) {
				js = append(js, n)
				selected = append(selected, phase0.ValidatorIndex(i))
			}
			n++
		}
	}
	return n, js, selected
}

// place computes the selected validators' places in epoch.
func (l *LocalCommittees) place(epoch phase0.Epoch, n uint64, js []uint64, selected []phase0.ValidatorIndex) (*shuffle.EpochMembers, error) {
	seed, err := l.spec.SeedFromMixes(epoch, l.mixes)
	if err != nil {
		return nil, err
	}
	em, err := l.spec.PlaceMembers(epoch, n, js, selected, seed)
	if err != nil {
		return nil, fmt.Errorf("committees of epoch %d: %w", epoch, err)
	}
	return em, nil
}

// BeaconCommitteesProvider is the committees endpoint (chain/beacon.Service).
type BeaconCommitteesProvider interface {
	BeaconCommittees(ctx context.Context, stateID string, epoch phase0.Epoch) ([]*apiv1.BeaconCommittee, error)
}

// APICommittees asks the beacon node for each epoch's committees (the
// reference's access pattern; also the cross-check source).
type APICommittees struct {
	spec    shuffle.Spec
	api     BeaconCommitteesProvider
	stateID string
}

// NewAPICommittees reads committees from the node at stateID (e.g. the
// snapshot slot or "finalized"; the reference uses "head").
func NewAPICommittees(spec shuffle.Spec, api BeaconCommitteesProvider, stateID string) (*APICommittees, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if api == nil {
		return nil, errors.New("api committees: no committees provider")
	}
	if stateID == "" {
		return nil, errors.New("api committees: no state id")
	}
	return &APICommittees{spec: spec, api: api, stateID: stateID}, nil
}

// EpochCommittees fetches and checks the committees of epoch: every slot has
// the same number of committees in index order, sizes follow
// compute_committee's split, and no validator appears twice.
func (a *APICommittees) EpochCommittees(ctx context.Context, epoch phase0.Epoch) (*shuffle.EpochCommittees, error) {
	list, err := a.api.BeaconCommittees(ctx, a.stateID, epoch)
	if err != nil {
		return nil, err
	}
	return FromAPICommittees(a.spec, epoch, list)
}

// FromAPICommittees converts and validates an API committee list.
func FromAPICommittees(spec shuffle.Spec, epoch phase0.Epoch, list []*apiv1.BeaconCommittee) (*shuffle.EpochCommittees, error) {
	spe := spec.SlotsPerEpoch
	if uint64(len(list))%spe != 0 || len(list) == 0 {
		return nil, fmt.Errorf("committees of epoch %d: %d committees is not a multiple of %d slots", epoch, len(list), spe)
	}
	cps := uint64(len(list)) / spe
	total := 0
	for _, c := range list {
		if c == nil {
			return nil, fmt.Errorf("committees of epoch %d: nil committee", epoch)
		}
		total += len(c.Validators)
	}
	n := uint64(total)
	if want := spec.CommitteesPerSlot(n); want != cps {
		return nil, fmt.Errorf("committees of epoch %d: %d per slot for %d validators, spec gives %d", epoch, cps, n, want)
	}
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(x, y *apiv1.BeaconCommittee) int {
		if x.Slot != y.Slot {
			return cmpU(uint64(x.Slot), uint64(y.Slot))
		}
		return cmpU(uint64(x.Index), uint64(y.Index))
	})
	first := uint64(epoch) * spe
	shuffled := make([]phase0.ValidatorIndex, 0, n)
	seen := make(map[phase0.ValidatorIndex]struct{}, n)
	count := cps * spe
	for k, c := range sorted {
		ku := uint64(k)
		if uint64(c.Slot) != first+ku/cps || uint64(c.Index) != ku%cps {
			return nil, fmt.Errorf("committees of epoch %d: committee (slot %d, index %d) out of place", epoch, c.Slot, c.Index)
		}
		if size := n*(ku+1)/count - n*ku/count; uint64(len(c.Validators)) != size {
			return nil, fmt.Errorf("committees of epoch %d: committee (slot %d, index %d) has %d members, want %d", epoch, c.Slot, c.Index, len(c.Validators), size)
		}
		for _, v := range c.Validators {
			if _, dup := seen[v]; dup {
				return nil, fmt.Errorf("committees of epoch %d: validator %d appears twice", epoch, v)
			}
			seen[v] = struct{}{}
		}
		shuffled = append(shuffled, c.Validators...)
	}
	return &shuffle.EpochCommittees{Epoch: epoch, SlotsPerEpoch: spe, CommitteesPerSlot: cps, Shuffled: shuffled}, nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CheckedCommittees uses Primary and compares every Every-th epoch (1 = all)
// with Check; any difference is an error naming the epoch.
type CheckedCommittees struct {
	Primary CommitteesProvider
	Check   CommitteesProvider
	Every   uint64
}

// EpochCommittees implements CommitteesProvider.
func (c *CheckedCommittees) EpochCommittees(ctx context.Context, epoch phase0.Epoch) (*shuffle.EpochCommittees, error) {
	p, err := c.Primary.EpochCommittees(ctx, epoch)
	if err != nil {
		return nil, err
	}
	if c.Every > 1 && uint64(epoch)%c.Every != 0 {
		return p, nil
	}
	q, err := c.Check.EpochCommittees(ctx, epoch)
	if err != nil {
		return nil, fmt.Errorf("cross-check committees of epoch %d: %w", epoch, err)
	}
	if p.CommitteesPerSlot != q.CommitteesPerSlot || p.SlotsPerEpoch != q.SlotsPerEpoch || !slices.Equal(p.Shuffled, q.Shuffled) {
		return nil, fmt.Errorf("committees of epoch %d differ between the sources (%d vs %d validators, %d vs %d per slot)",
			epoch, len(p.Shuffled), len(q.Shuffled), p.CommitteesPerSlot, q.CommitteesPerSlot)
	}
	return p, nil
}
