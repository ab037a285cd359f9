// Package kubotest runs a real kubo (IPFS) daemon for integration tests:
// built from source at a pinned version by deploy/kubo/build.sh (never a
// prebuilt download), started offline with a fresh repo and the RPC API and
// gateway on loopback ports, stopped by its PID.
package kubotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary returns the path of a kubo binary: $ODAOWATCH_KUBO when set, else
// the one deploy/kubo/build.sh builds (once, into the cache directory; the
// first build takes a few minutes). The repository is found from the
// working directory upwards.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv("ODAOWATCH_KUBO"); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy", "kubo", "build.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build kubo: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "deploy", "kubo", "build.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository: deploy/kubo/build.sh not found above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Daemon is a running kubo daemon.
type Daemon struct {
	URL        string // RPC API, http://127.0.0.1:<port>
	GatewayURL string // http://127.0.0.1:<port>
	Repo       string // IPFS_PATH
	PID        int
	exited     chan struct{}
	log        *os.File
}

// Start initialises a repo in repoDir (an empty directory) with the "test"
// profile, puts the API on apiPort (0: a free one) and the gateway on a free
// port, disables swarm listeners and runs "ipfs daemon --offline"; it returns
// once the API answers (at most one minute).
func Start(ctx context.Context, bin, repoDir string, apiPort int) (*Daemon, error) {
	var err error
	if apiPort == 0 {
		if apiPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	gw, err := FreePort()
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "IPFS_PATH="+repoDir)
	for _, args := range [][]string{
		{"init", "--profile", "test"},
		{"config", "Addresses.API", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", apiPort)},
		{"config", "Addresses.Gateway", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", gw)},
		{"config", "--json", "Addresses.Swarm", "[]"},
	} {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		cmd := exec.CommandContext(cctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("ipfs %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	logf, err := os.Create(filepath.Join(repoDir, "daemon.log"))
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	cmd := exec.Command(bin, "daemon", "--offline")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start kubo: %w", err)
	}
	d := &Daemon{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		GatewayURL: fmt.Sprintf("http://127.0.0.1:%d", gw),
		Repo:       repoDir,
		PID:        cmd.Process.Pid,
		exited:     make(chan struct{}),
		log:        logf,
	}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Post(d.URL+"/api/v0/version", "", nil)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("kubo did not come up within a minute: %v\n%s", err, d.Log())
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("kubo exited during start\n%s", d.Log())
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Log returns the daemon's output so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Repo, "daemon.log"))
	return string(b)
}

// Stop sends SIGTERM to the daemon's PID, then SIGKILL after 15 s, and waits.
func (d *Daemon) Stop() {
	select {
	case <-d.exited:
	default:
		_ = syscall.Kill(d.PID, syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(d.PID, syscall.SIGKILL)
			<-d.exited
		}
	}
	_ = d.log.Close()
}

// StartT builds (if needed) and starts a daemon for t, stopped at cleanup.
// apiPort 0 picks a free port.
func StartT(t testing.TB, apiPort int) *Daemon {
	t.Helper()
	bin, err := Binary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(context.Background(), bin, t.TempDir(), apiPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}
