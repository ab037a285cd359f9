// Package metrics holds the watchtower's Prometheus registry and metric set,
// the health checks behind /healthz, and the HTTP server that exposes both
// (127.0.0.1:9104 by default; non-loopback addresses only when allowed).
//
// Every recording method is safe on a nil *Metrics (a no-op), so services can
// take an optional *Metrics without checks. Metrics registered by other
// packages on Registerer() (chain/beacon per-endpoint requests, chain/scan
// epochs scanned) are not duplicated here.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
)

const namespace = "watchtower"

// Metrics is the watchtower's metric set and health-check registry.
type Metrics struct {
	log zerolog.Logger
	reg *prometheus.Registry
	now func() time.Time

	scanLast, scanFinalized, scanLag prometheus.Gauge
	intervalIndex, intervalProgress  prometheus.Gauge
	rootInfo                         *prometheus.GaugeVec
	lastRootInterval                 prometheus.Gauge
	votesSent, votesConfirmed        prometheus.Counter
	lastVoteInterval                 prometheus.Gauge
	consensus                        prometheus.Counter
	consensusInterval                prometheus.Gauge
	executions                       prometheus.Counter
	txPending                        *prometheus.GaugeVec
	txSent, txReplaced, txFailed     *prometheus.CounterVec
	txMined                          *prometheus.CounterVec
	elRequests                       *prometheus.CounterVec
	elDuration                       *prometheus.HistogramVec
	pinStatus                        *prometheus.GaugeVec
	pinArtefacts                     *prometheus.GaugeVec
	dutyRuns                         *prometheus.CounterVec
	dutyLastSuccess                  *prometheus.GaugeVec
	healthOK                         *prometheus.GaugeVec

	collectors []prometheus.Collector

	mu          sync.Mutex
	pinStates   map[string]string
	lastSuccess map[string]time.Time
	checks      map[string]Check
	checkTTL    time.Duration
}

type parameters struct {
	log      zerolog.Logger
	registry *prometheus.Registry
	version  string
	runtime  bool
	now      func() time.Time
}

// Parameter configures New.
type Parameter func(*parameters)

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return func(p *parameters) { p.log = l } }

// WithRegistry uses r instead of a fresh registry.
func WithRegistry(r *prometheus.Registry) Parameter { return func(p *parameters) { p.registry = r } }

// WithVersion sets the version label of watchtower_build_info (default "dev").
func WithVersion(v string) Parameter { return func(p *parameters) { p.version = v } }

// WithRuntimeCollectors adds the Go runtime and process collectors (default true).
func WithRuntimeCollectors(v bool) Parameter { return func(p *parameters) { p.runtime = v } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Parameter { return func(p *parameters) { p.now = now } }

// New creates the metric set on a registry.
func New(_ context.Context, params ...Parameter) (*Metrics, error) {
	p := &parameters{log: zerolog.Nop(), version: "dev", runtime: true, now: time.Now}
	for _, f := range params {
		if f != nil {
			f(p)
		}
	}
	if p.now == nil {
		return nil, errors.New("problem with parameters: nil clock")
	}
	reg := p.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		log:         p.log.With().Str("service", "metrics").Logger(),
		reg:         reg,
		now:         p.now,
		pinStates:   map[string]string{},
		lastSuccess: map[string]time.Time{},
		checks:      map[string]Check{},
	}
	g := func(sub, name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help})
	}
	c := func(sub, name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help})
	}
	gv := func(sub, name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
	}
	cv := func(sub, name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m.scanLast = g("scan", "last_epoch", "Last epoch scanned and stored (the store's watermark).")
	m.scanFinalized = g("scan", "finalized_epoch", "Latest finalized epoch seen on the beacon chain.")
	m.scanLag = g("scan", "lag_epochs", "Finalized epochs of the current interval not yet scanned.")
	m.intervalIndex = g("interval", "current", "Index of the rewards interval in progress.")
	m.intervalProgress = g("interval", "progress_ratio", "Share of the current interval's time elapsed (0..1).")
	m.rootInfo = gv("rewards", "root_info", "Merkle root of the last rewards tree generated (value 1; labels carry the data).", "interval", "root")
	m.lastRootInterval = g("rewards", "last_root_interval", "Interval of the last rewards tree generated.")
	m.votesSent = c("rewards", "votes_sent_total", "Rewards snapshot submissions sent.")
	m.votesConfirmed = c("rewards", "votes_confirmed_total", "Rewards snapshot submissions mined successfully.")
	m.lastVoteInterval = g("rewards", "last_vote_interval", "Interval of the last confirmed submission.")
	m.consensus = c("rewards", "consensus_reached_total", "Intervals for which the oDAO reached consensus.")
	m.consensusInterval = g("rewards", "consensus_interval", "Last interval for which consensus was reached.")
	m.executions = c("rewards", "snapshot_executions_total", "executeRewardSnapshot calls made by this member.")
	m.txPending = gv("tx", "pending", "Transactions sent and not yet mined, by duty.", "duty")
	m.txSent = cv("tx", "sent_total", "Transactions sent (first broadcast), by duty.", "duty")
	m.txReplaced = cv("tx", "replaced_total", "Replacement transactions sent with a fee bump, by duty.", "duty")
	m.txFailed = cv("tx", "failed_total", "Transactions given up (timeout, dropped, send error), by duty.", "duty")
	m.txMined = cv("tx", "mined_total", "Transactions mined, by duty and receipt status (success, reverted).", "duty", "status")
	m.elRequests = cv("execution", "requests_total", "Execution-client requests by endpoint, method and result (ok, error).", "endpoint", "method", "result")
	m.elDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "execution", Name: "request_duration_seconds",
		Help:    "Execution-client request latency by endpoint and method.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint", "method"})
	m.pinStatus = gv("pin", "status", "Pinning state per artefact (1 for its current state, 0 otherwise).", "artefact", "state")
	m.pinArtefacts = gv("pin", "artefacts", "Artefacts per pinning state.", "state")
	m.dutyRuns = cv("duty", "runs_total", "Duty cycles run, by duty and result (ok, error).", "duty", "result")
	m.dutyLastSuccess = gv("duty", "last_success_timestamp_seconds", "Unix time of the last successful cycle, by duty.", "duty")
	m.healthOK = gv("health", "check_ok", "Result of each health check at the last /healthz evaluation (1 ok, 0 failing).", "check")
	build := gv("", "build_info", "Build information (value 1).", "version")
	build.WithLabelValues(p.version).Set(1)

	cs := []prometheus.Collector{
		m.scanLast, m.scanFinalized, m.scanLag, m.intervalIndex, m.intervalProgress, m.rootInfo, m.lastRootInterval,
		m.votesSent, m.votesConfirmed, m.lastVoteInterval, m.consensus, m.consensusInterval, m.executions,
		m.txPending, m.txSent, m.txReplaced, m.txFailed, m.txMined, m.elRequests, m.elDuration,
		m.pinStatus, m.pinArtefacts, m.dutyRuns, m.dutyLastSuccess, m.healthOK, build,
	}
	if p.runtime {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.collectors = cs
	for _, s := range PinStates {
		m.pinArtefacts.WithLabelValues(s).Set(0)
	}
	return m, nil
}

// Registry returns the registry (also a prometheus.Gatherer).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Describe sends the descriptors of every metric this package registered
// (not those other packages added through Registerer); deploy's tests use it
// to check the dashboard against the metric set.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	if m == nil {
		return
	}
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Registerer returns where other packages register their own metrics
// (beacon.WithRegisterer, scan.WithRegisterer). Nil on a nil *Metrics, which
// those packages take as "no metrics".
func (m *Metrics) Registerer() prometheus.Registerer {
	if m == nil {
		return nil
	}
	return m.reg
}

// ScanProgress records the last scanned (stored) epoch, the latest finalized
// epoch and how many finalized epochs of the interval remain to be scanned.
func (m *Metrics) ScanProgress(lastScanned, finalized, lag uint64) {
	if m == nil {
		return
	}
	m.scanLast.Set(float64(lastScanned))
	m.scanFinalized.Set(float64(finalized))
	m.scanLag.Set(float64(lag))
}

// IntervalProgress records the interval in progress and the elapsed share of
// its time (clamped to 0..1).
func (m *Metrics) IntervalProgress(index uint64, ratio float64) {
	if m == nil {
		return
	}
	m.intervalIndex.Set(float64(index))
	m.intervalProgress.Set(min(max(ratio, 0), 1))
}

// LastRoot records the Merkle root (hex) generated for interval; only the
// latest root is kept as a series.
func (m *Metrics) LastRoot(interval uint64, root string) {
	if m == nil {
		return
	}
	m.rootInfo.Reset()
	m.rootInfo.WithLabelValues(strconv.FormatUint(interval, 10), root).Set(1)
	m.lastRootInterval.Set(float64(interval))
}

// IntervalGenerated records the root generated for interval (implements
// rewardsduty.Observer together with VoteSent, VoteConfirmed and
// ConsensusReached).
func (m *Metrics) IntervalGenerated(interval uint64, root common.Hash) {
	m.LastRoot(interval, root.Hex())
}

// VoteSent counts a submission sent for interval.
func (m *Metrics) VoteSent(uint64) {
	if m == nil {
		return
	}
	m.votesSent.Inc()
}

// VoteConfirmed counts a submission mined successfully for interval.
func (m *Metrics) VoteConfirmed(interval uint64) {
	if m == nil {
		return
	}
	m.votesConfirmed.Inc()
	m.lastVoteInterval.Set(float64(interval))
}

// ConsensusReached records that the oDAO reached consensus on interval.
func (m *Metrics) ConsensusReached(interval uint64) {
	if m == nil {
		return
	}
	m.consensus.Inc()
	m.consensusInterval.Set(float64(interval))
}

// SnapshotExecuted counts an executeRewardSnapshot call made by this member.
func (m *Metrics) SnapshotExecuted(uint64) {
	if m == nil {
		return
	}
	m.executions.Inc()
}

// TxPending sets the number of unmined transactions of duty.
func (m *Metrics) TxPending(duty string, n int) {
	if m == nil {
		return
	}
	m.txPending.WithLabelValues(duty).Set(float64(n))
}

// TxSent counts a first broadcast for duty.
func (m *Metrics) TxSent(duty string) {
	if m == nil {
		return
	}
	m.txSent.WithLabelValues(duty).Inc()
}

// TxReplaced counts a fee-bumped replacement for duty.
func (m *Metrics) TxReplaced(duty string) {
	if m == nil {
		return
	}
	m.txReplaced.WithLabelValues(duty).Inc()
}

// TxMined counts a mined transaction; success is the receipt status.
func (m *Metrics) TxMined(duty string, success bool) {
	if m == nil {
		return
	}
	s := "success"
	if !success {
		s = "reverted"
	}
	m.txMined.WithLabelValues(duty, s).Inc()
}

// TxFailed counts a transaction given up (timeout, dropped, send error).
func (m *Metrics) TxFailed(duty string) {
	if m == nil {
		return
	}
	m.txFailed.WithLabelValues(duty).Inc()
}

// ExecutionRequest records one execution-client request. endpoint should be
// EndpointLabel(url) so no credentials or API keys end up in labels.
func (m *Metrics) ExecutionRequest(endpoint, method string, d time.Duration, err error) {
	if m == nil {
		return
	}
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.elRequests.WithLabelValues(endpoint, method, res).Inc()
	m.elDuration.WithLabelValues(endpoint, method).Observe(d.Seconds())
}

// PinStates are the states watchtower/pin reports (pin.States as strings).
var PinStates = []string{"queued", "pinning", "retrying", "pinned", "mismatch", "failed"}

// PinState records an artefact's pinning state (implements pin.Observer).
func (m *Metrics) PinState(artefact, state string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.pinStates[artefact]; ok {
		if old == state {
			return
		}
		m.pinStatus.WithLabelValues(artefact, old).Set(0)
		m.pinArtefacts.WithLabelValues(old).Dec()
	}
	m.pinStates[artefact] = state
	m.pinStatus.WithLabelValues(artefact, state).Set(1)
	m.pinArtefacts.WithLabelValues(state).Inc()
}

// DutyRun records the end of one duty cycle; a nil err also marks the time
// of the last success (used by DutyCheck).
func (m *Metrics) DutyRun(duty string, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.dutyRuns.WithLabelValues(duty, "error").Inc()
		return
	}
	m.dutyRuns.WithLabelValues(duty, "ok").Inc()
	now := m.now()
	m.mu.Lock()
	m.lastSuccess[duty] = now
	m.mu.Unlock()
	m.dutyLastSuccess.WithLabelValues(duty).Set(float64(now.UnixNano()) / 1e9)
}

// LastSuccess returns the time of duty's last successful cycle.
func (m *Metrics) LastSuccess(duty string) (time.Time, bool) {
	if m == nil {
		return time.Time{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.lastSuccess[duty]
	return t, ok
}

// EndpointLabel reduces a URL to scheme://host[:port] for use as a label,
// dropping credentials, paths (often API keys) and queries.
func EndpointLabel(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Scheme + "://" + u.Host
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
