package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServerRefusesNonLoopback(t *testing.T) {
	m := newMetrics(t)
	for _, a := range []string{"0.0.0.0:9104", ":9104", "192.0.2.1:9104", "[::]:9104", "example.com:9104", "127.0.0.1"} {
		if _, err := NewServer(context.Background(), WithMetrics(m), WithListenAddress(a)); err == nil {
			t.Errorf("address %q accepted", a)
		}
	}
	if err := checkListenAddress("0.0.0.0:9104", true); err != nil {
		t.Errorf("explicitly allowed address refused: %v", err)
	}
	for _, a := range []string{"127.0.0.1:9104", "[::1]:9104", "localhost:9104", "127.0.0.2:1"} {
		if err := checkListenAddress(a, false); err != nil {
			t.Errorf("loopback %q refused: %v", a, err)
		}
	}
	if _, err := NewServer(context.Background()); err == nil {
		t.Error("server without metrics accepted")
	}
}

func TestServerServesMetricsAndHealth(t *testing.T) {
	m := newMetrics(t)
	m.ScanProgress(10, 12, 2)
	healthy := true
	_ = m.AddCheck("bn synced", func(context.Context) error {
		if !healthy {
			return errors.New("beacon node syncing")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewServer(ctx, WithMetrics(m), WithListenAddress("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, "watchtower_scan_lag_epochs 2") || !strings.Contains(body, "watchtower_build_info") {
		t.Fatalf("/metrics %d:\n%s", code, body)
	}
	code, body = get("/healthz")
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 || !rep.OK {
		t.Fatalf("/healthz %d %s (%v)", code, body, err)
	}
	healthy = false
	code, body = get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "beacon node syncing") {
		t.Fatalf("/healthz unhealthy: %d %s", code, body)
	}
	cancel()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
}
