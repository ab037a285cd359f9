package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Check is one health check; nil means healthy. It must honour ctx.
type Check func(ctx context.Context) error

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Duration string `json:"duration"`
}

// Report is the answer of /healthz.
type Report struct {
	OK     bool          `json:"ok"`
	Time   time.Time     `json:"time"`
	Checks []CheckResult `json:"checks"`
}

// AddCheck registers (or replaces) a named health check.
func (m *Metrics) AddCheck(name string, c Check) error {
	if m == nil {
		return errors.New("add check: no metrics")
	}
	if name == "" || c == nil {
		return errors.New("add check: name and check are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks[name] = c
	return nil
}

// Health runs every check concurrently, each bounded by timeout, and returns
// the results sorted by name. With no checks registered the report is OK.
func (m *Metrics) Health(ctx context.Context, timeout time.Duration) Report {
	if m == nil {
		return Report{OK: true, Time: time.Now()}
	}
	m.mu.Lock()
	names := sortedKeys(m.checks)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = m.checks[n]
	}
	m.mu.Unlock()
	res := make([]CheckResult, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			err := runCheck(cctx, checks[i])
			res[i] = CheckResult{Name: names[i], OK: err == nil, Duration: time.Since(start).Round(time.Microsecond).String()}
			if err != nil {
				res[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	r := Report{OK: true, Time: m.now().UTC(), Checks: res}
	for _, c := range res {
		v := 1.0
		if !c.OK {
			v, r.OK = 0, false
		}
		m.healthOK.WithLabelValues(c.Name).Set(v)
	}
	return r
}

// runCheck runs c, returning when it does or when ctx ends (a check that
// ignores its context cannot hang /healthz), and turns a panic into an error.
func runCheck(ctx context.Context, c Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("check timed out: %w", ctx.Err())
	}
}

// DutyCheck fails when duty has not completed a cycle successfully within
// maxAge; before the first success it is measured from the check's creation.
func (m *Metrics) DutyCheck(duty string, maxAge time.Duration) Check {
	if m == nil {
		return func(context.Context) error { return errors.New("duty check without metrics") }
	}
	created := m.now()
	return func(context.Context) error {
		last, ok := m.LastSuccess(duty)
		if !ok {
			last = created
		}
		if age := m.now().Sub(last); age > maxAge {
			if !ok {
				return fmt.Errorf("duty %s has not completed a cycle in %s", duty, age.Round(time.Second))
			}
			return fmt.Errorf("duty %s last completed %s ago (limit %s)", duty, age.Round(time.Second), maxAge)
		}
		return nil
	}
}
