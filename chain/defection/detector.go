package defection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Record is one classified proposal that did not pay its expected recipient directly.
type Record struct {
	Slot        uint64         `json:"slot"`
	BlockNumber uint64         `json:"blockNumber"`
	BlockHash   common.Hash    `json:"blockHash"`
	Validator   uint64         `json:"validatorIndex"`
	Pubkey      string         `json:"pubkey"`
	Kind        Kind           `json:"kind"`
	Node        common.Address `json:"node"`
	Minipool    common.Address `json:"minipool,omitempty"`
	Megapool    common.Address `json:"megapool,omitempty"`
	OptedIn     bool           `json:"optedIn"`
	Expected    common.Address `json:"expected"`
	Actual      common.Address `json:"actual"`
	// Payment is the payload's last transaction (the evidence examined), nil for an empty payload.
	Payment *Payment `json:"payment"`
	Verdict Verdict  `json:"verdict"`
}

// Report is the content of rp-defections-<network>-<index>.json.
type Report struct {
	Network   string `json:"network"`
	Index     uint64 `json:"index"`
	StartSlot uint64 `json:"startSlot"`
	EndSlot   uint64 `json:"endSlot"`
	// Proposals counts the protocol proposals examined; LegalMEV those legal only through the builder payment.
	Proposals  uint64   `json:"protocolProposals"`
	LegalMEV   uint64   `json:"legalMevProposals"`
	Defections []Record `json:"defections"`
}

// MergeReport adds r to the report already in dir for the same network and
// index (if any): counts add up, the slot range widens, defections are kept
// once per (slot, validator) and sorted by slot. A malformed existing file is
// an error, never overwritten.
func MergeReport(dir string, r *Report) (string, error) {
	out := *r
	out.Defections = append([]Record(nil), r.Defections...)
	path := filepath.Join(dir, FileName(r.Network, r.Index))
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		var old Report
		if err := json.Unmarshal(raw, &old); err != nil {
			return "", fmt.Errorf("merge defection report: %s is malformed: %w", path, err)
		}
		if old.StartSlot < out.StartSlot {
			out.StartSlot = old.StartSlot
		}
		if old.EndSlot > out.EndSlot {
			out.EndSlot = old.EndSlot
		}
		out.Proposals += old.Proposals
		out.LegalMEV += old.LegalMEV
		out.Defections = append(old.Defections, out.Defections...)
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("merge defection report: %w", err)
	}
	sort.SliceStable(out.Defections, func(i, j int) bool {
		a, b := out.Defections[i], out.Defections[j]
		return a.Slot < b.Slot || a.Slot == b.Slot && a.Validator < b.Validator
	})
	kept := out.Defections[:0]
	for i, d := range out.Defections {
		if i > 0 && d.Slot == kept[len(kept)-1].Slot && d.Validator == kept[len(kept)-1].Validator {
			continue
		}
		kept = append(kept, d)
	}
	out.Defections = kept
	if out.Defections == nil {
		out.Defections = []Record{}
	}
	return WriteReport(dir, &out)
}

// FileName is rp-defections-<network>-<index>.json.
func FileName(network string, index uint64) string {
	return fmt.Sprintf("rp-defections-%s-%d.json", network, index)
}

// Detector classifies the proposals of a slot range.
type Detector struct {
	state  State
	blocks BlockSource
	timing Timing
	log    zerolog.Logger
	m      *detMetrics
}

type detMetrics struct {
	proposals, mev prometheus.Counter
	defections     *prometheus.CounterVec
}

// Parameter configures a Detector.
type Parameter func(*Detector) error

// WithState sets the protocol state (required).
func WithState(s State) Parameter { return func(d *Detector) error { d.state = s; return nil } }

// WithBlocks sets the block source (required).
func WithBlocks(b BlockSource) Parameter { return func(d *Detector) error { d.blocks = b; return nil } }

// WithTiming sets the beacon clock (required).
func WithTiming(t Timing) Parameter { return func(d *Detector) error { d.timing = t; return nil } }

// WithLogger sets the parent logger (child service=defection).
func WithLogger(l zerolog.Logger) Parameter { return func(d *Detector) error { d.log = l; return nil } }

// WithRegisterer registers the detector's metrics.
func WithRegisterer(r prometheus.Registerer) Parameter {
	return func(d *Detector) error {
		for _, c := range []prometheus.Collector{d.m.proposals, d.m.mev, d.m.defections} {
			if err := r.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return fmt.Errorf("register metrics: %w", err)
				}
			}
		}
		return nil
	}
}

// New creates a detector.
func New(_ context.Context, params ...Parameter) (*Detector, error) {
	d := &Detector{log: zerolog.Nop(), m: &detMetrics{
		proposals:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "defection", Name: "protocol_proposals_total", Help: "Protocol proposals examined."}),
		mev:        prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "defection", Name: "legal_mev_proposals_total", Help: "Proposals legal through the builder's last-transaction payment."}),
		defections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "defection", Name: "defections_total", Help: "Proposals that paid no legal recipient, by validator kind."}, []string{"kind"}),
	}}
	for _, p := range params {
		if p == nil {
			continue
		}
		if err := p(d); err != nil {
			return nil, fmt.Errorf("defection detector: %w", err)
		}
	}
	if d.state == nil {
		return nil, errors.New("defection detector: no protocol state")
	}
	if d.blocks == nil {
		return nil, errors.New("defection detector: no block source")
	}
	if d.timing.SlotsPerEpoch == 0 || d.timing.SecondsPerSlot == 0 {
		return nil, errors.New("defection detector: timing (slots per epoch, seconds per slot) required")
	}
	d.log = d.log.With().Str("service", "defection").Logger()
	return d, nil
}

// Examine classifies the proposal at slot. It returns nil for an empty slot or a proposer outside the protocol;
// otherwise a Record whose Verdict says what was found (Payment is filled only when the fee recipient was not
// legal and the full block was read).
func (d *Detector) Examine(ctx context.Context, slot uint64) (*Record, error) {
	p, err := d.blocks.Proposal(ctx, slot)
	if err != nil || p == nil {
		return nil, err
	}
	v, err := d.state.Validator(ctx, p.ProposerIndex)
	if err != nil {
		return nil, fmt.Errorf("look up proposer %d of slot %d: %w", p.ProposerIndex, slot, err)
	}
	if v == nil {
		return nil, nil
	}
	ns, err := d.state.NodeState(ctx, v.Node, p.BlockNumber)
	if err != nil {
		return nil, fmt.Errorf("node state for slot %d: %w", slot, err)
	}
	addrs, err := d.state.Addresses(ctx)
	if err != nil {
		return nil, fmt.Errorf("protocol addresses: %w", err)
	}
	e := Expect(*v, ns, slot, d.timing, addrs)
	rec := &Record{
		Slot: slot, BlockNumber: p.BlockNumber, BlockHash: p.BlockHash, Validator: uint64(v.Index),
		Pubkey: fmt.Sprintf("%#x", v.Pubkey[:]), Kind: v.Kind, Node: v.Node, Minipool: v.Minipool, Megapool: v.Megapool,
		OptedIn: e.OptedIn, Expected: e.Expected, Actual: p.FeeRecipient,
	}
	d.m.proposals.Inc()
	if e.IsLegal(p.FeeRecipient) {
		rec.Verdict = Legal
		return rec, nil
	}
	last, err := d.blocks.LastPayment(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("last transaction of slot %d: %w", slot, err)
	}
	rec.Payment = last
	rec.Verdict = Classify(e, p.FeeRecipient, last)
	switch rec.Verdict {
	case LegalMEV:
		d.m.mev.Inc()
	case Defection:
		d.m.defections.WithLabelValues(string(v.Kind)).Inc()
		d.log.Warn().Uint64("slot", slot).Uint64("validator", rec.Validator).Str("node", v.Node.Hex()).
			Str("expected", e.Expected.Hex()).Str("actual", p.FeeRecipient.Hex()).Msg("Fee recipient defection")
	}
	return rec, nil
}

// Scan examines slots start..end (inclusive) in order and returns the report.
func (d *Detector) Scan(ctx context.Context, network string, index, start, end uint64) (*Report, error) {
	if end < start {
		return nil, fmt.Errorf("scan defections: end slot %d before start slot %d", end, start)
	}
	r := &Report{Network: network, Index: index, StartSlot: start, EndSlot: end, Defections: []Record{}}
	for slot := start; slot <= end; slot++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := d.Examine(ctx, slot)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue
		}
		r.Proposals++
		switch rec.Verdict {
		case LegalMEV:
			r.LegalMEV++
		case Defection:
			r.Defections = append(r.Defections, *rec)
		}
	}
	return r, nil
}

// WriteReport writes the report as dir/rp-defections-<network>-<index>.json (temp file + rename).
func WriteReport(dir string, r *Report) (string, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode defection report: %w", err)
	}
	path := filepath.Join(dir, FileName(r.Network, r.Index))
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return "", fmt.Errorf("write defection report: %w", err)
	}
	return path, nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
