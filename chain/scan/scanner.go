// Package scan is the attestation scanner: it turns the committees and
// blocks of a reward interval into the engine's rewards.DutyRecord for the
// protocol validators.
//
// Work is split per block epoch b (epochs start..end+1): a unit fetches the
// 32 blocks of b (a bounded pool of units runs at once, each with a bounded
// number of block requests in flight), decodes every aggregate against the
// committees of epochs b-1 and b (computed once per epoch and shared), and
// stores its result — the protocol duties of b, the earliest inclusions seen
// in b's blocks, the withdrawals of b — in the crash-safe store with a
// digest. The duty record is then reduced from the stored units in epoch
// order, so a rerun resumes at the first missing unit and produces the same
// bytes.
//
// Units do not depend on the interval's end and record the validator set
// they were scanned for, so the daemon scans each finalized epoch while the
// interval runs (ScanEpochs) and the final Scan only adds the last epochs,
// rescanning an earlier unit only where a validator that joined later
// already had a duty in it.
package scan

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/shuffle"
	"github.com/odaowatch/watchtower/chain/store"
	"github.com/odaowatch/watchtower/rewards"
)

// BlockProvider gives the block at a slot, nil for an empty slot; full asks
// for the execution payload's withdrawals (chain/beacon.Service implements it).
type BlockProvider interface {
	Block(ctx context.Context, slot phase0.Slot, full bool) (*beacon.Block, error)
}

// slotsPerEpoch is fixed by rewards.DutyRecord.
const slotsPerEpoch = 32

// Interval is what the scanner needs to know about a reward interval.
type Interval struct {
	// Index of the reward interval.
	Index uint64
	// StartSlot is the snapshot's consensusStartBlock, EndSlot its consensusEndBlock.
	StartSlot, EndSlot uint64
	// Withdrawals: collect withdrawals to protocol validators from blocks of
	// epochs start..end (needs full blocks; v10 bonus).
	Withdrawals bool
}

// EpochDigest is the digest of one stored unit (block epoch).
type EpochDigest struct {
	Epoch  uint64 `json:"epoch"`
	Digest string `json:"digest"`
}

// Result of a scan.
type Result struct {
	Record       *rewards.DutyRecord
	RecordDigest string
	// EpochDigests, ascending; comparing two runs' lists finds the first
	// epoch where they diverge.
	EpochDigests []EpochDigest
	// Scanned units in this run; Resumed units taken from the store.
	Scanned, Resumed int
}

// DigestsText is the digest file written next to the output: one
// "epoch <e> <digest>" line per unit and "record <digest>".
func (r *Result) DigestsText() []byte {
	var b strings.Builder
	for _, d := range r.EpochDigests {
		fmt.Fprintf(&b, "epoch %d %s\n", d.Epoch, d.Digest)
	}
	fmt.Fprintf(&b, "record %s\n", r.RecordDigest)
	return []byte(b.String())
}

// Scanner produces duty records.
type Scanner struct {
	log zerolog.Logger
	p   *parameters
	m   *metrics
}

// New builds a scanner.
func New(ctx context.Context, params ...Parameter) (*Scanner, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	m, err := newMetrics(p.registerer)
	if err != nil {
		return nil, err
	}
	_ = ctx
	return &Scanner{log: p.log.With().Str("service", "scan").Logger(), p: p, m: m}, nil
}

// runMeta identifies a run: the interval and what decides the stored
// units besides the validator set (kept per unit) and the end (units do
// not depend on it), so the units scanned while the interval runs serve
// its final scan.
func runMeta(iv Interval) (string, []byte) {
	h := sha256.New()
	var buf [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	h.Write([]byte("odaowatch/scan/v2"))
	put(iv.Index)
	put(iv.StartSlot)
	if iv.Withdrawals {
		put(1)
	} else {
		put(0)
	}
	d := h.Sum(nil)
	meta := fmt.Sprintf("interval=%d start=%d withdrawals=%v digest=%x", iv.Index, iv.StartSlot, iv.Withdrawals, d)
	return fmt.Sprintf("interval-%d-%x", iv.Index, d[:8]), []byte(meta)
}

// tableCache computes each duty epoch's table once and frees it after the
// (at most two) units that need it are done.
type tableCache struct {
	mu      sync.Mutex
	entries map[phase0.Epoch]*tableEntry
}

type tableEntry struct {
	once  sync.Once
	table *dutyTable
	err   error
	refs  int
}

func (c *tableCache) get(ctx context.Context, s *Scanner, e phase0.Epoch, set *validatorSet) (*dutyTable, error) {
	proto := set.bits
	c.mu.Lock()
	ent := c.entries[e]
	c.mu.Unlock()
	if ent == nil {
		return nil, fmt.Errorf("internal: no table entry for epoch %d", e)
	}
	ent.once.Do(func() {
		t0 := time.Now()
		var mp MembersProvider
		var ok bool
		if mo, isOf := s.p.committees.(MembersOfProvider); isOf {
			mp, ok = membersOf{mo, set.list}, true
		} else {
			mp, ok = s.p.committees.(MembersProvider)
		}
		if ok {
			em, err := mp.EpochMembers(ctx, e, proto.has)
			if err != nil {
				ent.err = fmt.Errorf("committees of epoch %d: %w", e, err)
				return
			}
			if em.Epoch != e || em.SlotsPerEpoch != slotsPerEpoch {
				ent.err = fmt.Errorf("committees of epoch %d: provider returned epoch %d with %d slots per epoch", e, em.Epoch, em.SlotsPerEpoch)
				return
			}
			if ent.table, ent.err = newDutyTableFromMembers(em); ent.err != nil {
				return
			}
		} else {
			ec, err := s.p.committees.EpochCommittees(ctx, e)
			if err != nil {
				ent.err = fmt.Errorf("committees of epoch %d: %w", e, err)
				return
			}
			if ec.Epoch != e || ec.SlotsPerEpoch != slotsPerEpoch {
				ent.err = fmt.Errorf("committees of epoch %d: provider returned epoch %d with %d slots per epoch", e, ec.Epoch, ec.SlotsPerEpoch)
				return
			}
			ent.table = newDutyTable(ec, proto)
		}
		if s.m != nil {
			s.m.committees.Observe(time.Since(t0).Seconds())
		}
	})
	if ent.err != nil {
		// Allow a later retry (e.g. after a cancelled context) in a new scan only.
		return nil, ent.err
	}
	return ent.table, nil
}

func (c *tableCache) release(e phase0.Epoch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ent := c.entries[e]; ent != nil {
		ent.refs--
		if ent.refs <= 0 {
			delete(c.entries, e)
		}
	}
}

// Scan produces the duty record of iv for the protocol validators (any
// order, duplicates ignored). Units already in the store are reused: units
// scanned earlier for a smaller set (ScanEpochs while the interval ran) are
// rescanned only where a validator they lack had a duty.
func (s *Scanner) Scan(ctx context.Context, iv Interval, protocol []phase0.ValidatorIndex) (*Result, error) {
	startEpoch, endEpoch, lastEpoch, err := EpochRange(iv.StartSlot, iv.EndSlot, slotsPerEpoch)
	if err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	set := newValidatorSet(canonicalSet(protocol))
	run, meta := runMeta(iv)
	log := s.log.With().Uint64("interval", iv.Index).Str("run", run).Logger()
	plan, err := s.prepare(ctx, run, meta, iv, startEpoch, lastEpoch, endEpoch, set)
	if err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	res := &Result{Scanned: len(plan.pending), Resumed: plan.kept}
	log.Info().Uint64("first_epoch", startEpoch).Uint64("last_epoch", lastEpoch).Int("validators", len(set.list)).
		Int("pending_epochs", len(plan.pending)).Int("rescans", len(plan.replace)).Int("stored_epochs", res.Resumed).Msg("scan started")
	if err := s.runPlan(ctx, run, iv, startEpoch, plan, set); err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	rec, digests, last, err := s.reduce(run, iv, startEpoch, endEpoch, lastEpoch, set)
	if err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	if err := s.tail(ctx, lastEpoch, last); err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	res.Record, res.EpochDigests = rec, digests
	if res.RecordDigest, err = recordDigest(rec); err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	log.Info().Str("record_digest", res.RecordDigest).Int("scanned_epochs", res.Scanned).Int("resumed_epochs", res.Resumed).Msg("scan done")
	return res, nil
}

// AheadResult is what ScanEpochs did.
type AheadResult struct {
	// FirstEpoch..LastEpoch are the block epochs now stored.
	FirstEpoch, LastEpoch uint64
	// Scanned units (Rescanned of them replaced a unit stored for a smaller set); Kept units reused.
	Scanned, Rescanned, Kept int
}

// ScanEpochs scans and stores the units of block epochs from the start of
// the running interval iv (iv.EndSlot is not used: the end is not known
// yet) through lastEpoch, for the protocol validators known now. The final
// Scan of the same interval reuses them. The committees source must cover
// lastEpoch and the blocks of epochs up to lastEpoch must be final.
func (s *Scanner) ScanEpochs(ctx context.Context, iv Interval, lastEpoch uint64, protocol []phase0.ValidatorIndex) (*AheadResult, error) {
	startEpoch := iv.StartSlot / slotsPerEpoch
	if lastEpoch < startEpoch {
		return &AheadResult{FirstEpoch: startEpoch, LastEpoch: lastEpoch}, nil
	}
	set := newValidatorSet(canonicalSet(protocol))
	run, meta := runMeta(iv)
	plan, err := s.prepare(ctx, run, meta, iv, startEpoch, lastEpoch, ^uint64(0), set)
	if err != nil {
		return nil, fmt.Errorf("scan ahead in interval %d: %w", iv.Index, err)
	}
	if err := s.runPlan(ctx, run, iv, startEpoch, plan, set); err != nil {
		return nil, fmt.Errorf("scan ahead in interval %d: %w", iv.Index, err)
	}
	res := &AheadResult{FirstEpoch: startEpoch, LastEpoch: lastEpoch, Scanned: len(plan.pending), Rescanned: len(plan.replace), Kept: plan.kept}
	s.log.Info().Uint64("interval", iv.Index).Uint64("first_epoch", startEpoch).Uint64("last_epoch", lastEpoch).
		Int("validators", len(set.list)).Int("scanned", res.Scanned).Int("rescanned", res.Rescanned).Int("kept", res.Kept).Msg("scanned ahead")
	return res, nil
}

func canonicalSet(protocol []phase0.ValidatorIndex) []phase0.ValidatorIndex {
	protocol = slices.Clone(protocol)
	slices.Sort(protocol)
	return slices.Compact(protocol)
}

// prepare opens the run, records the set and plans the units of first..last.
func (s *Scanner) prepare(ctx context.Context, run string, meta []byte, iv Interval, first, last, dutyEnd uint64, set *validatorSet) (*unitPlan, error) {
	if _, err := s.p.store.OpenRun(run, first, meta); err != nil {
		return nil, err
	}
	if err := s.saveSet(run, set); err != nil {
		return nil, err
	}
	plan, err := s.planUnits(ctx, run, first, first, last, dutyEnd, set)
	if err != nil {
		return nil, err
	}
	if s.m != nil {
		s.m.resumed.Add(float64(plan.kept))
		s.m.rescanned.Add(float64(len(plan.replace)))
	}
	return plan, nil
}

// runPlan scans the plan's units, each against the committees of duty
// epochs b-1 (when b > start) and b.
func (s *Scanner) runPlan(ctx context.Context, run string, iv Interval, startEpoch uint64, plan *unitPlan, set *validatorSet) error {
	cache := &tableCache{entries: map[phase0.Epoch]*tableEntry{}}
	// Unit b reads the tables of duty epochs b-1 and b.
	ref := func(e uint64) {
		ent := cache.entries[phase0.Epoch(e)]
		if ent == nil {
			ent = &tableEntry{}
			cache.entries[phase0.Epoch(e)] = ent
		}
		ent.refs++
	}
	for _, b := range plan.pending {
		if b > startEpoch {
			ref(b - 1)
		}
		ref(b)
	}
	return s.runUnits(ctx, run, iv, startEpoch, plan, set, cache)
}

func (s *Scanner) runUnits(ctx context.Context, run string, iv Interval, startEpoch uint64, plan *unitPlan, set *validatorSet, cache *tableCache) error {
	pending := plan.pending
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan uint64)
	var wg sync.WaitGroup
	for range min(s.p.concurrency, max(len(pending), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := s.unit(ctx, run, iv, b, startEpoch, set, plan.replace[b], cache); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for _, b := range pending {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// unit scans the blocks of epoch b and stores the result (replacing a
// stored unit when replace is set).
func (s *Scanner) unit(ctx context.Context, run string, iv Interval, b, startEpoch uint64, set *validatorSet, replace bool, cache *tableCache) error {
	proto := set.bits
	t0 := time.Now()
	var tPrev, tCur *dutyTable
	var err error
	if b > startEpoch {
		if tPrev, err = cache.get(ctx, s, phase0.Epoch(b-1), set); err != nil {
			return err
		}
		defer cache.release(phase0.Epoch(b - 1))
	}
	if tCur, err = cache.get(ctx, s, phase0.Epoch(b), set); err != nil {
		return err
	}
	defer cache.release(phase0.Epoch(b))
	full := iv.Withdrawals || s.p.fullBlocks
	blocks, err := s.fetchEpoch(ctx, b, full)
	if err != nil {
		return err
	}
	var incPrev, incCur []phase0.Slot
	if tPrev != nil {
		incPrev = make([]phase0.Slot, len(tPrev.duties))
	}
	if tCur != nil {
		incCur = make([]phase0.Slot, len(tCur.duties))
	}
	u := &unitResult{epoch: b, set: set.digest}
	if err := chainBlocks(blocks, u); err != nil {
		return err
	}
	for _, blk := range blocks {
		if blk == nil {
			continue
		}
		for i := range blk.Attestations {
			a := &blk.Attestations[i]
			if a.Slot >= blk.Slot {
				return fmt.Errorf("block at slot %d: attestation for slot %d is not for an earlier slot", blk.Slot, a.Slot)
			}
			e := uint64(a.Slot) / slotsPerEpoch
			switch {
			case e == b && tCur != nil:
				err = tCur.apply(a, blk.Slot, incCur)
			case e+1 == b && tPrev != nil:
				err = tPrev.apply(a, blk.Slot, incPrev)
			case e == b || e+1 == b:
				// Duties outside the interval's epochs.
			default:
				return fmt.Errorf("block at slot %d: attestation for slot %d is older than the previous epoch", blk.Slot, a.Slot)
			}
			if err != nil {
				return err
			}
		}
		if iv.Withdrawals {
			if blk.Withdrawals == nil {
				return fmt.Errorf("block at slot %d: withdrawals needed but the block has none (blinded?)", blk.Slot)
			}
			for _, w := range blk.Withdrawals {
				if proto.has(w.ValidatorIndex) {
					u.withdrawals = append(u.withdrawals, unitWithdrawal{slot: uint64(blk.Slot), validator: uint64(w.ValidatorIndex), amount: uint64(w.Amount)})
				}
			}
		}
	}
	if tCur != nil {
		u.duties = make([]unitDuty, len(tCur.duties))
		for i, d := range tCur.duties {
			u.duties[i] = unitDuty{validator: uint64(d.validator), slot: uint64(tCur.dutySlot(d))}
		}
	}
	for _, x := range []struct {
		t   *dutyTable
		inc []phase0.Slot
	}{{tPrev, incPrev}, {tCur, incCur}} {
		if x.t == nil {
			continue
		}
		for i, d := range x.t.duties {
			if x.inc[i] != 0 {
				u.inclusions = append(u.inclusions, unitInclusion{validator: uint64(d.validator), dutySlot: uint64(x.t.dutySlot(d)), inclSlot: uint64(x.inc[i])})
			}
		}
	}
	enc, err := u.encode()
	if err != nil {
		return fmt.Errorf("encode epoch %d: %w", b, err)
	}
	if replace {
		err = s.p.store.(ReplacingStore).ReplaceEpoch(run, b, enc)
	} else {
		err = s.p.store.PutEpoch(run, b, enc)
	}
	if err != nil {
		return err
	}
	if s.m != nil {
		s.m.epochs.Inc()
		s.m.epochTime.Observe(time.Since(t0).Seconds())
	}
	s.log.Trace().Uint64("epoch", b).Int("duties", len(u.duties)).Int("inclusions", len(u.inclusions)).Msg("epoch stored")
	return nil
}

// fetchEpoch gets the blocks of epoch b with bounded parallelism, in slot order.
func (s *Scanner) fetchEpoch(ctx context.Context, b uint64, full bool) ([]*beacon.Block, error) {
	out := make([]*beacon.Block, slotsPerEpoch)
	errs := make([]error, slotsPerEpoch)
	sem := make(chan struct{}, s.p.blockConcurrency)
	var wg sync.WaitGroup
	for i := range uint64(slotsPerEpoch) {
		slot := phase0.Slot(b*slotsPerEpoch + i)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, context.Cause(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			blk, err := s.p.blocks.Block(ctx, slot, full)
			if err == nil && blk != nil && blk.Slot != slot {
				err = fmt.Errorf("asked for the block at slot %d, got slot %d", slot, blk.Slot)
			}
			out[i], errs[i] = blk, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.m != nil {
		for _, blk := range out {
			if blk != nil {
				s.m.blocks.Inc()
			}
		}
	}
	return out, nil
}

// tailSearch bounds the look-ahead for the block after the last epoch.
const tailSearch = 2 * slotsPerEpoch

// chainEnd is the last block root the reduce saw (haveRoot false when the
// last epoch with blocks had unverified roots).
type chainEnd struct {
	haveRoot bool
	root     [32]byte
	epoch    uint64
}

// tail checks that the first block after epoch b (the last scanned epoch)
// has the last block found as its parent, so the interval's last block is
// covered by the chain check too. Skipped when the roots are unknown, and
// with a warning when no such block exists yet.
func (s *Scanner) tail(ctx context.Context, b uint64, end chainEnd) error {
	if !end.haveRoot {
		return nil
	}
	for slot := (b + 1) * slotsPerEpoch; slot < (b+1)*slotsPerEpoch+tailSearch; slot++ {
		blk, err := s.p.blocks.Block(ctx, phase0.Slot(slot), false)
		if err != nil {
			return fmt.Errorf("block after the last epoch: %w", err)
		}
		if blk == nil {
			continue
		}
		if blk.Root == (phase0.Root{}) {
			return nil
		}
		if blk.ParentRoot != end.root {
			return fmt.Errorf("the first block after epoch %d (slot %d) has parent %#x, not the last block found (root %#x, epoch %d): a block is missing or wrong",
				b, blk.Slot, blk.ParentRoot, end.root, end.epoch)
		}
		return nil
	}
	s.log.Warn().Uint64("epoch", b).Msg("no block after the last scanned epoch yet: its last block is not chain-checked")
	return nil
}

// chainBlocks checks that the blocks of an epoch link up by parent root
// (when their roots are known from verified headers): a block a node
// wrongly reported missing breaks the chain. It records the epoch's first
// parent and last root for the check across epochs.
func chainBlocks(blocks []*beacon.Block, u *unitResult) error {
	var prev *beacon.Block
	for _, b := range blocks {
		if b == nil {
			continue
		}
		if b.Root == (phase0.Root{}) {
			u.chained, u.unchained = false, true
			return nil
		}
		if prev == nil {
			u.chained, u.firstParent = true, b.ParentRoot
		} else if b.ParentRoot != prev.Root {
			return fmt.Errorf("block at slot %d: parent root %s is not the root %s of the previous block found (slot %d): a block in between is missing or wrong",
				b.Slot, b.ParentRoot, prev.Root, prev.Slot)
		}
		u.lastRoot = b.Root
		prev = b
	}
	return nil
}

type pendingDuty struct {
	validator, slot, incl uint64
}

// reduce folds the stored units, in epoch order, into the duty record of
// the validators of set, with duties in epochs startEpoch..endEpoch. Each
// unit is restricted to set (and, for the last unit, to the previous
// epoch's inclusions) before use; its digest is the sha256 of that
// restricted body, so it does not depend on which sets the units were
// scanned for.
func (s *Scanner) reduce(run string, iv Interval, startEpoch, endEpoch, lastEpoch uint64, set *validatorSet) (*rewards.DutyRecord, []EpochDigest, chainEnd, error) {
	bld := rewards.NewDutyRecordBuilder(iv.Index, iv.StartSlot, iv.EndSlot)
	var prev []pendingDuty
	next := startEpoch
	var digests []EpochDigest
	var end chainEnd
	// Inclusions of a list come in validator order: look from just after the
	// previous match (a few steps at most), else binary search.
	var hint int
	apply := func(list []pendingDuty, inc unitInclusion) error {
		i := hint
		if i > len(list) || (i > 0 && list[i-1].validator >= inc.validator) {
			i = 0
		}
		for steps := 0; i < len(list) && list[i].validator < inc.validator; steps++ {
			if steps == 64 {
				i, _ = slices.BinarySearchFunc(list, inc.validator, func(p pendingDuty, v uint64) int { return cmpU(p.validator, v) })
				break
			}
			i++
		}
		ok := i < len(list) && list[i].validator == inc.validator
		hint = i + 1
		if !ok || list[i].slot != inc.dutySlot {
			return fmt.Errorf("inclusion of validator %d for slot %d at slot %d matches no recorded duty", inc.validator, inc.dutySlot, inc.inclSlot)
		}
		if list[i].incl == 0 || inc.inclSlot < list[i].incl {
			list[i].incl = inc.inclSlot
		}
		return nil
	}
	// Finished epochs are added validator by validator over batches of
	// epochs: the record is validator-major, so adding one epoch at a time
	// touches a new cache line for every duty.
	var batch [][]pendingDuty
	emit := func() error {
		heads := make([]int, len(batch))
		for {
			v, found := uint64(0), false
			for k, l := range batch {
				if heads[k] < len(l) && (!found || l[heads[k]].validator < v) {
					v, found = l[heads[k]].validator, true
				}
			}
			if !found {
				break
			}
			for k, l := range batch {
				if heads[k] < len(l) && l[heads[k]].validator == v {
					d := l[heads[k]]
					if err := bld.AddDuty(d.validator, d.slot, d.incl); err != nil {
						return fmt.Errorf("build duty record: %w", err)
					}
					heads[k]++
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	flush := func() error {
		if len(prev) > 0 {
			batch = append(batch, prev)
		}
		prev = nil
		if len(batch) == 16 {
			return emit()
		}
		return nil
	}
	var body []byte
	err := s.p.store.Epochs(run, func(e store.Epoch) error {
		if e.Epoch < startEpoch {
			return fmt.Errorf("stored epoch %d before the first epoch %d", e.Epoch, startEpoch)
		}
		if e.Epoch > lastEpoch {
			// Scanned ahead past the end (the interval ended earlier than the
			// scan went): not part of this record.
			return nil
		}
		if e.Epoch != next {
			return fmt.Errorf("stored epochs are not contiguous: expected %d, found %d", next, e.Epoch)
		}
		next++
		u, err := decodeUnit(e.Result)
		if err != nil {
			return fmt.Errorf("epoch %d: %w", e.Epoch, err)
		}
		if u.epoch != e.Epoch {
			return fmt.Errorf("epoch %d: stored result is for epoch %d", e.Epoch, u.epoch)
		}
		last := e.Epoch == lastEpoch
		var digest [32]byte
		if u.set == set.digest && !last {
			digest = sha256.Sum256(e.Result[unitHeader:])
		} else {
			u.restrict(set.bits, last)
			if body, err = u.encodeBody(body[:0]); err != nil {
				return fmt.Errorf("epoch %d: %w", e.Epoch, err)
			}
			digest = sha256.Sum256(body)
		}
		digests = append(digests, EpochDigest{Epoch: e.Epoch, Digest: "0x" + hex.EncodeToString(digest[:])})
		s.log.Debug().Uint64("epoch", e.Epoch).Str("digest", digests[len(digests)-1].Digest).Msg("epoch digest")
		if u.chained {
			if end.haveRoot && u.firstParent != end.root {
				return fmt.Errorf("blocks of epoch %d do not continue the chain of epoch %d (parent %#x, last root %#x): a block is missing or wrong",
					e.Epoch, end.epoch, u.firstParent, end.root)
			}
			end = chainEnd{haveRoot: true, root: u.lastRoot, epoch: e.Epoch}
		} else if u.unchained {
			end.haveRoot = false
		}
		var cur []pendingDuty
		if e.Epoch <= endEpoch {
			cur = make([]pendingDuty, len(u.duties))
		}
		for i, d := range u.duties {
			if d.slot/slotsPerEpoch != u.epoch {
				return fmt.Errorf("epoch %d: duty of validator %d at slot %d outside the epoch", e.Epoch, d.validator, d.slot)
			}
			if i > 0 && u.duties[i-1].validator >= d.validator {
				return fmt.Errorf("epoch %d: duties not sorted or validator %d listed twice", e.Epoch, d.validator)
			}
			if cur != nil {
				cur[i] = pendingDuty{validator: d.validator, slot: d.slot}
			}
		}
		for _, inc := range u.inclusions {
			var err error
			switch inc.dutySlot / slotsPerEpoch {
			case u.epoch:
				err = apply(cur, inc)
			case u.epoch - 1:
				err = apply(prev, inc)
			default:
				err = fmt.Errorf("inclusion for slot %d in epoch %d's result", inc.dutySlot, u.epoch)
			}
			if err != nil {
				return fmt.Errorf("epoch %d: %w", e.Epoch, err)
			}
		}
		if err := flush(); err != nil {
			return err
		}
		prev = cur
		for _, w := range u.withdrawals {
			bld.AddWithdrawal(rewards.Withdrawal{Slot: w.slot, ValidatorIndex: w.validator, AmountGwei: w.amount})
		}
		return nil
	})
	if err != nil {
		return nil, nil, end, fmt.Errorf("reduce stored epochs: %w", err)
	}
	if next != lastEpoch+1 {
		return nil, nil, end, fmt.Errorf("reduce stored epochs: epochs %d..%d missing", next, lastEpoch)
	}
	if err := flush(); err != nil {
		return nil, nil, end, err
	}
	if err := emit(); err != nil {
		return nil, nil, end, err
	}
	rec := bld.Build()
	if err := rec.Validate(); err != nil {
		return nil, nil, end, fmt.Errorf("duty record: %w", err)
	}
	return rec, digests, end, nil
}

type metrics struct {
	epochs     prometheus.Counter
	resumed    prometheus.Counter
	rescanned  prometheus.Counter
	blocks     prometheus.Counter
	epochTime  prometheus.Histogram
	committees prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{
		epochs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "scan", Name: "epochs_scanned_total",
			Help: "Block epochs scanned and stored."}),
		resumed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "scan", Name: "epochs_resumed_total",
			Help: "Block epochs taken from the store instead of being scanned."}),
		rescanned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "scan", Name: "epochs_rescanned_total",
			Help: "Stored block epochs scanned again for validators that joined the protocol while already active."}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "scan", Name: "blocks_total",
			Help: "Blocks fetched and decoded."}),
		epochTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "watchtower", Subsystem: "scan", Name: "epoch_duration_seconds",
			Help: "Time to fetch, decode and store one block epoch.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		committees: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "watchtower", Subsystem: "scan", Name: "committees_duration_seconds",
			Help: "Time to obtain one epoch's committees and protocol duties.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	for _, c := range []prometheus.Collector{m.epochs, m.resumed, m.rescanned, m.blocks, m.epochTime, m.committees} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("register scan metrics: %w", err)
		}
	}
	return m, nil
}

// FirstDivergence returns the first epoch whose digests differ between two
// runs' lists (or that only one of them has); ok is false when they agree.
func FirstDivergence(a, b []EpochDigest) (epoch uint64, ok bool) {
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return min(a[i].Epoch, b[i].Epoch), true
		}
	}
	switch {
	case i < len(a):
		return a[i].Epoch, true
	case i < len(b):
		return b[i].Epoch, true
	}
	return 0, false
}

type membersOf struct {
	p    MembersOfProvider
	list []phase0.ValidatorIndex
}

func (m membersOf) EpochMembers(ctx context.Context, e phase0.Epoch, _ func(phase0.ValidatorIndex) bool) (*shuffle.EpochMembers, error) {
	return m.p.EpochMembersOf(ctx, e, m.list)
}
