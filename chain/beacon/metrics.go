package beacon

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	failover *prometheus.CounterVec
}

func register[T prometheus.Collector](r prometheus.Registerer, c T) (T, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{}
	var err error
	if m.requests, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "watchtower", Subsystem: "beacon", Name: "requests_total",
		Help: "Beacon API requests by endpoint, operation and result (ok, not_found, error, mismatch).",
	}, []string{"endpoint", "operation", "result"})); err != nil {
		return nil, err
	}
	if m.duration, err = register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "watchtower", Subsystem: "beacon", Name: "request_duration_seconds",
		Help:    "Beacon API request latency by endpoint and operation.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint", "operation"})); err != nil {
		return nil, err
	}
	if m.failover, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "watchtower", Subsystem: "beacon", Name: "retries_total",
		Help: "Calls retried after a failed attempt, by the endpoint that failed and operation.",
	}, []string{"endpoint", "operation"})); err != nil {
		return nil, err
	}
	return m, nil
}
