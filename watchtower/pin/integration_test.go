//go:build integration

package pin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odaowatch/watchtower/internal/testutil"
	"github.com/odaowatch/watchtower/tree"
)

// kuboBinary returns a kubo v0.43.0 binary: $ODAOWATCH_KUBO when set, else the
// one deploy/kubo/build.sh builds from source into the cache directory (once).
func kuboBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ODAOWATCH_KUBO"); p != "" {
		return p
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "deploy", "kubo", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build kubo: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startKubo initialises a repo in a temp dir and runs "ipfs daemon --offline"
// with the API and gateway on loopback; the daemon is stopped by its PID.
func startKubo(t *testing.T, bin string) string {
	t.Helper()
	return startKuboOn(t, bin, freePort(t))
}

func startKuboOn(t *testing.T, bin string, api int) string {
	t.Helper()
	repo := t.TempDir()
	env := append(os.Environ(), "IPFS_PATH="+repo)
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gw := freePort(t)
	run("init", "--profile", "test")
	run("config", "Addresses.API", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", api))
	run("config", "Addresses.Gateway", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", gw))
	run("config", "--json", "Addresses.Swarm", "[]")

	logf, err := os.Create(filepath.Join(repo, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "daemon", "--offline")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-exited
		}
		_ = logf.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", api)
	k, err := NewKubo(context.Background(), WithKuboURL(url), WithKuboTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := k.Check(context.Background()); err == nil {
			return url
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(repo, "daemon.log"))
			t.Fatalf("kubo did not come up: %v\n%s", err, log)
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(repo, "daemon.log"))
			t.Fatalf("kubo exited\n%s", log)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type artefact struct {
	name string
	data []byte
	want string // CID from the shared vectors; "" when only tree.CID is known
}

func artefacts(t *testing.T) []artefact {
	t.Helper()
	var out []artefact
	// The CID vectors (single chunk, empty, exactly 1 MiB, 1 MiB + 1, 2.5 MiB).
	var doc struct {
		Vectors []struct {
			Name  string `json:"name"`
			Input struct {
				Kind     string `json:"kind"`
				InputHex string `json:"inputHex"`
				File     string `json:"file"`
				Pattern  string `json:"pattern"`
			} `json:"input"`
			Size int    `json:"size"`
			CID  string `json:"cid"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "cid/vectors.json"), &doc); err != nil {
		t.Fatal(err)
	}
	patterns := map[string]func(int) []byte{
		"one-mib.bin":          func(n int) []byte { return mod(n, 256) },
		"one-mib-plus-one.bin": func(n int) []byte { return mod(n, 256) },
		"two-and-half-mib.bin": func(n int) []byte { return mod(n, 251) },
		"empty.bin":            func(int) []byte { return []byte{} },
		"rp-rewards-holesky-155.ssz": func(int) []byte {
			return testutil.ReadShared(t, "cid/rp-rewards-holesky-155.ssz")
		},
	}
	for _, v := range doc.Vectors {
		var data []byte
		switch {
		case v.Input.InputHex != "":
			b, err := hex.DecodeString(v.Input.InputHex)
			if err != nil {
				t.Fatal(err)
			}
			data = b
		case patterns[v.Name] != nil:
			data = patterns[v.Name](v.Size)
		default:
			continue
		}
		if len(data) != v.Size {
			t.Fatalf("vector %s: built %d bytes, want %d", v.Name, len(data), v.Size)
		}
		out = append(out, artefact{name: v.Name, data: data, want: v.CID})
	}
	if len(out) < 6 {
		t.Fatalf("only %d CID vectors usable", len(out))
	}
	// A real rewards file (bundled testnet 149, v4), its SSZ made by tree and the zstd copy.
	gz, err := os.ReadFile(filepath.Join("..", "..", "testdata", "rp-rewards-testnet-149.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	js, _, err := tree.Decompressed(gz)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := tree.DecodeRewardsFile(js)
	if err != nil {
		t.Fatal(err)
	}
	ssz, err := f.MarshalSSZ()
	if err != nil {
		t.Fatal(err)
	}
	zst, err := tree.Compress(js)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out,
		artefact{name: "rp-rewards-testnet-149.json", data: js},
		artefact{name: "rp-rewards-testnet-149.ssz", data: ssz},
		artefact{name: "rp-rewards-testnet-149.json.zst", data: zst},
	)
	return out
}

func mod(n, m int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % m)
	}
	return b
}

// TestIntegrationKuboCIDsEqualTreeCID pins real artefacts into a kubo v0.43.0
// daemon (built from source, offline, loopback) through the Queue and checks
// that kubo's CIDs equal tree.CID (and the shared vectors), that the pins
// exist and that the content reads back.
func TestIntegrationKuboCIDsEqualTreeCID(t *testing.T) {
	bin := kuboBinary(t)
	url := startKubo(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	k, err := NewKubo(ctx, WithKuboURL(url), WithKuboTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(ctx, WithPinner(k), WithAttempts(3), WithBackoff(100*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	arts := artefacts(t)
	for _, a := range arts {
		st, err := q.Submit(a.name, a.data)
		if err != nil {
			t.Fatal(err)
		}
		local, err := tree.CID(a.name, a.data)
		if err != nil {
			t.Fatal(err)
		}
		if st.LocalCID != local.String() || (a.want != "" && a.want != st.LocalCID) {
			t.Fatalf("%s: local CID %s, tree.CID %s, vector %s", a.name, st.LocalCID, local, a.want)
		}
	}
	for _, a := range arts {
		st, err := q.Wait(ctx, a.name)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != StatePinned || st.RemoteCID != st.LocalCID {
			t.Errorf("%s (%d bytes): %+v", a.name, len(a.data), st)
			continue
		}
		ok, err := k.Pinned(ctx, st.RemoteCID)
		if err != nil || !ok {
			t.Errorf("%s: pinned = %v, %v", a.name, ok, err)
		}
		rc, err := k.sh.Cat(st.RemoteCID + "/" + a.name)
		if err != nil {
			t.Errorf("%s: cat: %v", a.name, err)
			continue
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, a.data) {
			t.Errorf("%s: read back %d bytes (%v), want %d", a.name, len(got), err, len(a.data))
		}
		t.Logf("%-34s %8d bytes  %s", a.name, len(a.data), st.RemoteCID)
	}
}

// TestIntegrationQueueRetriesUntilKuboIsUp submits while no daemon listens;
// the queue keeps retrying (Submit returned at once) and pins once kubo is up.
func TestIntegrationQueueRetriesUntilKuboIsUp(t *testing.T) {
	bin := kuboBinary(t)
	api := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := NewKubo(ctx, WithKuboURL(fmt.Sprintf("http://127.0.0.1:%d", api)), WithKuboTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(ctx, WithPinner(k), WithAttempts(100), WithBackoff(100*time.Millisecond, 500*time.Millisecond), WithDeadline(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	name, data, want := testBin(t)
	if _, err := q.Submit(name, data); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st, _ := q.Status(name); st.Attempts < 2; st, _ = q.Status(name) {
		if time.Now().After(deadline) {
			t.Fatalf("no retries while kubo is down: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := q.Status(name); st.State.Final() || st.LastError == "" {
		t.Fatalf("status while kubo is down: %+v", st)
	}
	startKuboOn(t, bin, api)
	st, err := q.Wait(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StatePinned || st.RemoteCID != want || st.Attempts < 3 {
		t.Fatalf("status %+v; want pinned as %s after retries", st, want)
	}
	t.Logf("pinned after %d attempts", st.Attempts)
}
