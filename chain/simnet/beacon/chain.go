// Package beacon is a simulated beacon chain: a deterministic synthetic
// chain generated on demand from a seed and a Scenario, served over the
// standard Beacon API (JSON and SSZ, go-eth2-client's own spec types) so real
// client code runs against it unchanged.
//
// Roots: block and state roots are synthetic labels (a keyed hash with the
// slot in the last 8 bytes), not hash-tree-roots; parent_root links are
// consistent. This keeps every block O(1) to generate at any slot.
package beacon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// ErrNotFound is returned for slots without a block and unknown ids.
var ErrNotFound = errors.New("not found")

// Chain is the synthetic chain model. It is safe for concurrent use.
type Chain struct {
	log   zerolog.Logger
	sc    *compiled
	spec  shuffle.Spec
	exec  ExecutionProvider
	clock func() time.Time

	// special holds validators whose activity differs from "active from genesis forever".
	special []phase0.ValidatorIndex
	// isProto flags protocol validators (dense, avoids map lookups in hot loops).
	isProto []bool
	// protoByKey finds protocol validators by pubkey.
	protoByKey map[phase0.BLSPubKey]phase0.ValidatorIndex
	// slashedBy maps an epoch to the protocol validators slashed in it.
	slashedBy map[phase0.Epoch][]phase0.ValidatorIndex
	// exitsBy maps an epoch to the protocol validators whose voluntary exit is included in it.
	exitsBy  map[phase0.Epoch][]phase0.ValidatorIndex
	builders []*builder

	prefetch    bool
	prefetching atomic.Bool

	mu      sync.Mutex
	cache   map[phase0.Epoch]*epochData
	lru     []phase0.Epoch
	prefix  []uint64 // prefix[e] = blocks in slots [1, e*SPE)
	maxKeep int
}

type epochData struct {
	ready      chan struct{}
	committees *shuffle.EpochCommittees
	err        error
}

// New builds a chain from parameters.
func New(ctx context.Context, params ...Parameter) (*Chain, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("simnet beacon chain: %w", err)
	}
	sc, err := compile(p.scenario)
	if err != nil {
		return nil, err
	}
	spec := shuffle.MainnetSpec()
	spec.SlotsPerEpoch = sc.SlotsPerEpoch
	c := &Chain{
		log:       p.log.With().Str("service", "simnet_beacon").Logger(),
		sc:        sc,
		spec:      spec,
		exec:      p.exec,
		clock:     p.clock,
		cache:     make(map[phase0.Epoch]*epochData),
		prefix:    []uint64{0},
		maxKeep:   p.cacheEpochs,
		prefetch:  p.prefetch,
		slashedBy: make(map[phase0.Epoch][]phase0.ValidatorIndex),
		exitsBy:   make(map[phase0.Epoch][]phase0.ValidatorIndex),
	}
	c.isProto = make([]bool, sc.ValidatorCount)
	c.protoByKey = make(map[phase0.BLSPubKey]phase0.ValidatorIndex, len(sc.protoOrder))
	for _, idx := range sc.protoOrder {
		c.isProto[idx] = true
		c.protoByKey[sc.protocol[idx].pubkey] = idx
		v := sc.protocol[idx]
		if v.activationEpoch != 0 || v.exitEpoch != farFuture {
			c.special = append(c.special, idx)
		}
		if v.slashedEpoch != farFuture {
			c.slashedBy[v.slashedEpoch] = append(c.slashedBy[v.slashedEpoch], idx)
		} else if v.exitEpoch != farFuture {
			at := v.activationEpoch
			if back := phase0.Epoch(maxSeedLookahead + 1); v.exitEpoch >= at+back {
				at = v.exitEpoch - back
			}
			c.exitsBy[at] = append(c.exitsBy[at], idx)
		}
	}
	if c.builders, err = makeBuilders(sc); err != nil {
		return nil, err
	}
	c.log.Debug().Uint64("validators", sc.ValidatorCount).Str("fork", sc.Fork).Msg("chain ready")
	_ = ctx
	return c, nil
}

// Spec returns the committee constants the chain computes with.
func (c *Chain) Spec() shuffle.Spec { return c.spec }

// Scenario returns the compiled scenario (defaults applied).
func (c *Chain) Scenario() Scenario { return c.sc.Scenario }

// SlotsPerEpoch of the chain.
func (c *Chain) SlotsPerEpoch() uint64 { return c.sc.SlotsPerEpoch }

func (c *Chain) epochOf(s phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(s) / c.sc.SlotsPerEpoch)
}

func (c *Chain) firstSlot(e phase0.Epoch) phase0.Slot {
	return phase0.Slot(uint64(e) * c.sc.SlotsPerEpoch)
}

// HeadSlot is the scenario's head or the wall-clock slot.
func (c *Chain) HeadSlot() phase0.Slot {
	if c.sc.HeadSlot != 0 {
		return phase0.Slot(c.sc.HeadSlot)
	}
	now := c.clock().Unix()
	if now <= int64(c.sc.GenesisTime) {
		return 0
	}
	return phase0.Slot((uint64(now) - c.sc.GenesisTime) / c.sc.SecondsPerSlot)
}

// FinalizedEpoch is two epochs behind the head epoch (0 at the start).
func (c *Chain) FinalizedEpoch(head phase0.Slot) phase0.Epoch {
	e := c.epochOf(head)
	if e < 2 {
		return 0
	}
	return e - 2
}

// JustifiedEpoch is one epoch behind the head epoch.
func (c *Chain) JustifiedEpoch(head phase0.Slot) phase0.Epoch {
	e := c.epochOf(head)
	if e < 1 {
		return 0
	}
	return e - 1
}

// missed reports whether the model leaves slot without a block (ignoring the head).
func (c *Chain) missed(s phase0.Slot) bool {
	if s == 0 {
		return false
	}
	if _, forced := c.sc.forced[s]; forced {
		return false
	}
	return chance(c.sc.Seed, purposeMiss, uint64(s), 0, c.sc.missPPM)
}

// HasBlock reports whether slot has a block at or before the head.
func (c *Chain) HasBlock(s phase0.Slot) bool {
	return s <= c.HeadSlot() && !c.missed(s)
}

// prevBlockSlot is the latest slot <= s with a block (slot 0 always has one).
func (c *Chain) prevBlockSlot(s phase0.Slot) phase0.Slot {
	for s > 0 && c.missed(s) {
		s--
	}
	return s
}

// nextBlockSlot is the first slot > s with a block in the model.
func (c *Chain) nextBlockSlot(s phase0.Slot) phase0.Slot {
	s++
	for c.missed(s) {
		s++
	}
	return s
}

// labelRoot builds a synthetic root: 24 keyed-hash bytes and the slot big-endian.
func (c *Chain) labelRoot(purpose uint64, s phase0.Slot) phase0.Root {
	h := hash32(c.sc.Seed, purpose, uint64(s))
	var r phase0.Root
	copy(r[:24], h[:24])
	binary.BigEndian.PutUint64(r[24:], uint64(s))
	return r
}

// BlockRoot of the block at slot s (s must have a block).
func (c *Chain) BlockRoot(s phase0.Slot) phase0.Root { return c.labelRoot(purposeBlockRoot, s) }

// StateRoot of the post-state at slot s.
func (c *Chain) StateRoot(s phase0.Slot) phase0.Root { return c.labelRoot(purposeStateRoot, s) }

// slotOfRoot inverts labelRoot.
func (c *Chain) slotOfRoot(purpose uint64, r phase0.Root) (phase0.Slot, bool) {
	s := phase0.Slot(binary.BigEndian.Uint64(r[24:]))
	return s, c.labelRoot(purpose, s) == r
}

// validatorEpochs of any validator.
func (c *Chain) validatorEpochs(i phase0.ValidatorIndex) shuffle.ValidatorEpochs {
	if v := c.sc.protocol[i]; v != nil {
		return shuffle.ValidatorEpochs{ActivationEpoch: v.activationEpoch, ExitEpoch: v.exitEpoch}
	}
	return shuffle.ValidatorEpochs{ActivationEpoch: 0, ExitEpoch: farFuture}
}

// ActiveIndices of epoch e, ascending.
func (c *Chain) ActiveIndices(e phase0.Epoch) []phase0.ValidatorIndex {
	n := c.sc.ValidatorCount
	out := make([]phase0.ValidatorIndex, 0, n)
	sp := 0
	for i := range n {
		idx := phase0.ValidatorIndex(i)
		if sp < len(c.special) && c.special[sp] == idx {
			sp++
			if !c.validatorEpochs(idx).IsActive(e) {
				continue
			}
		}
		out = append(out, idx)
	}
	return out
}

// genesisMix fills randao_mixes slots never written since genesis.
func (c *Chain) genesisMix() phase0.Root {
	return phase0.Root(hash32(c.sc.Seed, purposeRandao, ^uint64(0)))
}

// mix is the randao mix at the end of epoch e.
func (c *Chain) mix(e phase0.Epoch) phase0.Root {
	return phase0.Root(hash32(c.sc.Seed, purposeRandao, uint64(e)))
}

// AttesterSeed is the committee seed of epoch e (mix of epoch e-2, genesis mix before).
func (c *Chain) AttesterSeed(e phase0.Epoch) [32]byte {
	back := c.spec.MinSeedLookahead + 1
	m := c.genesisMix()
	if uint64(e) >= back {
		m = c.mix(e - phase0.Epoch(back))
	}
	return c.spec.Seed(e, m)
}

// Committees of epoch e (cached, bounded; concurrent callers share one computation).
func (c *Chain) Committees(e phase0.Epoch) (*shuffle.EpochCommittees, error) {
	c.mu.Lock()
	if d, ok := c.cache[e]; ok {
		c.mu.Unlock()
		<-d.ready
		return d.committees, d.err
	}
	d := &epochData{ready: make(chan struct{})}
	c.cache[e] = d
	c.lru = append(c.lru, e)
	if len(c.lru) > c.maxKeep {
		delete(c.cache, c.lru[0])
		c.lru = slices.Delete(c.lru, 0, 1)
	}
	c.mu.Unlock()

	// Sequential readers (scanners) move to the next epoch soon: shuffle it in
	// the background, one prefetch at a time.
	if c.prefetch && c.prefetching.CompareAndSwap(false, true) {
		go func() {
			defer c.prefetching.Store(false)
			_, _ = c.Committees(e + 1)
		}()
	}
	d.committees, d.err = c.spec.Compute(e, c.ActiveIndices(e), c.AttesterSeed(e))
	if d.err != nil {
		d.err = fmt.Errorf("compute committees of epoch %d: %w", e, d.err)
		c.mu.Lock()
		if c.cache[e] == d {
			delete(c.cache, e)
			c.lru = slices.DeleteFunc(c.lru, func(x phase0.Epoch) bool { return x == e })
		}
		c.mu.Unlock()
	}
	close(d.ready)
	return d.committees, d.err
}

// Proposer of slot s.
func (c *Chain) Proposer(s phase0.Slot) (phase0.ValidatorIndex, error) {
	if fp, ok := c.sc.forced[s]; ok {
		return fp.proposer, nil
	}
	if s == 0 {
		return 0, nil
	}
	ec, err := c.Committees(c.epochOf(s))
	if err != nil {
		return 0, err
	}
	if len(ec.Shuffled) == 0 {
		return 0, fmt.Errorf("proposer of slot %d: no active validators", s)
	}
	for try := range uint64(10_000) {
		v := ec.Shuffled[draw(c.sc.Seed, purposeProposer, uint64(s), try)%uint64(len(ec.Shuffled))]
		if pv := c.sc.protocol[v]; pv != nil && c.epochOf(s) >= pv.slashedEpoch {
			continue // slashed validators do not propose
		}
		return v, nil
	}
	return 0, fmt.Errorf("proposer of slot %d: no unslashed active validator found", s)
}

// blocksBefore counts blocks in slots [1, s).
func (c *Chain) blocksBefore(s phase0.Slot) uint64 {
	e := c.epochOf(s)
	c.mu.Lock()
	for phase0.Epoch(len(c.prefix)) <= e {
		k := phase0.Epoch(len(c.prefix) - 1)
		n := c.prefix[k]
		for sl := c.firstSlot(k); sl < c.firstSlot(k+1); sl++ {
			if sl != 0 && !c.missed(sl) {
				n++
			}
		}
		c.prefix = append(c.prefix, n)
	}
	n := c.prefix[e]
	c.mu.Unlock()
	for sl := c.firstSlot(e); sl < s; sl++ {
		if sl != 0 && !c.missed(sl) {
			n++
		}
	}
	return n
}

// blockOrdinal is the 1-based number of the block at slot s among blocks of slots >= 1.
func (c *Chain) blockOrdinal(s phase0.Slot) uint64 { return c.blocksBefore(s) + 1 }

// slotOfOrdinal inverts blockOrdinal (k >= 1).
func (c *Chain) slotOfOrdinal(k uint64) phase0.Slot {
	// Make sure the prefix covers k, then binary search epochs.
	e := phase0.Epoch(k / c.sc.SlotsPerEpoch)
	for c.blocksBefore(c.firstSlot(e)) < k {
		e = e*2 + 1
	}
	c.mu.Lock()
	lo, hi := 0, int(e)
	for lo < hi { // first epoch whose prefix >= k  -> block lies in epoch lo-1
		mid := (lo + hi) / 2
		if c.prefix[mid] >= k {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	n := c.prefix[lo-1]
	c.mu.Unlock()
	for sl := c.firstSlot(phase0.Epoch(lo - 1)); ; sl++ {
		if sl != 0 && !c.missed(sl) {
			n++
			if n == k {
				return sl
			}
		}
	}
}

func sortIndices(s []phase0.ValidatorIndex) { slices.Sort(s) }
