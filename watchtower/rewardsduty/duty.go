// Package rewardsduty is the watchtower's rewards duty: at each tick it generates the running interval once it
// is due (chain/interval, resuming the per-epoch scan store in the data directory), writes the files, checks
// oDAO membership live, votes exactly once with the Saturn RewardSubmission, tracks consensus and calls
// executeRewardSnapshot when a submission reached the threshold but nobody executed it.
//
// Exactly-once: the duty's bbolt state records every signed vote before it is broadcast. On restart a recorded
// vote is looked up (receipt of any saved version, or the on-chain per-member flag) and rebroadcast if needed;
// before any new vote the on-chain flag getTrustedNodeSubmitted(self, index) and the current index are read.
package rewardsduty

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/tree"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// Generator generates an interval (chain/interval.Generator).
type Generator interface {
	Generate(ctx context.Context, index int64) (*interval.Output, error)
}

// Sender sends transactions (watchtower/txmgr.Manager).
type Sender interface {
	Address() common.Address
	DryRun() bool
	Send(ctx context.Context, duty string, req txmgr.Request) (*txmgr.Pending, error)
	Wait(ctx context.Context, p *txmgr.Pending) (*types.Receipt, error)
	Resume(ctx context.Context, duty string, txs []*types.Transaction, req txmgr.Request) (*txmgr.Pending, error)
}

// AheadScanner is implemented by generators that scan the running interval's finalized epochs ahead of its end
// (chain/interval.Generator): at the end only the last epochs, the snapshot, the tree and the vote remain.
type AheadScanner interface {
	ScanAhead(ctx context.Context, minNew uint64) (*interval.Ahead, error)
}

// ScanObserver receives the scan-ahead progress (metrics): the last stored block epoch, the finalized epoch,
// and the finalized epochs of the interval not yet scanned.
type ScanObserver interface {
	ScanProgress(lastScanned, finalized, lag uint64)
}

// Observer receives duty events (metrics).
type Observer interface {
	IntervalGenerated(index uint64, root common.Hash)
	VoteSent(index uint64)
	VoteConfirmed(index uint64)
	ConsensusReached(index uint64)
}

// DutyName is the duty's name in the transaction manager and logs.
const DutyName = "rewards"

type parameters struct {
	log          zerolog.Logger
	gen          Generator
	protocol     Protocol
	sender       Sender
	state        *State
	outDir       string
	network      string
	self         common.Address
	genOnly      bool
	catchUp      bool
	voteGasFloor uint64
	observers    []Observer
	hooks        Hooks
	aheadEvery   uint64
}

// Hooks are test points (kill -9 tests crash the process at them).
type Hooks struct {
	AfterGenerate func(index uint64)
	AfterSigned   func(index uint64)
	// AfterSent runs once the first version of a vote was broadcast, before waiting for its receipt.
	AfterSent      func(index uint64)
	AfterVoteMined func(index uint64)
	// AfterFiles receives the files written for an interval (pinning; must not block).
	AfterFiles func(index uint64, files []string)
}

// Parameter configures the duty.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }
func WithGenerator(g Generator) Parameter   { return parameterFunc(func(p *parameters) { p.gen = g }) }
func WithProtocol(c Protocol) Parameter     { return parameterFunc(func(p *parameters) { p.protocol = c }) }
func WithSender(s Sender) Parameter         { return parameterFunc(func(p *parameters) { p.sender = s }) }
func WithState(s *State) Parameter          { return parameterFunc(func(p *parameters) { p.state = s }) }
func WithOutputDir(d string) Parameter      { return parameterFunc(func(p *parameters) { p.outDir = d }) }
func WithNetwork(n string) Parameter        { return parameterFunc(func(p *parameters) { p.network = n }) }
func WithObserver(o Observer) Parameter {
	return parameterFunc(func(p *parameters) { p.observers = append(p.observers, o) })
}
func WithHooks(h Hooks) Parameter { return parameterFunc(func(p *parameters) { p.hooks = h }) }

// WithGenerateOnly never votes or executes (non-members building their own trees).
func WithGenerateOnly(b bool) Parameter { return parameterFunc(func(p *parameters) { p.genOnly = b }) }

// WithCatchUp also generates the previous interval (from its RewardSnapshot event) when it was executed before
// this member generated it, so every interval gets local files and a root to compare with the canonical one.
func WithCatchUp(b bool) Parameter { return parameterFunc(func(p *parameters) { p.catchUp = b }) }

// WithVoteGasFloor sets the minimum gas limit of a vote (default 3 000 000: enough for the vote that also
// executes the snapshot; only gas used is paid).
func WithVoteGasFloor(g uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.voteGasFloor = g })
}

// WithScanAhead scans the running interval's finalized epochs ahead of its end whenever at least every new
// epochs were finalized (0, the default, turns it off). The generator must implement AheadScanner.
func WithScanAhead(every uint64) Parameter {
	return parameterFunc(func(p *parameters) { p.aheadEvery = every })
}

// WithMember sets the member address checked for membership and votes (default: the sender's address).
func WithMember(a common.Address) Parameter { return parameterFunc(func(p *parameters) { p.self = a }) }

// Duty is the rewards duty.
type Duty struct {
	p            *parameters
	log          zerolog.Logger
	triedCatchUp map[uint64]bool
}

// New creates the duty.
func New(ctx context.Context, params ...Parameter) (*Duty, error) {
	p := &parameters{log: zerolog.Nop(), network: "devnet", voteGasFloor: 3_000_000}
	for _, prm := range params {
		if prm != nil {
			prm.apply(p)
		}
	}
	switch {
	case p.gen == nil:
		return nil, errors.New("rewards duty: no generator specified")
	case p.protocol == nil:
		return nil, errors.New("rewards duty: no protocol contracts specified")
	case p.state == nil:
		return nil, errors.New("rewards duty: no state specified")
	case p.outDir == "":
		return nil, errors.New("rewards duty: no output directory specified")
	case p.sender == nil && !p.genOnly:
		return nil, errors.New("rewards duty: no transaction sender specified (or use generate-only)")
	}
	if _, ok := p.gen.(AheadScanner); p.aheadEvery > 0 && !ok {
		return nil, errors.New("rewards duty: scan-ahead asked for but the generator cannot scan ahead")
	}
	if p.self == (common.Address{}) && p.sender != nil {
		p.self = p.sender.Address()
	}
	_ = ctx
	return &Duty{p: p, log: p.log.With().Str("duty", DutyName).Logger(), triedCatchUp: map[uint64]bool{}}, nil
}

// Result of one tick, for callers that print or test progress.
type Result struct {
	Index uint64
	Phase Phase
	Root  common.Hash
	// Waiting is set when the interval is not due or not finalized yet.
	Waiting bool
}

// Tick runs the duty once against the current chain. It is safe to call again after any error or crash.
func (d *Duty) Tick(ctx context.Context) (*Result, error) {
	idx, err := d.p.protocol.RewardIndex(ctx)
	if err != nil {
		return nil, err
	}
	log := d.log.With().Uint64("index", idx).Logger()
	if err := d.closeOld(ctx, idx); err != nil {
		return nil, err
	}
	rec, err := d.p.state.Get(idx)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		out, err := d.p.gen.Generate(ctx, int64(idx))
		if errors.Is(err, interval.ErrNotDue) || errors.Is(err, interval.ErrNotFinalized) {
			log.Debug().Err(err).Msg("interval not ready")
			d.scanAhead(ctx, log)
			return &Result{Index: idx, Waiting: true}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("generate interval %d: %w", idx, err)
		}
		if rec, err = d.record(log, idx, out, PhaseGenerated); err != nil {
			return nil, err
		}
	}
	res := &Result{Index: idx, Root: rec.Submission.MerkleRoot}
	if rec.Phase == PhaseGenerated || rec.Phase == PhaseGenerateOnly {
		member := false
		if !d.p.genOnly {
			if member, err = d.p.protocol.MemberIsValid(ctx, d.p.self); err != nil {
				return nil, err
			}
		}
		if !member {
			if rec.Phase != PhaseGenerateOnly {
				rec.Phase = PhaseGenerateOnly
				if err := d.p.state.Put(rec); err != nil {
					return nil, err
				}
				log.Info().Msg("not an oDAO member (or generate-only): files only, no vote")
			}
			res.Phase = rec.Phase
			return res, nil
		}
		if err := d.vote(ctx, log, rec); err != nil {
			return nil, err
		}
	}
	if rec.Phase == PhaseVoted {
		if err := d.consensus(ctx, log, rec); err != nil {
			return nil, err
		}
	}
	res.Phase = rec.Phase
	return res, nil
}

// scanAhead stores the finalized epochs of the running interval. It never fails the tick: a failed attempt is
// logged and retried at the next tick, and the final generation scans whatever is missing.
func (d *Duty) scanAhead(ctx context.Context, log zerolog.Logger) {
	as, ok := d.p.gen.(AheadScanner)
	if d.p.aheadEvery == 0 || !ok {
		return
	}
	a, err := as.ScanAhead(ctx, d.p.aheadEvery)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn().Err(err).Msg("scan ahead failed; retrying at the next tick")
		}
		return
	}
	if a.Skipped {
		return
	}
	if a.Scan != nil {
		log.Info().Uint64("finalized_epoch", a.Finalized).Uint64("first_epoch", a.FirstEpoch).Uint64("last_epoch", a.LastEpoch).
			Int("validators", a.Validators).Int("scanned", a.Scan.Scanned).Int("rescanned", a.Scan.Rescanned).Int("kept", a.Scan.Kept).
			Msg("scanned ahead")
	}
	for _, o := range d.p.observers {
		if so, ok := o.(ScanObserver); ok {
			so.ScanProgress(a.LastEpoch, a.Finalized, 0)
		}
	}
}

// record writes the files of a generated interval and persists its record.
func (d *Duty) record(log zerolog.Logger, idx uint64, out *interval.Output, phase Phase) (*Record, error) {
	sub := interval.SubmissionOf(&out.Timing, out.Result, out.Files)
	dir := filepath.Join(d.p.outDir, strconv.FormatUint(idx, 10))
	files, err := out.Write(dir, d.p.network)
	if err != nil {
		return nil, fmt.Errorf("write files of interval %d: %w", idx, err)
	}
	zst, err := zstdCopies(files)
	if err != nil {
		return nil, err
	}
	files = append(files, zst...)
	rec := &Record{Index: idx, Phase: phase, Submission: sub, Files: files}
	if err := d.p.state.Put(rec); err != nil {
		return nil, err
	}
	ev := log.Info().Str("root", sub.MerkleRoot.Hex()).Str("dir", dir)
	if out.Canonical != nil {
		ev = ev.Bool("matches_canonical", out.Matches()).Strs("differences", out.Differences)
	}
	ev.Msg("interval generated and files written")
	for _, o := range d.p.observers {
		o.IntervalGenerated(idx, sub.MerkleRoot)
	}
	if d.p.hooks.AfterFiles != nil {
		d.p.hooks.AfterFiles(idx, files)
	}
	if d.p.hooks.AfterGenerate != nil {
		d.p.hooks.AfterGenerate(idx)
	}
	return rec, nil
}

// zstdCopies writes <file>.zst next to the rewards JSON, rewards SSZ and performance file, as oDAO nodes
// publish them (watchtower-duties.md §3.3). Written atomically.
func zstdCopies(files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		base := filepath.Base(f)
		if !(strings.HasPrefix(base, "rp-rewards-") && (strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".ssz")) && !strings.Contains(base, "-event-")) &&
			!(strings.HasPrefix(base, "rp-performance-") && strings.HasSuffix(base, ".json")) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s for its zstd copy: %w", base, err)
		}
		z, err := tree.Compress(data)
		if err != nil {
			return nil, fmt.Errorf("compress %s: %w", base, err)
		}
		if err := tree.WriteFileAtomic(f+".zst", z, 0o644); err != nil {
			return nil, fmt.Errorf("write %s.zst: %w", base, err)
		}
		out = append(out, f+".zst")
	}
	return out, nil
}

// closeOld marks records of intervals before cur as executed (the index moved on), and with catch-up generates
// the previous interval if this member never did.
func (d *Duty) closeOld(ctx context.Context, cur uint64) error {
	all, err := d.p.state.All()
	if err != nil {
		return err
	}
	havePrev := false
	for _, r := range all {
		if r.Index+1 == cur {
			havePrev = true
		}
		if r.Index < cur && (r.Phase == PhaseGenerated || r.Phase == PhaseVoted) {
			r.Phase = PhaseExecuted
			if err := d.p.state.Put(r); err != nil {
				return err
			}
			d.log.Info().Uint64("index", r.Index).Msg("interval executed (index moved on)")
			for _, o := range d.p.observers {
				o.ConsensusReached(r.Index)
			}
		}
	}
	if d.p.catchUp && cur > 0 && !havePrev && !d.triedCatchUp[cur-1] {
		// One attempt per process and interval; a failure never holds up the current interval.
		d.triedCatchUp[cur-1] = true
		log := d.log.With().Uint64("index", cur-1).Logger()
		out, err := d.p.gen.Generate(ctx, int64(cur-1))
		if err != nil {
			log.Warn().Err(err).Msg("catch-up generation of the executed interval failed")
			return nil
		}
		if _, err := d.record(log, cur-1, out, PhaseExecuted); err != nil {
			return err
		}
	}
	return nil
}

// vote submits this member's vote once: a saved vote is resumed, the on-chain flag is checked first.
func (d *Duty) vote(ctx context.Context, log zerolog.Logger, rec *Record) error {
	voted, err := d.p.protocol.Submitted(ctx, d.p.self, rec.Index)
	if err != nil {
		return err
	}
	if voted {
		log.Info().Msg("vote found on chain")
		return d.markVoted(rec)
	}
	if d.p.sender.DryRun() {
		data, err := d.p.protocol.SubmitCalldata(rec.Submission)
		if err != nil {
			return err
		}
		_, err = d.p.sender.Send(ctx, DutyName, txmgr.Request{To: d.p.protocol.RewardsPool(), Data: data})
		if err != nil {
			return fmt.Errorf("build vote (dry run): %w", err)
		}
		return nil
	}
	req, err := d.voteRequest(rec)
	if err != nil {
		return err
	}
	var p *txmgr.Pending
	if len(rec.VoteTxs) > 0 {
		txs, err := decodeTxs(rec.VoteTxs)
		if err != nil {
			return err
		}
		log.Info().Int("versions", len(txs)).Uint64("nonce", txs[0].Nonce()).Msg("resuming a saved vote")
		if p, err = d.p.sender.Resume(ctx, DutyName, txs, req); err != nil {
			return err
		}
	} else {
		// Pre-send checks: the index is still current and this member has not voted (just read).
		cur, err := d.p.protocol.RewardIndex(ctx)
		if err != nil {
			return err
		}
		if cur != rec.Index {
			log.Info().Uint64("current", cur).Msg("index moved on before our vote: consensus reached without us")
			rec.Phase = PhaseExecuted
			return d.p.state.Put(rec)
		}
		if p, err = d.p.sender.Send(ctx, DutyName, req); err != nil {
			return fmt.Errorf("send vote for interval %d: %w", rec.Index, err)
		}
		for _, o := range d.p.observers {
			o.VoteSent(rec.Index)
		}
		if d.p.hooks.AfterSent != nil {
			d.p.hooks.AfterSent(rec.Index)
		}
	}
	r, err := d.p.sender.Wait(ctx, p)
	if errors.Is(err, txmgr.ErrNonceConsumed) {
		// None of our versions was mined; the on-chain flag decides on the next tick.
		log.Warn().Err(err).Msg("saved vote was never mined; checking the on-chain flag next tick")
		rec.VoteTxs = nil
		return d.p.state.Put(rec)
	}
	if err != nil && !errors.Is(err, txmgr.ErrReverted) {
		return fmt.Errorf("wait for vote of interval %d: %w", rec.Index, err)
	}
	if r != nil {
		rec.VoteHash = r.TxHash.Hex()
	}
	if d.p.hooks.AfterVoteMined != nil {
		d.p.hooks.AfterVoteMined(rec.Index)
	}
	voted, err = d.p.protocol.Submitted(ctx, d.p.self, rec.Index)
	if err != nil {
		return err
	}
	if !voted {
		cur, cerr := d.p.protocol.RewardIndex(ctx)
		if cerr == nil && cur > rec.Index {
			rec.Phase = PhaseExecuted
			return d.p.state.Put(rec)
		}
		rec.VoteTxs = nil
		_ = d.p.state.Put(rec)
		return fmt.Errorf("vote for interval %d mined but not recorded on chain (reverted: %v)", rec.Index, err)
	}
	for _, o := range d.p.observers {
		o.VoteConfirmed(rec.Index)
	}
	log.Info().Str("hash", rec.VoteHash).Str("root", rec.Submission.MerkleRoot.Hex()).Msg("vote confirmed on chain")
	return d.markVoted(rec)
}

func (d *Duty) voteRequest(rec *Record) (txmgr.Request, error) {
	data, err := d.p.protocol.SubmitCalldata(rec.Submission)
	if err != nil {
		return txmgr.Request{}, err
	}
	// The estimate is taken before the other members' votes land; the vote that completes consensus also
	// executes the snapshot (mint, transfers, relays), so the gas limit gets a floor for that path.
	return txmgr.Request{To: d.p.protocol.RewardsPool(), Data: data, MinGas: d.p.voteGasFloor, OnSigned: func(tx *types.Transaction) error {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode signed vote: %w", err)
		}
		if len(rec.VoteTxs) == 0 {
			rec.SentCount++
		}
		rec.VoteTxs = append(rec.VoteTxs, raw)
		if err := d.p.state.Put(rec); err != nil {
			return err
		}
		if d.p.hooks.AfterSigned != nil {
			d.p.hooks.AfterSigned(rec.Index)
		}
		return nil
	}}, nil
}

func (d *Duty) markVoted(rec *Record) error {
	rec.Phase = PhaseVoted
	return d.p.state.Put(rec)
}

// consensus checks whether the interval was executed and executes it when the threshold is met.
func (d *Duty) consensus(ctx context.Context, log zerolog.Logger, rec *Record) error {
	cur, err := d.p.protocol.RewardIndex(ctx)
	if err != nil {
		return err
	}
	if cur > rec.Index {
		rec.Phase = PhaseExecuted
		log.Info().Uint64("current", cur).Msg("interval executed (consensus reached)")
		for _, o := range d.p.observers {
			o.ConsensusReached(rec.Index)
		}
		return d.p.state.Put(rec)
	}
	count, err := d.p.protocol.SubmissionCount(ctx, rec.Submission)
	if err != nil {
		return err
	}
	members, err := d.p.protocol.MemberCount(ctx)
	if err != nil {
		return err
	}
	thr, err := d.p.protocol.ConsensusThreshold(ctx)
	if err != nil {
		return err
	}
	if !ThresholdMet(count, members, thr) {
		log.Debug().Uint64("votes", count).Uint64("members", members).Msg("waiting for consensus")
		return nil
	}
	log.Info().Uint64("votes", count).Uint64("members", members).Msg("threshold met but not executed: calling executeRewardSnapshot")
	data, err := d.p.protocol.ExecuteCalldata(rec.Submission)
	if err != nil {
		return err
	}
	req := txmgr.Request{To: d.p.protocol.RewardsPool(), Data: data, OnSigned: func(tx *types.Transaction) error {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return err
		}
		rec.ExecuteTxs = append(rec.ExecuteTxs, raw)
		return d.p.state.Put(rec)
	}}
	var p *txmgr.Pending
	if len(rec.ExecuteTxs) > 0 {
		txs, err := decodeTxs(rec.ExecuteTxs)
		if err != nil {
			return err
		}
		if p, err = d.p.sender.Resume(ctx, DutyName, txs, req); err != nil {
			return err
		}
	} else if p, err = d.p.sender.Send(ctx, DutyName, req); err != nil {
		// Someone else may have executed between our reads (the estimate reverts); re-check next tick.
		log.Warn().Err(err).Msg("execute not sent")
		return nil
	}
	if _, err := d.p.sender.Wait(ctx, p); err != nil {
		log.Warn().Err(err).Msg("execute transaction did not succeed")
		rec.ExecuteTxs = nil
		return d.p.state.Put(rec)
	}
	rec.ExecutedBySelf = true
	for _, o := range d.p.observers {
		if e, ok := o.(interface{ SnapshotExecuted(uint64) }); ok {
			e.SnapshotExecuted(rec.Index)
		}
	}
	log.Info().Msg("executeRewardSnapshot mined")
	return d.p.state.Put(rec)
}

// ThresholdMet is the contract's rule: 1e18 × count / members ≥ threshold (integer division, as on chain).
func ThresholdMet(count, members uint64, threshold *big.Int) bool {
	if members == 0 || threshold == nil {
		return false
	}
	v := new(big.Int).Mul(new(big.Int).SetUint64(count), big.NewInt(1e18))
	v.Div(v, new(big.Int).SetUint64(members))
	return v.Cmp(threshold) >= 0
}

// Loop runs Tick every period until ctx ends; errors are logged and retried next period (no hot loop).
// onTick, if set, sees every tick's outcome (metrics: DutyRun).
func (d *Duty) Loop(ctx context.Context, period time.Duration, onTick func(*Result, error)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		r, err := d.Tick(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Error().Err(err).Msg("rewards duty tick failed; retrying next period")
		}
		if onTick != nil {
			onTick(r, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
