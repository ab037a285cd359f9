package pin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/odaowatch/watchtower/tree"
	"github.com/rs/zerolog"
)

// State is where an artefact is in the pinning queue.
type State string

// States of an artefact. Pinned, Mismatch and Failed are final.
const (
	StateQueued   State = "queued"   // accepted, waiting for a worker
	StatePinning  State = "pinning"  // an attempt is running
	StateRetrying State = "retrying" // the last attempt failed; waiting for the next
	StatePinned   State = "pinned"   // pinned and kubo's CID equals the local CID
	StateMismatch State = "mismatch" // pinned, but kubo's CID differs from the local CID
	StateFailed   State = "failed"   // attempts or deadline exhausted, or the queue stopped
)

// States lists every state (for metrics: one series per state).
var States = []State{StateQueued, StatePinning, StateRetrying, StatePinned, StateMismatch, StateFailed}

// Final reports whether no further attempt will be made.
func (s State) Final() bool { return s == StatePinned || s == StateMismatch || s == StateFailed }

// Status is the pinning state of one artefact.
type Status struct {
	Name      string    `json:"name"`
	Bytes     int       `json:"bytes"`
	LocalCID  string    `json:"localCid"`            // tree.CID(name, data)
	RemoteCID string    `json:"remoteCid,omitempty"` // what the Pinner returned
	State     State     `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	Submitted time.Time `json:"submitted"`
	Updated   time.Time `json:"updated"`
}

// Observer is told about every state change (e.g. watchtower/metrics).
type Observer interface {
	PinState(artefact string, state string)
}

// ErrQueueFull is returned by Submit when the queue holds its capacity of
// unfinished artefacts; the caller's work is never blocked by pinning.
var ErrQueueFull = errors.New("pin queue full")

// ErrStopped is returned by Submit after the queue's context ended.
var ErrStopped = errors.New("pin queue stopped")

type item struct {
	status Status
	data   []byte
	done   chan struct{}
}

// Queue pins artefacts asynchronously through a Pinner.
type Queue struct {
	log      zerolog.Logger
	p        *queueParameters
	jobs     chan *item
	mu       sync.Mutex
	items    map[string]*item
	stopped  bool
	finished chan struct{}
}

type queueParameters struct {
	log            zerolog.Logger
	pinner         Pinner
	attempts       int
	backoffMin     time.Duration
	backoffMax     time.Duration
	attemptTimeout time.Duration
	deadline       time.Duration
	capacity       int
	workers        int
	observer       Observer
	now            func() time.Time
}

// QueueParameter configures NewQueue.
type QueueParameter func(*queueParameters)

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) QueueParameter { return func(p *queueParameters) { p.log = l } }

// WithPinner sets the Pinner (required), normally a *Kubo.
func WithPinner(pp Pinner) QueueParameter { return func(p *queueParameters) { p.pinner = pp } }

// WithAttempts sets the tries per artefact (default 8).
func WithAttempts(n int) QueueParameter { return func(p *queueParameters) { p.attempts = n } }

// WithBackoff sets the first and the largest pause between tries (default 2 s, 2 min).
func WithBackoff(minimum, maximum time.Duration) QueueParameter {
	return func(p *queueParameters) { p.backoffMin, p.backoffMax = minimum, maximum }
}

// WithAttemptTimeout bounds one try (default 2 min).
func WithAttemptTimeout(d time.Duration) QueueParameter {
	return func(p *queueParameters) { p.attemptTimeout = d }
}

// WithDeadline bounds all tries of one artefact, counted from its first
// attempt (default 30 min).
func WithDeadline(d time.Duration) QueueParameter {
	return func(p *queueParameters) { p.deadline = d }
}

// WithCapacity sets how many unfinished artefacts may wait (default 64).
func WithCapacity(n int) QueueParameter { return func(p *queueParameters) { p.capacity = n } }

// WithWorkers sets how many artefacts are pinned at once (default 2).
func WithWorkers(n int) QueueParameter { return func(p *queueParameters) { p.workers = n } }

// WithObserver reports state changes to o (nil: none).
func WithObserver(o Observer) QueueParameter { return func(p *queueParameters) { p.observer = o } }

// NewQueue starts the queue's workers; they stop when ctx ends, and every
// artefact not finished by then is marked failed ("queue stopped").
func NewQueue(ctx context.Context, params ...QueueParameter) (*Queue, error) {
	p := &queueParameters{
		log:            zerolog.Nop(),
		attempts:       8,
		backoffMin:     2 * time.Second,
		backoffMax:     2 * time.Minute,
		attemptTimeout: 2 * time.Minute,
		deadline:       30 * time.Minute,
		capacity:       64,
		workers:        2,
		now:            time.Now,
	}
	for _, f := range params {
		if f != nil {
			f(p)
		}
	}
	switch {
	case p.pinner == nil:
		return nil, errors.New("problem with parameters: no pinner specified")
	case p.attempts < 1 || p.attempts > 1000:
		return nil, errors.New("problem with parameters: attempts must be within 1..1000")
	case p.backoffMin <= 0 || p.backoffMax < p.backoffMin:
		return nil, errors.New("problem with parameters: backoff needs 0 < min <= max")
	case p.attemptTimeout <= 0 || p.deadline <= 0:
		return nil, errors.New("problem with parameters: attempt timeout and deadline must be positive")
	case p.capacity < 1 || p.capacity > 1<<16:
		return nil, errors.New("problem with parameters: capacity must be within 1..65536")
	case p.workers < 1 || p.workers > 64:
		return nil, errors.New("problem with parameters: workers must be within 1..64")
	}
	q := &Queue{
		log:      p.log.With().Str("service", "pin").Logger(),
		p:        p,
		jobs:     make(chan *item, p.capacity),
		items:    map[string]*item{},
		finished: make(chan struct{}),
	}
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(ctx)
		}()
	}
	go func() {
		wg.Wait()
		q.shutdown()
		close(q.finished)
	}()
	return q, nil
}

// Submit queues data for pinning under name and returns at once with the
// artefact's status (LocalCID filled). Submitting the same name and content
// again while it is queued, in progress or pinned returns the existing
// status; new content under a known name (or a retry of a failed or
// mismatched artefact) starts over.
func (q *Queue) Submit(name string, data []byte) (Status, error) {
	if err := checkName(name); err != nil {
		return Status{}, err
	}
	c, err := tree.CID(name, data)
	if err != nil {
		return Status{}, fmt.Errorf("local CID of %s: %w", name, err)
	}
	local := c.String()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return Status{}, ErrStopped
	}
	if old, ok := q.items[name]; ok && old.status.LocalCID == local &&
		old.status.State != StateFailed && old.status.State != StateMismatch {
		return old.status, nil
	}
	now := q.p.now()
	it := &item{
		status: Status{Name: name, Bytes: len(data), LocalCID: local, State: StateQueued, Submitted: now, Updated: now},
		data:   append([]byte(nil), data...),
		done:   make(chan struct{}),
	}
	select {
	case q.jobs <- it:
	default:
		return Status{}, fmt.Errorf("submit %s: %w (%d waiting)", name, ErrQueueFull, q.p.capacity)
	}
	if old, ok := q.items[name]; ok && !old.status.State.Final() {
		// The superseded item is still in the channel or running: it
		// finishes on its own but its result no longer counts.
		q.log.Warn().Str("artefact", name).Msg("Artefact resubmitted with new content while the old one was pending")
	}
	q.items[name] = it
	q.observe(name, StateQueued)
	q.log.Debug().Str("artefact", name).Str("local_cid", local).Int("bytes", len(data)).Msg("Queued for pinning")
	return it.status, nil
}

// Status returns the artefact's current status.
func (q *Queue) Status(name string) (Status, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[name]
	if !ok {
		return Status{}, false
	}
	return it.status, true
}

// Statuses returns every artefact's status, sorted by name.
func (q *Queue) Statuses() []Status {
	q.mu.Lock()
	out := make([]Status, 0, len(q.items))
	for _, it := range q.items {
		out = append(out, it.status)
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Wait blocks until the artefact reaches a final state or ctx ends.
func (q *Queue) Wait(ctx context.Context, name string) (Status, error) {
	q.mu.Lock()
	it, ok := q.items[name]
	q.mu.Unlock()
	if !ok {
		return Status{}, fmt.Errorf("wait for %s: not submitted", name)
	}
	select {
	case <-it.done:
	case <-ctx.Done():
		return q.current(it), fmt.Errorf("wait for %s: %w", name, ctx.Err())
	}
	return q.current(it), nil
}

// Done is closed once the workers have stopped (after the context ended).
func (q *Queue) Done() <-chan struct{} { return q.finished }

func (q *Queue) current(it *item) Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	return it.status
}

// update changes an item's status under the lock and notifies the observer
// when the item is still the current one for its name.
func (q *Queue) update(it *item, f func(*Status)) {
	q.mu.Lock()
	f(&it.status)
	it.status.Updated = q.p.now()
	st := it.status
	live := q.items[st.Name] == it
	if st.State.Final() {
		it.data = nil
	}
	q.mu.Unlock()
	if live {
		q.observe(st.Name, st.State)
	}
	if st.State.Final() {
		close(it.done) // after the observer, so waiters see its effect
	}
}

func (q *Queue) observe(name string, s State) {
	if q.p.observer != nil {
		q.p.observer.PinState(name, string(s))
	}
}

func (q *Queue) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-q.jobs:
			q.pin(ctx, it)
		}
	}
}

// pin runs the attempts for one artefact.
func (q *Queue) pin(ctx context.Context, it *item) {
	name, local := it.status.Name, it.status.LocalCID
	log := q.log.With().Str("artefact", name).Str("local_cid", local).Logger()
	deadline := q.p.now().Add(q.p.deadline)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	backoff := q.p.backoffMin
	for attempt := 1; ; attempt++ {
		q.update(it, func(s *Status) { s.State, s.Attempts = StatePinning, attempt })
		actx, acancel := context.WithTimeout(dctx, q.p.attemptTimeout)
		remote, err := q.p.pinner.Pin(actx, name, it.data)
		acancel()
		if err == nil {
			if remote == local {
				q.update(it, func(s *Status) { s.State, s.RemoteCID, s.LastError = StatePinned, remote, "" })
				log.Info().Str("cid", remote).Int("attempts", attempt).Msg("Pinned")
			} else {
				msg := fmt.Sprintf("IPFS node returned CID %s, local CID is %s", remote, local)
				q.update(it, func(s *Status) { s.State, s.RemoteCID, s.LastError = StateMismatch, remote, msg })
				log.Error().Str("remote_cid", remote).Msg("Pinned CID differs from the locally computed CID")
			}
			return
		}
		msg := err.Error()
		switch {
		case ctx.Err() != nil:
			q.update(it, func(s *Status) { s.State, s.LastError = StateFailed, "queue stopped: "+msg })
			return
		case attempt >= q.p.attempts:
			q.update(it, func(s *Status) { s.State, s.LastError = StateFailed, msg })
			log.Error().Err(err).Int("attempts", attempt).Msg("Pinning failed; attempts exhausted")
			return
		case dctx.Err() != nil || q.p.now().Add(backoff).After(deadline):
			q.update(it, func(s *Status) { s.State, s.LastError = StateFailed, "deadline exceeded: "+msg })
			log.Error().Err(err).Int("attempts", attempt).Msg("Pinning failed; deadline exceeded")
			return
		}
		q.update(it, func(s *Status) { s.State, s.LastError = StateRetrying, msg })
		log.Warn().Err(err).Int("attempt", attempt).Dur("backoff", backoff).Msg("Pinning attempt failed; will retry")
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-dctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				q.update(it, func(s *Status) { s.State = StateFailed; s.LastError = "queue stopped: " + msg })
			} else {
				q.update(it, func(s *Status) { s.State = StateFailed; s.LastError = "deadline exceeded: " + msg })
			}
			return
		}
		backoff = min(2*backoff, q.p.backoffMax)
	}
}

// shutdown marks everything not finished as failed once the workers stopped.
func (q *Queue) shutdown() {
	q.mu.Lock()
	q.stopped = true
	var pending []*item
	for {
		select {
		case it := <-q.jobs:
			pending = append(pending, it)
			continue
		default:
		}
		break
	}
	q.mu.Unlock()
	for _, it := range pending {
		q.update(it, func(s *Status) { s.State, s.LastError = StateFailed, "queue stopped before the first attempt" })
	}
}
