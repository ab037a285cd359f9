package metrics

import (
	"context"

	"encoding/json"
	"errors"
	"github.com/ethereum/go-ethereum/common"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Copies of the observer interfaces of watchtower/rewardsduty and
// watchtower/txmgr and pin.Observer: *Metrics must satisfy them.
var (
	_ interface {
		IntervalGenerated(index uint64, root common.Hash)
		VoteSent(index uint64)
		VoteConfirmed(index uint64)
		ConsensusReached(index uint64)
	} = (*Metrics)(nil)
	_ interface {
		TxSent(duty string)
		TxReplaced(duty string)
		TxMined(duty string, success bool)
	} = (*Metrics)(nil)
	_ interface{ PinState(artefact, state string) } = (*Metrics)(nil)
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMetrics(t *testing.T, params ...Parameter) *Metrics {
	t.Helper()
	m, err := New(context.Background(), append([]Parameter{WithRuntimeCollectors(false)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRecording(t *testing.T) {
	m := newMetrics(t, WithVersion("v1.2.3"))
	m.ScanProgress(100, 107, 7)
	m.IntervalProgress(52, 1.7) // clamped
	m.LastRoot(51, "0xaaaa")
	m.IntervalGenerated(52, common.HexToHash("0xbb"))
	m.VoteSent(52)
	m.VoteConfirmed(52)
	m.ConsensusReached(52)
	m.SnapshotExecuted(52)
	m.TxSent("rewards")
	m.TxReplaced("rewards")
	m.TxReplaced("rewards")
	m.TxPending("rewards", 1)
	m.TxMined("rewards", true)
	m.TxMined("megapool", false)
	m.TxFailed("megapool")

	for _, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.scanLast, 100}, {m.scanFinalized, 107}, {m.scanLag, 7},
		{m.intervalIndex, 52}, {m.intervalProgress, 1}, {m.lastRootInterval, 52},
		{m.votesSent, 1}, {m.votesConfirmed, 1}, {m.lastVoteInterval, 52},
		{m.consensus, 1}, {m.consensusInterval, 52}, {m.executions, 1},
		{m.txReplaced.WithLabelValues("rewards"), 2}, {m.txPending.WithLabelValues("rewards"), 1},
		{m.txMined.WithLabelValues("rewards", "success"), 1}, {m.txMined.WithLabelValues("megapool", "reverted"), 1},
		{m.txFailed.WithLabelValues("megapool"), 1},
	} {
		if got := value(t, c.c); got != c.want {
			t.Errorf("%v = %v, want %v", c.c, got, c.want)
		}
	}
	// Only the latest root is a series.
	if got := series(t, m.Registry(), "watchtower_rewards_root_info"); len(got) != 1 || got[0]["interval"] != "52" || got[0]["root"] != "0x00000000000000000000000000000000000000000000000000000000000000bb" {
		t.Fatalf("root series %v", got)
	}
	if got := series(t, m.Registry(), "watchtower_build_info"); len(got) != 1 || got[0]["version"] != "v1.2.3" {
		t.Fatalf("build info series: %v", got)
	}
}

func TestPinStateCounts(t *testing.T) {
	m := newMetrics(t)
	for _, s := range []string{"queued", "pinning", "retrying", "pinning", "pinned"} {
		m.PinState("a.ssz", s)
	}
	m.PinState("b.json", "queued")
	m.PinState("b.json", "pinning")
	m.PinState("b.json", "mismatch")
	m.PinState("c.json", "queued")
	want := map[string]float64{"queued": 1, "pinning": 0, "retrying": 0, "pinned": 1, "mismatch": 1, "failed": 0}
	for s, v := range want {
		if got := value(t, m.pinArtefacts.WithLabelValues(s)); got != v {
			t.Errorf("artefacts in %s = %v, want %v", s, got, v)
		}
	}
	if got := value(t, m.pinStatus.WithLabelValues("a.ssz", "pinned")); got != 1 {
		t.Errorf("a.ssz pinned = %v", got)
	}
	if got := value(t, m.pinStatus.WithLabelValues("a.ssz", "pinning")); got != 0 {
		t.Errorf("a.ssz pinning = %v", got)
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.ScanProgress(1, 2, 3)
	m.PinState("a", "queued")
	m.DutyRun("x", nil)
	m.ExecutionRequest("e", "m", time.Second, nil)
	if m.Registerer() != nil || m.Registry() != nil {
		t.Fatal("nil metrics returned a registerer")
	}
	if rt := m.RoundTripper("http://x", nil); rt != http.DefaultTransport {
		t.Fatal("nil metrics wrapped the transport")
	}
	if r := m.Health(context.Background(), time.Second); !r.OK {
		t.Fatal("nil metrics unhealthy")
	}
}

func TestRoundTripperRecordsMethods(t *testing.T) {
	m := newMetrics(t)
	var bodies []string
	var mu sync.Mutex
	el := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if strings.Contains(string(b), "eth_fail") {
			http.Error(w, "boom", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":"0x10"}`)
	}))
	defer el.Close()
	url := strings.Replace(el.URL, "http://", "http://user:secret@", 1) + "/v3/APIKEY"
	c := &http.Client{Transport: m.RoundTripper(url, nil)}
	post := func(body string) int {
		resp, err := c.Post(el.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	post(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	post(`{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}`)
	post(` [{"jsonrpc":"2.0","id":1,"method":"eth_call"}]`)
	if code := post(`{"jsonrpc":"2.0","id":3,"method":"eth_fail"}`); code != http.StatusBadGateway {
		t.Fatalf("status %d", code)
	}
	// The server saw the whole body unchanged.
	if !strings.Contains(bodies[0], `"method":"eth_blockNumber"`) || !strings.HasSuffix(bodies[0], `"params":[]}`) {
		t.Fatalf("body forwarded as %q", bodies[0])
	}
	ep := strings.TrimPrefix(el.URL, "http://")
	for _, c := range []struct {
		method, result string
		want           float64
	}{{"eth_blockNumber", "ok", 2}, {"batch", "ok", 1}, {"eth_fail", "error", 1}} {
		if got := value(t, m.elRequests.WithLabelValues("http://"+ep, c.method, c.result)); got != c.want {
			t.Errorf("%s/%s = %v, want %v", c.method, c.result, got, c.want)
		}
	}
	// No credentials or API key in any label.
	out, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if strings.Contains(string(b), "secret") || strings.Contains(string(b), "APIKEY") {
		t.Fatal("credentials leaked into labels")
	}
}

func TestEndpointLabel(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8545":                  "http://127.0.0.1:8545",
		"https://u:p@mainnet.example/v3/key?x=1": "https://mainnet.example",
		"ws://[::1]:8546/":                       "ws://[::1]:8546",
		"not a url":                              "invalid",
	} {
		if got := EndpointLabel(in); got != want {
			t.Errorf("EndpointLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHealthAndDutyCheck(t *testing.T) {
	ck := &clock{t: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	m := newMetrics(t, WithClock(ck.now))
	if err := m.AddCheck("rewards duty", m.DutyCheck("rewards", 10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.AddCheck("el reachable", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if r := m.Health(context.Background(), time.Second); !r.OK || len(r.Checks) != 2 || r.Checks[0].Name != "el reachable" {
		t.Fatalf("fresh: %+v", r)
	}
	ck.add(11 * time.Minute) // no success yet, 11 min > 10 min
	r := m.Health(context.Background(), time.Second)
	if r.OK || !strings.Contains(r.Checks[1].Error, "has not completed") {
		t.Fatalf("stale: %+v", r)
	}
	if got := value(t, m.healthOK.WithLabelValues("rewards duty")); got != 0 {
		t.Fatalf("check_ok = %v", got)
	}
	m.DutyRun("rewards", nil)
	if r := m.Health(context.Background(), time.Second); !r.OK {
		t.Fatalf("after success: %+v", r)
	}
	m.DutyRun("rewards", errors.New("x")) // failures do not refresh the time
	ck.add(10*time.Minute + time.Second)
	if r := m.Health(context.Background(), time.Second); r.OK || !strings.Contains(r.Checks[1].Error, "last completed 10m1s ago") {
		t.Fatalf("stale after success: %+v", r)
	}
	if got := value(t, m.dutyRuns.WithLabelValues("rewards", "error")); got != 1 {
		t.Fatalf("error runs = %v", got)
	}
}

func TestHealthBoundsHangingAndPanickingChecks(t *testing.T) {
	m := newMetrics(t)
	block := make(chan struct{})
	defer close(block)
	_ = m.AddCheck("hangs", func(context.Context) error { <-block; return nil }) // ignores ctx
	_ = m.AddCheck("panics", func(context.Context) error { panic("boom") })
	start := time.Now()
	r := m.Health(context.Background(), 100*time.Millisecond)
	if time.Since(start) > 2*time.Second {
		t.Fatal("health hung")
	}
	if r.OK || !strings.Contains(r.Checks[0].Error, "timed out") || !strings.Contains(r.Checks[1].Error, "panicked") {
		t.Fatalf("%+v", r)
	}
	if m.AddCheck("", nil) == nil {
		t.Fatal("empty check accepted")
	}
}

func TestRegistererSharedWithOtherPackages(t *testing.T) {
	m := newMetrics(t)
	// Another package registering a clashing name fails instead of silently duplicating.
	err := m.Registerer().Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: "watchtower_scan_lag_epochs", Help: "x"}))
	if err == nil {
		t.Fatal("duplicate registration accepted")
	}
}
