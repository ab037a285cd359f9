package sim

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// lockstep runs the members in step with the simulated chain, so that what a
// run computes never depends on wall-clock timing (which block includes a vote
// decides which coinbase — possibly the Smoothing Pool — receives its tip).
//
// Each slot the stepper asks every idle member for one duty tick and produces
// the next block only when every member is idle again or parked in Wait
// (its transaction broadcast). After the block, parked members check their
// receipts before anything else happens.
type lockstep struct {
	mu     sync.Mutex
	cond   *sync.Cond
	busy   int    // members running a tick, not parked
	parked int    // members parked in Wait
	blocks uint64 // blocks produced since the start
	stop   bool
}

func newLockstep() *lockstep {
	l := &lockstep{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// dispatch marks n members busy before they are asked to tick.
func (l *lockstep) dispatch(n int) {
	l.mu.Lock()
	l.busy += n
	l.mu.Unlock()
}

// done marks the end of a member's tick.
func (l *lockstep) done() {
	l.mu.Lock()
	l.busy--
	l.cond.Broadcast()
	l.mu.Unlock()
}

// settle blocks until no member is busy (or the run stops).
func (l *lockstep) settle() {
	l.mu.Lock()
	for l.busy > 0 && !l.stop {
		l.cond.Wait()
	}
	l.mu.Unlock()
}

// produced records a new block and wakes the parked members (busy again until
// they park or finish).
func (l *lockstep) produced() {
	l.mu.Lock()
	l.blocks++
	l.busy += l.parked
	l.parked = 0
	l.cond.Broadcast()
	l.mu.Unlock()
}

// park waits for the next block; false when the run stops.
func (l *lockstep) park() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := l.blocks
	l.busy--
	l.parked++
	l.cond.Broadcast()
	for l.blocks == seen && !l.stop {
		l.cond.Wait()
	}
	return !l.stop
}

// halt releases everyone (end of run).
func (l *lockstep) halt() {
	l.mu.Lock()
	l.stop = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

// receiptReader is what a parked member needs to see whether its transaction
// was mined.
type receiptReader interface {
	TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error)
}

// parkingSender waits for receipts block by block, in step with the chain.
type parkingSender struct {
	rewardsduty.Sender
	l  *lockstep
	el receiptReader
}

func (s parkingSender) Wait(ctx context.Context, p *txmgr.Pending) (*types.Receipt, error) {
	for {
		if !s.l.park() {
			return nil, context.Canceled
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, h := range p.Hashes() {
			if r, err := s.el.TransactionReceipt(ctx, h); err == nil && r != nil {
				// Mined: let the manager do its bookkeeping (it finds the receipt at once).
				return s.Sender.Wait(ctx, p)
			}
		}
	}
}
