package megapool

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// DutyName is the tx manager duty (queue) the watcher sends under.
const DutyName = "megapool-challenge"

// Beacon is what the watcher reads from the consensus layer (chain/beacon.Service implements it).
type Beacon interface {
	Header(ctx context.Context, id string) (*apiv1.BeaconBlockHeader, error)
	ValidatorsByPubkey(ctx context.Context, stateID string, keys []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error)
}

// TxSender sends one transaction for a duty and waits for its receipt (*txmgr.Manager implements it).
type TxSender interface {
	Submit(ctx context.Context, duty string, req txmgr.Request) (*types.Receipt, *txmgr.Pending, error)
	Address() common.Address
}

// Round is the outcome of one watcher round.
type Round struct {
	// Slot is the beacon state the decision used; Epoch = Slot / slots per epoch.
	Slot  uint64
	Epoch uint64
	// Threshold is notify.threshold read from chain.
	Threshold uint64
	// Overdue is every validator selected for a challenge (global-index order).
	Overdue []Validator
	// Sent is the batch this member challenged (empty when nothing was sent).
	Sent Batch
	// TxHash of the challengeExit transaction (zero when nothing was sent).
	TxHash common.Hash
	// Skipped explains why nothing was sent although validators were overdue ("" otherwise).
	Skipped string
	// Locks are the outstanding locks after this round, in global-index order.
	Locks []Lock
	// Resolved are locks seen resolved during this round.
	Resolved []Lock
}

// Lock is a challenged validator being tracked until its lock is resolved.
type Lock struct {
	Validator Validator
	// FirstSeenEpoch is the decision epoch at which the watcher first saw the lock.
	FirstSeenEpoch uint64
	// WithdrawableEpoch from the beacon state (FarFutureEpoch when not exiting or unknown).
	WithdrawableEpoch uint64
	// Resolution: "" while locked; "exit" (notifyExit) or "not-exit" (notifyNotExit) once resolved.
	Resolution string
	// Stale is set once the lock is older than the configured age or past its withdrawable epoch.
	Stale bool
}

// Watcher is the overdue-exit duty of one oDAO member.
type Watcher struct {
	p       *parameters
	log     zerolog.Logger
	metrics *metrics

	mu    sync.Mutex
	locks map[uint64]*Lock // by global index; iterated only through sortedLocks
}

// New creates a watcher.
func New(ctx context.Context, params ...Parameter) (*Watcher, error) {
	p, err := parseParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("megapool watcher: %w", err)
	}
	w := &Watcher{p: p, log: p.logger.With().Str("service", "megapool").Logger(), locks: map[uint64]*Lock{}}
	w.metrics, err = newMetrics(p.registerer)
	if err != nil {
		return nil, fmt.Errorf("megapool watcher: metrics: %w", err)
	}
	return w, nil
}

// Name is the duty's name for a scheduler.
func (w *Watcher) Name() string { return DutyName }

// Run runs one round per call of the scheduler (once per epoch); it is RunRound without the result.
func (w *Watcher) Run(ctx context.Context) error {
	_, err := w.RunRound(ctx)
	return err
}

// RunRound decides at the beacon state of the configured state id ("head" by default), challenges this
// member's batch of overdue validators (unless report-only or this member was the last challenger) and
// updates lock tracking.
func (w *Watcher) RunRound(ctx context.Context) (*Round, error) {
	hdr, err := w.p.beacon.Header(ctx, w.p.stateID)
	if err != nil {
		return nil, fmt.Errorf("read beacon header %s: %w", w.p.stateID, err)
	}
	if hdr == nil || hdr.Header == nil || hdr.Header.Message == nil {
		return nil, fmt.Errorf("read beacon header %s: empty answer", w.p.stateID)
	}
	slot := uint64(hdr.Header.Message.Slot)
	return w.RoundAt(ctx, slot)
}

// RoundAt runs a round deciding at the beacon state of slot.
func (w *Watcher) RoundAt(ctx context.Context, slot uint64) (*Round, error) {
	r := &Round{Slot: slot, Epoch: slot / w.p.slotsPerEpoch}
	threshold, err := w.p.protocol.NotifyThreshold(ctx, nil)
	if err != nil {
		return nil, err
	}
	r.Threshold = threshold
	vals, err := w.p.protocol.Validators(ctx, nil)
	if err != nil {
		return nil, err
	}
	// Beacon status of every staked, not yet exited validator (locked ones too, for tracking).
	var keys []phase0.BLSPubKey
	for _, v := range vals {
		if v.Info.Staked && !v.Info.Exited {
			keys = append(keys, v.Pubkey)
		}
	}
	statuses := map[phase0.BLSPubKey]Status{}
	if len(keys) > 0 {
		got, err := w.p.beacon.ValidatorsByPubkey(ctx, strconv.FormatUint(slot, 10), keys)
		if err != nil {
			return nil, fmt.Errorf("read beacon status of %d megapool validators at slot %d: %w", len(keys), slot, err)
		}
		for idx, v := range got {
			if v == nil || v.Validator == nil {
				continue
			}
			statuses[v.Validator.PublicKey] = Status{Index: idx, ExitEpoch: uint64(v.Validator.ExitEpoch), WithdrawableEpoch: uint64(v.Validator.WithdrawableEpoch)}
		}
	}
	r.Overdue = Select(vals, statuses, r.Epoch, threshold)
	w.track(r, vals, statuses)
	w.metrics.overdue.Set(float64(len(r.Overdue)))
	w.metrics.epoch.Set(float64(r.Epoch))

	if len(r.Overdue) == 0 {
		return r, nil
	}
	for _, v := range r.Overdue {
		w.log.Warn().Uint64("global_index", v.GlobalIndex).Str("megapool", v.Megapool.Hex()).Uint32("validator_id", v.ID).
			Uint64("withdrawable_epoch", statuses[v.Pubkey].WithdrawableEpoch).Uint64("epoch", r.Epoch).
			Uint64("threshold", threshold).Msg("Megapool validator exit notification overdue")
	}
	batches := Batches(r.Overdue, w.p.batchSize)
	if w.p.reportOnly || w.p.sender == nil {
		r.Skipped = "report-only"
		w.log.Info().Int("overdue", len(r.Overdue)).Int("batches", len(batches)).Msg("Report-only: no challenge sent")
		return r, nil
	}
	me := w.p.sender.Address()
	last, err := w.p.protocol.LastChallenger(ctx, nil)
	if err != nil {
		return r, err
	}
	if last == me {
		r.Skipped = "last challenger"
		w.log.Info().Int("overdue", len(r.Overdue)).Msg("This member challenged last; another member must challenge next")
		return r, nil
	}
	members, err := w.p.protocol.Members(ctx, nil)
	if err != nil {
		return r, err
	}
	pos := -1
	for i, m := range members {
		if m == me {
			pos = i
			break
		}
	}
	if pos < 0 {
		r.Skipped = "not an oDAO member"
		w.log.Error().Str("address", me.Hex()).Msg("Sender is not an oDAO member; cannot challenge")
		return r, nil
	}
	b, _ := BatchFor(batches, pos, len(members))
	data, err := EncodeChallenge(b)
	if err != nil {
		return r, err
	}
	rcpt, pending, err := w.p.sender.Submit(ctx, DutyName, txmgr.Request{To: w.p.protocol.ManagerAddress(), Data: data})
	if pending != nil && pending.Latest() != nil {
		r.TxHash = pending.Latest().Hash()
	}
	if rcpt != nil {
		r.TxHash = rcpt.TxHash
	}
	if err != nil {
		w.metrics.txFailed.Inc()
		return r, fmt.Errorf("challenge %d megapool validators: %w", b.Size(), err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		w.metrics.txFailed.Inc()
		return r, fmt.Errorf("challenge %d megapool validators: transaction %s reverted", b.Size(), rcpt.TxHash.Hex())
	}
	r.Sent = b
	w.metrics.challenged.Add(float64(b.Size()))
	w.log.Info().Int("validators", b.Size()).Str("tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Msg("Challenged overdue megapool exits")
	return r, nil
}

// track updates the lock table from the validators read this round.
func (w *Watcher) track(r *Round, vals []Validator, statuses map[phase0.BLSPubKey]Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[uint64]bool{}
	for _, v := range vals {
		if !v.Info.Locked {
			continue
		}
		seen[v.GlobalIndex] = true
		wEpoch := FarFutureEpoch
		if st, ok := statuses[v.Pubkey]; ok {
			wEpoch = st.WithdrawableEpoch
		}
		l, ok := w.locks[v.GlobalIndex]
		if !ok {
			l = &Lock{Validator: v, FirstSeenEpoch: r.Epoch}
			w.locks[v.GlobalIndex] = l
			w.log.Info().Uint64("global_index", v.GlobalIndex).Str("megapool", v.Megapool.Hex()).Uint32("validator_id", v.ID).Msg("Tracking megapool validator lock")
		}
		l.Validator = v
		l.WithdrawableEpoch = wEpoch
		stale := (w.p.staleAfter > 0 && r.Epoch >= l.FirstSeenEpoch+w.p.staleAfter) || (wEpoch != FarFutureEpoch && r.Epoch >= wEpoch)
		if stale && !l.Stale {
			w.log.Error().Uint64("global_index", v.GlobalIndex).Str("megapool", v.Megapool.Hex()).Uint32("validator_id", v.ID).
				Uint64("first_seen_epoch", l.FirstSeenEpoch).Uint64("withdrawable_epoch", wEpoch).Uint64("epoch", r.Epoch).
				Msg("ALERT: megapool validator lock unresolved")
		}
		l.Stale = stale
	}
	byIndex := map[uint64]Validator{}
	for _, v := range vals {
		byIndex[v.GlobalIndex] = v
	}
	for _, idx := range w.sortedLockIndices() {
		if seen[idx] {
			continue
		}
		l := w.locks[idx]
		v, ok := byIndex[idx]
		l.Resolution = "not-exit"
		if ok && (v.Info.Exiting || v.Info.Exited) {
			l.Resolution = "exit"
		}
		if ok {
			l.Validator = v
		}
		r.Resolved = append(r.Resolved, *l)
		w.metrics.resolved.WithLabelValues(l.Resolution).Inc()
		w.log.Info().Uint64("global_index", idx).Str("resolution", l.Resolution).Uint64("epochs_locked", r.Epoch-min(r.Epoch, l.FirstSeenEpoch)).Msg("Megapool validator lock resolved")
		delete(w.locks, idx)
	}
	stale := 0
	for _, idx := range w.sortedLockIndices() {
		l := w.locks[idx]
		r.Locks = append(r.Locks, *l)
		if l.Stale {
			stale++
		}
	}
	w.metrics.locked.Set(float64(len(r.Locks)))
	w.metrics.stale.Set(float64(stale))
}

func (w *Watcher) sortedLockIndices() []uint64 {
	out := make([]uint64, 0, len(w.locks))
	for idx := range w.locks {
		out = append(out, idx)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Locks returns the outstanding locks in global-index order.
func (w *Watcher) Locks() []Lock {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Lock, 0, len(w.locks))
	for _, idx := range w.sortedLockIndices() {
		out = append(out, *w.locks[idx])
	}
	return out
}
