package megapool

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	overdue, locked, stale, epoch prometheus.Gauge
	challenged, txFailed          prometheus.Counter
	resolved                      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		overdue:    prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "overdue_validators", Help: "Megapool validators whose exit notification is overdue and not locked, at the last round."}),
		locked:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "locked_validators", Help: "Megapool validator locks outstanding."}),
		stale:      prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "stale_locks", Help: "Locks unresolved past the configured age or past their withdrawable epoch."}),
		epoch:      prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "last_round_epoch", Help: "Decision epoch of the last round."}),
		challenged: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "challenged_validators_total", Help: "Validator ids challenged by this member."}),
		txFailed:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "challenge_failures_total", Help: "challengeExit transactions that failed or reverted."}),
		resolved:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "watchtower", Subsystem: "megapool", Name: "locks_resolved_total", Help: "Locks resolved, by resolution (exit, not-exit)."}, []string{"resolution"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.overdue, m.locked, m.stale, m.epoch, m.challenged, m.txFailed, m.resolved} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, err
		}
	}
	return m, nil
}
