// Package interval wires the EL reader, the CL reader, the attestation scanner, the rewards engine and the tree
// into "generate interval N": timing exactly as rewards-rules.md §2, the snapshot, the duty record, the result,
// the files, and the comparison with the on-chain canonical root.
package interval

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/rewards"
)

// ELReader is what generation reads from the execution layer (chain/execution.Service).
type ELReader interface {
	Header(ctx context.Context, number *big.Int) (*types.Header, error)
	ChainID(ctx context.Context) (uint64, error)
	IntervalInfo(ctx context.Context, block uint64) (*execution.IntervalInfo, error)
	ReadSnapshot(ctx context.Context, block uint64) (*rewards.Snapshot, error)
	RewardSnapshotEvent(ctx context.Context, index uint64) (*execution.RewardEvent, error)
}

// Beacon is what generation reads from the consensus layer (chain/beacon.Service).
type Beacon interface {
	Genesis(ctx context.Context) (*apiv1.Genesis, error)
	SpecValues(ctx context.Context) (map[string]any, error)
	Header(ctx context.Context, id string) (*apiv1.BeaconBlockHeader, error)
	FinalizedEpoch(ctx context.Context) (phase0.Epoch, error)
	SnapshotBlock(ctx context.Context, snapshotSlot phase0.Slot, maxBack uint64) (*beacon.Block, error)
	FirstBlockFrom(ctx context.Context, slot phase0.Slot, maxForward uint64) (*beacon.Block, error)
	ValidatorsByPubkey(ctx context.Context, stateID string, keys []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error)
}

// ErrNotFinalized: the epoch after the target epoch is not finalized yet (rewards-rules §2.1); retry later.
var ErrNotFinalized = errors.New("interval not finalized yet")

// ErrNotDue: the interval has not ended yet (no interval has passed at the head).
var ErrNotDue = errors.New("interval not due yet")

// DryRun is the index that asks for a dry run of the open interval ending at the latest finalized epoch.
const DryRun = -1

// Progress of the scan, for a progress bar or log lines.
type Progress struct {
	Index              uint64
	EpochsDone, Epochs uint64 // block epochs scanned or resumed / in the interval
	Resumed            uint64 // of EpochsDone, taken from the scan store (e.g. scanned ahead during the interval)
	Blocks             uint64 // blocks fetched so far
	Elapsed            time.Duration
}

// Timing is where an interval starts and ends (rewards-rules §2).
type Timing struct {
	Index               uint64
	IntervalsPassed     uint64
	ConsensusStartSlot  uint64
	SnapshotSlot        uint64
	ConsensusStartBlock uint64
	ConsensusEndBlock   uint64
	ExecutionStartBlock uint64
	ExecutionEndBlock   uint64
	ELStartTime         uint64
	ELEndTime           uint64
}

// Output is a generated interval.
type Output struct {
	Timing   Timing
	Snapshot *rewards.Snapshot
	Scan     *scan.Result
	Result   *rewards.Result
	Files    *rewards.Files
	// Canonical is the interval's RewardSnapshot event when it has been executed (nil for open intervals).
	Canonical *execution.RewardEvent
	// Previous is the previous interval's event (nil for interval 0).
	Previous *execution.RewardEvent
	// Differences from the canonical submission (empty when it matches or there is none).
	Differences []string
}

// Matches reports whether a canonical root exists and equals ours.
func (o *Output) Matches() bool {
	return o.Canonical != nil && len(o.Differences) == 0
}

// Generator generates intervals.
type Generator struct {
	log zerolog.Logger
	p   *parameters

	aheadMu   sync.Mutex
	aheadLast uint64 // finalized epoch of the last ScanAhead
	aheadHave bool
}

// New builds a Generator.
func New(ctx context.Context, params ...Parameter) (*Generator, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	_ = ctx
	return &Generator{log: p.log.With().Str("service", "interval").Logger(), p: p}, nil
}

type chainConfig struct {
	genesisTime, secondsPerSlot, slotsPerEpoch uint64
}

func (g *Generator) chainConfig(ctx context.Context) (*chainConfig, error) {
	gen, err := g.p.cl.Genesis(ctx)
	if err != nil {
		return nil, fmt.Errorf("read beacon genesis: %w", err)
	}
	spec, err := g.p.cl.SpecValues(ctx)
	if err != nil {
		return nil, fmt.Errorf("read beacon spec: %w", err)
	}
	cc := &chainConfig{genesisTime: uint64(gen.GenesisTime.Unix())}
	if cc.secondsPerSlot, err = specSeconds(spec, "SECONDS_PER_SLOT"); err != nil {
		return nil, err
	}
	if cc.slotsPerEpoch, err = specSeconds(spec, "SLOTS_PER_EPOCH"); err != nil {
		return nil, err
	}
	if cc.slotsPerEpoch != 32 {
		return nil, fmt.Errorf("beacon spec SLOTS_PER_EPOCH = %d; the rewards rules need 32", cc.slotsPerEpoch)
	}
	if cc.secondsPerSlot == 0 {
		return nil, errors.New("beacon spec SECONDS_PER_SLOT is 0")
	}
	return cc, nil
}

// specSeconds reads an integer spec value; go-eth2-client decodes SECONDS_PER_* as durations.
func specSeconds(spec map[string]any, key string) (uint64, error) {
	switch v := spec[key].(type) {
	case time.Duration:
		if v < 0 || v%time.Second != 0 {
			return 0, fmt.Errorf("beacon spec %s = %s is not whole seconds", key, v)
		}
		return uint64(v / time.Second), nil
	case uint64:
		return v, nil
	case nil:
		return 0, fmt.Errorf("beacon spec has no %s", key)
	default:
		return 0, fmt.Errorf("beacon spec %s has unexpected type %T", key, v)
	}
}

// Generate builds interval index: an executed interval from its RewardSnapshot event, the open interval when it
// is due (its end passed at the head and the epoch after the target finalized), or with DryRun the open interval
// ending at the latest finalized epoch.
func (g *Generator) Generate(ctx context.Context, index int64) (*Output, error) {
	start := time.Now()
	cc, err := g.chainConfig(ctx)
	if err != nil {
		return nil, err
	}
	t, canonical, prev, err := g.timing(ctx, cc, index)
	if err != nil {
		return nil, err
	}
	log := g.log.With().Uint64("index", t.Index).Logger()
	log.Info().Uint64("consensus_start_block", t.ConsensusStartBlock).Uint64("consensus_end_block", t.ConsensusEndBlock).
		Uint64("execution_start_block", t.ExecutionStartBlock).Uint64("execution_end_block", t.ExecutionEndBlock).
		Uint64("intervals_passed", t.IntervalsPassed).Msg("interval timing")

	snap, err := g.snapshot(ctx, cc, t)
	if err != nil {
		return nil, err
	}
	ruleset := g.p.ruleset
	if ruleset == 0 {
		if ruleset, err = rewards.RulesetFor(snap.Network, snap.Index); err != nil {
			return nil, err
		}
	}
	iv, protocol := scanInput(t, snap, ruleset)
	startEpoch, _, lastEpoch, err := scan.EpochRange(t.ConsensusStartBlock, t.ConsensusEndBlock, cc.slotsPerEpoch)
	if err != nil {
		return nil, err
	}
	epochs := lastEpoch - startEpoch + 1
	var counts func(scanned, resumed, blocks uint64)
	if g.p.progress != nil {
		scanStart := time.Now()
		var last time.Time
		counts = func(scanned, resumed, blocks uint64) {
			if time.Since(last) < g.p.progressTick && scanned+resumed < epochs {
				return
			}
			last = time.Now()
			g.p.progress(Progress{Index: t.Index, EpochsDone: scanned + resumed, Resumed: resumed, Epochs: epochs, Blocks: blocks, Elapsed: time.Since(scanStart)})
		}
	}
	res, err := g.p.scanner.ScanDuties(ctx, iv, phase0.Slot(t.ConsensusEndBlock), protocol, counts)
	if err != nil {
		return nil, err
	}
	log.Info().Int("scanned", res.Scanned).Int("resumed", res.Resumed).Str("record_digest", res.RecordDigest).Msg("duties scanned")

	var opts []rewards.Option
	if g.p.ruleset != 0 {
		opts = append(opts, rewards.WithRuleset(g.p.ruleset))
	}
	result, err := rewards.Compute(snap, res.Record, opts...)
	if err != nil {
		return nil, fmt.Errorf("compute interval %d: %w", t.Index, err)
	}
	files, err := result.Files()
	if err != nil {
		return nil, fmt.Errorf("build files of interval %d: %w", t.Index, err)
	}
	out := &Output{Timing: *t, Snapshot: snap, Scan: res, Result: result, Files: files, Canonical: canonical, Previous: prev}
	if canonical != nil {
		out.Differences = CompareSubmission(canonical, SubmissionOf(t, result, files))
	}
	log.Info().Str("root", files.Root.Hex()).Int("ruleset", result.Ruleset).Dur("took", time.Since(start)).Msg("interval generated")
	return out, nil
}

// scanInput is the scanner's view of an interval: its bounds and the protocol validators' indices, sorted.
func scanInput(t *Timing, snap *rewards.Snapshot, ruleset int) (scan.Interval, []phase0.ValidatorIndex) {
	protocol := make([]phase0.ValidatorIndex, 0, len(snap.Validators))
	for _, v := range snap.Validators {
		protocol = append(protocol, phase0.ValidatorIndex(v.Index))
	}
	sort.Slice(protocol, func(i, j int) bool { return protocol[i] < protocol[j] })
	return scan.Interval{Index: t.Index, StartSlot: t.ConsensusStartBlock, EndSlot: t.ConsensusEndBlock,
		Withdrawals: rewards.NeedsWithdrawals(snap.Network, t.Index, ruleset)}, protocol
}

// Ahead is what ScanAhead did.
type Ahead struct {
	Index uint64
	// Finalized is the finalized epoch; block epochs FirstEpoch..LastEpoch (= Finalized-1) are now stored.
	Finalized             uint64
	FirstEpoch, LastEpoch uint64
	Validators            int
	Scan                  *scan.AheadResult
	// Skipped: nothing new was finalized since the previous call.
	Skipped bool
}

// ScanAhead scans the finalized epochs of the running interval into the scan store, so that at the interval's
// end only its last epochs remain (issue 7's incremental worker). The protocol validators are read at the latest
// finalized block (the dry-run snapshot); validators that join later are added by the final scan, which rescans
// an epoch only where such a validator already had a duty. It does nothing until at least minNew epochs were
// finalized since its last run (minNew 0 counts as 1).
func (g *Generator) ScanAhead(ctx context.Context, minNew uint64) (*Ahead, error) {
	as, ok := g.p.scanner.(AheadScanner)
	if !ok {
		return nil, errors.New("scan ahead: the scanner cannot scan ahead")
	}
	finalized, err := g.p.cl.FinalizedEpoch(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan ahead: read finalized epoch: %w", err)
	}
	g.aheadMu.Lock()
	last, have := g.aheadLast, g.aheadHave
	g.aheadMu.Unlock()
	if finalized == 0 || (have && uint64(finalized) < last+max(minNew, 1)) {
		return &Ahead{Finalized: uint64(finalized), Skipped: true}, nil
	}
	cc, err := g.chainConfig(ctx)
	if err != nil {
		return nil, err
	}
	t, _, _, err := g.timing(ctx, cc, DryRun)
	if err != nil {
		return nil, fmt.Errorf("scan ahead: %w", err)
	}
	// Right after an execution the finalized EL block still sees the previous interval: wait for finality to
	// pass the execution.
	if info, err := g.p.el.IntervalInfo(ctx, t.ExecutionEndBlock); err != nil {
		return nil, fmt.Errorf("scan ahead: %w", err)
	} else if info.RewardIndex != t.Index {
		return &Ahead{Index: t.Index, Finalized: uint64(finalized), Skipped: true}, nil
	}
	snap, err := g.snapshot(ctx, cc, t)
	if err != nil {
		return nil, fmt.Errorf("scan ahead: %w", err)
	}
	ruleset := g.p.ruleset
	if ruleset == 0 {
		if ruleset, err = rewards.RulesetFor(snap.Network, snap.Index); err != nil {
			return nil, err
		}
	}
	iv, protocol := scanInput(t, snap, ruleset)
	iv.EndSlot = 0
	out := &Ahead{Index: t.Index, Finalized: uint64(finalized), FirstEpoch: iv.StartSlot / cc.slotsPerEpoch, Validators: len(protocol)}
	// Blocks of epochs before the finalized one are final; the state at the dry-run snapshot slot (the last slot
	// of epoch finalized-1) gives their committees.
	out.LastEpoch = uint64(finalized) - 1
	if out.LastEpoch >= out.FirstEpoch {
		if out.Scan, err = as.ScanAhead(ctx, iv, phase0.Slot(t.SnapshotSlot), out.LastEpoch, protocol); err != nil {
			return nil, fmt.Errorf("scan ahead in interval %d: %w", t.Index, err)
		}
	}
	g.aheadMu.Lock()
	g.aheadLast, g.aheadHave = uint64(finalized), true
	g.aheadMu.Unlock()
	return out, nil
}

// GenerateWhenFinal is Generate that waits: while the interval is not due (ErrNotDue) or not finalized
// (ErrNotFinalized) it polls again every poll, until ctx ends.
func (g *Generator) GenerateWhenFinal(ctx context.Context, index int64, poll time.Duration) (*Output, error) {
	if poll <= 0 {
		return nil, errors.New("poll interval must be positive")
	}
	var waiting error // the last not-due / not-finalized answer
	for {
		out, err := g.Generate(ctx, index)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil && waiting != nil {
			return nil, fmt.Errorf("%w (stopped waiting: %v)", waiting, ctx.Err())
		}
		if !errors.Is(err, ErrNotFinalized) && !errors.Is(err, ErrNotDue) {
			return nil, err
		}
		waiting = err
		g.log.Info().Err(err).Dur("retry_in", poll).Msg("waiting")
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (stopped waiting: %v)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// timing resolves the interval's boundaries (rewards-rules §2.1, §2.2).
func (g *Generator) timing(ctx context.Context, cc *chainConfig, index int64) (*Timing, *execution.RewardEvent, *execution.RewardEvent, error) {
	if index < DryRun {
		return nil, nil, nil, fmt.Errorf("interval %d: want an index >= 0 or %d (dry run)", index, DryRun)
	}
	headEL, err := g.p.el.Header(ctx, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	info, err := g.p.el.IntervalInfo(ctx, headEL.Number.Uint64())
	if err != nil {
		return nil, nil, nil, err
	}
	if info.IntervalTime == 0 {
		return nil, nil, nil, errors.New("rewards pool interval time is 0")
	}
	t := &Timing{}
	var canonical *execution.RewardEvent
	spe := cc.slotsPerEpoch
	var snapshotBlock *beacon.Block
	switch {
	case index >= 0 && uint64(index) < info.RewardIndex:
		// Executed: the event fixes the snapshot block, the EL block and intervalsPassed.
		ev, err := g.p.el.RewardSnapshotEvent(ctx, uint64(index))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("interval %d: %w", index, err)
		}
		canonical = ev
		t.Index, t.IntervalsPassed = ev.Index, ev.IntervalsPassed
		target, err := scan.TargetSlot(ev.IntervalEndTime, cc.genesisTime, cc.secondsPerSlot)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("interval %d: %w", index, err)
		}
		t.SnapshotSlot = scan.SnapshotSlot(target, spe)
		if ev.ConsensusBlock > t.SnapshotSlot {
			return nil, nil, nil, fmt.Errorf("interval %d: event consensus block %d is after the snapshot slot %d", index, ev.ConsensusBlock, t.SnapshotSlot)
		}
		// The block at the event's consensus slot must carry the event's EL block.
		b, err := g.p.cl.SnapshotBlock(ctx, phase0.Slot(ev.ConsensusBlock), 0)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("interval %d: event consensus block %d: %w", index, ev.ConsensusBlock, err)
		}
		if b.ExecutionBlockNumber != ev.ExecutionBlock {
			return nil, nil, nil, fmt.Errorf("interval %d: beacon block %d carries EL block %d, the event says %d", index, ev.ConsensusBlock, b.ExecutionBlockNumber, ev.ExecutionBlock)
		}
		snapshotBlock = b
	case index >= 0 && uint64(index) > info.RewardIndex:
		return nil, nil, nil, fmt.Errorf("interval %d: the current interval is %d", index, info.RewardIndex)
	default:
		// Open interval: due now, or a dry run.
		t.Index = info.RewardIndex
		finalized, err := g.p.cl.FinalizedEpoch(ctx)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read finalized epoch: %w", err)
		}
		if index == DryRun {
			if finalized == 0 {
				return nil, nil, nil, fmt.Errorf("dry run: %w (finalized epoch 0)", ErrNotFinalized)
			}
			// The last slot of the epoch before the finalized one, so that its late attestations are final too.
			t.SnapshotSlot = uint64(finalized)*spe - 1
			passed, err := scan.IntervalsPassed(scan.SlotTime(cc.genesisTime, cc.secondsPerSlot, t.SnapshotSlot), info.ClaimIntervalTimeStart, info.IntervalTime)
			if err != nil {
				return nil, nil, nil, err
			}
			t.IntervalsPassed = max(passed, 1)
		} else {
			head, err := g.p.cl.Header(ctx, "head")
			if err != nil {
				return nil, nil, nil, fmt.Errorf("read beacon head: %w", err)
			}
			stateTime := scan.SlotTime(cc.genesisTime, cc.secondsPerSlot, uint64(head.Header.Message.Slot))
			passed, err := scan.IntervalsPassed(stateTime, info.ClaimIntervalTimeStart, info.IntervalTime)
			if err != nil {
				return nil, nil, nil, err
			}
			if passed == 0 {
				return nil, nil, nil, fmt.Errorf("interval %d: %w (ends at %d, head slot time %d)", index, ErrNotDue, info.ClaimIntervalTimeStart+info.IntervalTime, stateTime)
			}
			t.IntervalsPassed = passed
			end := scan.IntervalEndTime(info.ClaimIntervalTimeStart, info.IntervalTime, passed)
			target, err := scan.TargetSlot(end, cc.genesisTime, cc.secondsPerSlot)
			if err != nil {
				return nil, nil, nil, err
			}
			if !scan.FinalizedEnough(uint64(finalized), target, spe) {
				return nil, nil, nil, fmt.Errorf("interval %d: %w (finalized epoch %d, need %d)", index, ErrNotFinalized, finalized, target/spe+1)
			}
			t.SnapshotSlot = scan.SnapshotSlot(target, spe)
		}
		b, err := g.p.cl.SnapshotBlock(ctx, phase0.Slot(t.SnapshotSlot), g.p.maxBack)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("interval %d: %w", t.Index, err)
		}
		snapshotBlock = b
	}
	t.ConsensusEndBlock, t.ExecutionEndBlock = uint64(snapshotBlock.Slot), snapshotBlock.ExecutionBlockNumber

	// Start: the epoch after the previous interval's consensus block.
	var prev *execution.RewardEvent
	if t.Index == 0 {
		// No previous interval: the first slot of the epoch holding the interval start (our choice; the
		// reference has no interval before 0).
		startInfo, err := g.p.el.IntervalInfo(ctx, t.ExecutionEndBlock)
		if err != nil {
			return nil, nil, nil, err
		}
		s := uint64(0)
		if startInfo.ClaimIntervalTimeStart > cc.genesisTime {
			s, _ = scan.TargetSlot(startInfo.ClaimIntervalTimeStart, cc.genesisTime, cc.secondsPerSlot)
		}
		t.ConsensusStartSlot = s / spe * spe
	} else {
		prev, err = g.p.el.RewardSnapshotEvent(ctx, t.Index-1)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("previous interval %d: %w", t.Index-1, err)
		}
		t.ConsensusStartSlot = scan.ConsensusStartSlot(prev.ConsensusBlock, spe)
	}
	if t.ConsensusStartSlot > t.ConsensusEndBlock {
		return nil, nil, nil, fmt.Errorf("interval %d: start slot %d after the snapshot block %d", t.Index, t.ConsensusStartSlot, t.ConsensusEndBlock)
	}
	first, err := g.p.cl.FirstBlockFrom(ctx, phase0.Slot(t.ConsensusStartSlot), min(g.p.maxForward, t.ConsensusEndBlock-t.ConsensusStartSlot))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("interval %d: %w", t.Index, err)
	}
	t.ConsensusStartBlock = uint64(first.Slot)
	switch {
	case first.HasPayload:
		t.ExecutionStartBlock = first.ExecutionBlockNumber
	case prev != nil:
		t.ExecutionStartBlock = prev.ExecutionBlock + 1 // pre-merge rule
	default:
		return nil, nil, nil, fmt.Errorf("interval %d: first block %d has no execution payload", t.Index, first.Slot)
	}
	for _, p := range []struct {
		block uint64
		dst   *uint64
	}{{t.ExecutionStartBlock, &t.ELStartTime}, {t.ExecutionEndBlock, &t.ELEndTime}} {
		h, err := g.p.el.Header(ctx, new(big.Int).SetUint64(p.block))
		if err != nil {
			return nil, nil, nil, err
		}
		*p.dst = h.Time
	}
	return t, canonical, prev, nil
}

// snapshot reads the EL state at the snapshot's EL block and the beacon status of every protocol validator at
// the consensus end block, and fills the timing fields.
func (g *Generator) snapshot(ctx context.Context, cc *chainConfig, t *Timing) (*rewards.Snapshot, error) {
	snap, err := g.p.el.ReadSnapshot(ctx, t.ExecutionEndBlock)
	if err != nil {
		return nil, err
	}
	if snap.Index != t.Index {
		return nil, fmt.Errorf("interval %d: the rewards pool says index %d at the snapshot's EL block %d (the previous interval was executed after this block; retry when finality passes the execution)", t.Index, snap.Index, t.ExecutionEndBlock)
	}
	chainID, err := g.p.el.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	snap.Network, snap.ChainID = g.p.network, chainID
	snap.GenesisTime, snap.SecondsPerSlot, snap.SlotsPerEpoch = cc.genesisTime, cc.secondsPerSlot, cc.slotsPerEpoch
	snap.IntervalsPassed = t.IntervalsPassed
	snap.ConsensusStartSlot, snap.SnapshotSlot = t.ConsensusStartSlot, t.SnapshotSlot
	snap.ConsensusStartBlock, snap.ConsensusEndBlock = t.ConsensusStartBlock, t.ConsensusEndBlock
	snap.ExecutionStartBlock, snap.ExecutionEndBlock = t.ExecutionStartBlock, t.ExecutionEndBlock
	snap.ELStartTime, snap.ELEndTime = t.ELStartTime, t.ELEndTime

	keys := execution.ProtocolPubkeys(snap)
	blsKeys := make([]phase0.BLSPubKey, len(keys))
	for i, k := range keys {
		blsKeys[i] = phase0.BLSPubKey(k)
	}
	vals, err := g.p.cl.ValidatorsByPubkey(ctx, fmt.Sprint(t.ConsensusEndBlock), blsKeys)
	if err != nil {
		return nil, fmt.Errorf("read protocol validators at slot %d: %w", t.ConsensusEndBlock, err)
	}
	wanted := make(map[rewards.Pubkey]bool, len(keys))
	for _, k := range keys {
		wanted[k] = true
	}
	snap.Validators = make([]rewards.BeaconValidator, 0, len(vals))
	for idx, v := range vals {
		pk := rewards.Pubkey(v.Validator.PublicKey)
		if !wanted[pk] {
			return nil, fmt.Errorf("beacon node returned validator %d (%s) that was not asked for", idx, pk)
		}
		snap.Validators = append(snap.Validators, rewards.BeaconValidator{Pubkey: pk, Index: uint64(idx), Status: v.Status.String(),
			ActivationEpoch: uint64(v.Validator.ActivationEpoch), ExitEpoch: uint64(v.Validator.ExitEpoch), WithdrawableEpoch: uint64(v.Validator.WithdrawableEpoch)})
	}
	snap = snap.Canonical()
	if err := snap.Validate(); err != nil {
		return nil, fmt.Errorf("snapshot of interval %d: %w", t.Index, err)
	}
	return snap, nil
}

var (
	_ Beacon   = (*beacon.Service)(nil)
	_ ELReader = (*execution.Service)(nil)
)
