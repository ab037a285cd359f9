//go:build integration

package pin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odaowatch/watchtower/internal/testutil"
	"github.com/odaowatch/watchtower/tree"
	"github.com/odaowatch/watchtower/watchtower/pin/kubotest"
)

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
	url := kubotest.StartT(t, 0).URL
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
	bin, err := kubotest.Binary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	api, err := kubotest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
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
	d, err := kubotest.Start(ctx, bin, t.TempDir(), api)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	st, err := q.Wait(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StatePinned || st.RemoteCID != want || st.Attempts < 3 {
		t.Fatalf("status %+v; want pinned as %s after retries", st, want)
	}
	t.Logf("pinned after %d attempts", st.Attempts)
}
