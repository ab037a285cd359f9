package defection

import (
	"context"
	"fmt"
)

// Follower is the per-epoch duty: it examines every slot once, in order, and (when a Voter is set) votes on
// each defection. Wire it into the scheduler with Advance(ctx, finalizedSlot) once per epoch; its position is
// in memory only — after a restart start it at the first slot to re-check; votes stay idempotent.
type Follower struct {
	det   *Detector
	voter *Voter
	next  uint64
	// proposals and legalMEV count the protocol proposals examined so far.
	proposals, legalMEV uint64
}

// Counts returns how many protocol proposals were examined so far, and how
// many of them were legal only through the builder's last-transaction payment.
func (f *Follower) Counts() (proposals, legalMEV uint64) { return f.proposals, f.legalMEV }

// NewFollower starts examining at slot start; voter may be nil (report only, the default).
func NewFollower(det *Detector, voter *Voter, start uint64) (*Follower, error) {
	if det == nil {
		return nil, fmt.Errorf("defection follower: no detector")
	}
	return &Follower{det: det, voter: voter, next: start}, nil
}

// Next is the first slot not yet examined.
func (f *Follower) Next() uint64 { return f.next }

// Advance examines slots up to and including to, votes on defections (if enabled) and returns the defections
// found. On an error it stops at the failing slot, which the next call examines again.
func (f *Follower) Advance(ctx context.Context, to uint64) ([]Record, error) {
	var out []Record
	for ; f.next <= to; f.next++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		rec, err := f.det.Examine(ctx, f.next)
		if err != nil {
			return out, err
		}
		if rec == nil {
			continue
		}
		f.proposals++
		if rec.Verdict == LegalMEV {
			f.legalMEV++
		}
		if rec.Verdict != Defection {
			continue
		}
		if f.voter != nil {
			if _, err := f.voter.Vote(ctx, *rec); err != nil {
				return out, err
			}
		}
		out = append(out, *rec)
	}
	return out, nil
}
