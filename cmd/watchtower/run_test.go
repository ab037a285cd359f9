package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/config"
	"github.com/odaowatch/watchtower/watchtower/sim"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestRunDaemonVotes runs `watchtower run`'s daemon (config from a YAML file and the environment) as one oDAO
// member against the simulated network: it generates interval 0, votes, serves /healthz and /metrics on
// loopback, and stops cleanly on cancellation. The password never reaches the logs.
func TestRunDaemonVotes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := scenario.Parse(sim.DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const password = "run-test-password-4c1a"
	r, err := scenario.Start(ctx, scenario.RunConfig{Scenario: s, KeystoreDir: filepath.Join(dir, "keys"), KeystorePassword: password,
		Beacon: simbeacon.Scenario{Seed: 11, ValidatorCount: 256, Fork: "electra"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.HeadSlot() < 240 {
		if err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "watchtower.yaml")
	yml := "network: devnet\ndata-dir: " + filepath.Join(dir, "data") + "\nexecution: {url: \"" + r.EL.URL() + "\"}\n" +
		"beacon: {urls: [\"" + r.Server.URL() + "\"]}\ncontracts: {rocket-storage: \"" + r.Net.Deployment.StorageAddress.Hex() +
		"\", multicall3: \"" + r.Net.Deployment.Multicall.Hex() + "\"}\nwallet: {keystore: \"" + r.Keystores[0] + "\", password-file: \"" + pw + "\"}\n" +
		"tx: {poll-interval: 20ms}\nmetrics: {listen: \"127.0.0.1:0\"}\n"
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"WATCHTOWER_CONFIG": cfgFile, "WATCHTOWER_TICK_PERIOD": "100ms"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runDaemon(runCtx, cfg, log) }()

	// The chain moves on while the daemon works (slowly: the EL keeps 128 blocks of state).
	stepCtx, stopStep := context.WithCancel(ctx)
	stepped := make(chan struct{})
	go func() {
		defer close(stepped)
		for stepCtx.Err() == nil {
			time.Sleep(150 * time.Millisecond)
			_ = r.Step(stepCtx)
		}
	}()
	defer func() { stopStep(); <-stepped }()

	addrRe := regexp.MustCompile(`"address":"(127\.0\.0\.1:\d+)","message":"serving /metrics and /healthz"`)
	var addr string
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(logs.String(), "vote confirmed on chain") {
		select {
		case err := <-done:
			t.Fatalf("daemon stopped early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !strings.Contains(logs.String(), "vote confirmed on chain") {
		t.Fatalf("no vote confirmed; logs:\n%s", tailLines(logs.String(), 40))
	}
	if m := addrRe.FindStringSubmatch(logs.String()); m != nil {
		addr = m[1]
	} else {
		t.Fatal("metrics address not logged")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Checks []struct{ Name string } `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil || len(health.Checks) == 0 {
		t.Fatalf("healthz: %v %+v", err, health)
	}
	_ = resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "watchtower_rewards_votes_confirmed_total 1") {
		t.Fatalf("metrics do not count the confirmed vote:\n%s", grepLines(string(body), "watchtower_rewards"))
	}
	// The epoch duties ran next to the rewards duty, without a failed round:
	// the megapool watcher (no overdue validator in this scenario) and the
	// defection follower (honest proposals).
	for _, duty := range []string{megapoolDutyName, defectionDutyName} {
		ok := `watchtower_duty_runs_total{duty="` + duty + `",result="ok"}`
		bad := `watchtower_duty_runs_total{duty="` + duty + `",result="error"}`
		if !strings.Contains(string(body), ok) || strings.Contains(string(body), bad) {
			t.Fatalf("duty %s: want ok rounds and no error:\n%s\nlogs:\n%s", duty, grepLines(string(body), "duty_runs"), grepLines(logs.String(), "duty round failed"))
		}
	}
	// The defection follower merges what it examined into the interval's
	// rp-defections file next to the rewards files.
	var reports []string
	for wait := time.Now().Add(20 * time.Second); time.Now().Before(wait) && len(reports) == 0; time.Sleep(100 * time.Millisecond) {
		reports, _ = filepath.Glob(filepath.Join(dir, "data", "rewards", "*", "rp-defections-1337-*.json"))
	}
	if len(reports) == 0 {
		t.Fatalf("no defection report written; logs:\n%s", grepLines(logs.String(), "defection"))
	}
	raw, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		StartSlot, EndSlot uint64
		Defections         []json.RawMessage
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.EndSlot < rep.StartSlot || rep.Defections == nil {
		t.Fatalf("defection report %s: %v %+v", reports[0], err, rep)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon stop: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if strings.Contains(logs.String(), password) {
		t.Fatal("password in the logs")
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
