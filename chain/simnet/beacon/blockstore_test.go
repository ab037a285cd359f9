package beacon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func getAccept(t *testing.T, url, accept string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Eth-Consensus-Version"), buf.Bytes()
}

// TestBlockStoreServesSameBytes: a server answering from a prepared store
// gives byte-identical responses to one generating blocks on request — full
// and blinded blocks in SSZ and JSON, headers — for every slot of the store
// (missed slots included), across a Deneb→Electra fork; slots outside the
// store fall back to generation.
func TestBlockStoreServesSameBytes(t *testing.T) {
	sc := testScenario(77, ForkElectra)
	sc.ElectraForkEpoch = 3
	c := newTestChain(t, sc)
	dir := t.TempDir()
	from, to := phase0.Slot(9), phase0.Slot(50)
	var calls int
	if err := PrepareBlockStore(context.Background(), c, dir, from, to, 3, func(done, total uint64) {
		calls++
		if total != uint64(to-from)+1 || done > total {
			t.Errorf("progress %d of %d", done, total)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("no progress reported")
	}
	bs, err := OpenBlockStore(context.Background(), c, dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	if f, l := bs.Range(); f != from || l != to {
		t.Fatalf("range %d..%d", f, l)
	}
	gen := newTestServer(t, c).URL()
	stored := newTestServer(t, newTestChain(t, sc), WithBlockStore(bs)).URL()
	missed, served := 0, 0
	for s := from - 2; s <= to+2; s++ {
		if !c.HasBlock(s) {
			missed++
		} else if s >= from && s <= to {
			served++
		}
		for _, path := range []string{"/eth/v2/beacon/blocks/", "/eth/v1/beacon/blinded_blocks/", "/eth/v1/beacon/headers/"} {
			for _, accept := range []string{"application/octet-stream", "application/json"} {
				u := path + fmt.Sprint(s)
				c1, v1, b1 := getAccept(t, gen+u, accept)
				c2, v2, b2 := getAccept(t, stored+u, accept)
				if c1 != c2 || v1 != v2 || !bytes.Equal(b1, b2) {
					t.Fatalf("%s (%s): generated %d %s %d bytes, stored %d %s %d bytes", u, accept, c1, v1, len(b1), c2, v2, len(b2))
				}
				if c.HasBlock(s) && c1 != http.StatusOK || !c.HasBlock(s) && c1 != http.StatusNotFound {
					t.Fatalf("%s: status %d", u, c1)
				}
			}
		}
	}
	if missed == 0 || served < 30 {
		t.Fatalf("test covers %d missed slots and %d stored blocks", missed, served)
	}
	if c.VersionAt(from).String() == c.VersionAt(to).String() {
		t.Fatal("test does not cross the fork")
	}
}

func TestBlockStoreRefusesForeignOrDamaged(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t, testScenario(5, ForkElectra))
	dir := t.TempDir()
	if err := PrepareBlockStore(ctx, c, dir, 1, 30, 2, nil); err != nil {
		t.Fatal(err)
	}
	// Another scenario.
	other := newTestChain(t, testScenario(6, ForkElectra))
	if _, err := OpenBlockStore(ctx, other, dir, 1); err == nil || !strings.Contains(err.Error(), "another scenario") {
		t.Fatalf("foreign store: %v", err)
	}
	// Not a store.
	if _, err := OpenBlockStore(ctx, c, t.TempDir(), 1); err == nil {
		t.Fatal("empty directory accepted")
	}
	// Bad input to Prepare.
	for _, tc := range []struct {
		from, to phase0.Slot
		workers  int
	}{{10, 5, 1}, {1, 1000, 1}, {1, 5, 0}} {
		if err := PrepareBlockStore(ctx, c, t.TempDir(), tc.from, tc.to, tc.workers, nil); err == nil {
			t.Fatalf("prepare %+v accepted", tc)
		}
	}
	data := filepath.Join(dir, blockStoreData)
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	// A stored block that no longer matches the chain (same length, other
	// bytes): the first sampled slot is re-encoded from another slot.
	bs, err := OpenBlockStore(ctx, c, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := bs.Range()
	for !bs.has(first) {
		first++
	}
	e := bs.entries[first-bs.first]
	bs.Close()
	damaged := bytes.Clone(raw)
	for i := e.off + 16; i < e.off+uint64(e.fullLen)-8; i++ {
		damaged[i] ^= 0x55
	}
	if err := os.WriteFile(data, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBlockStore(ctx, c, dir, 1); err == nil {
		t.Fatal("damaged block accepted")
	}
	// Truncated data file.
	if err := os.WriteFile(data, raw[:len(raw)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBlockStore(ctx, c, dir, 0); err == nil || !strings.Contains(err.Error(), "index expects") {
		t.Fatalf("truncated store: %v", err)
	}
}

// TestWriteJSONEnvelope: the hand-built envelope is byte for byte the
// marshalled envelope struct.
func TestWriteJSONEnvelope(t *testing.T) {
	for _, tc := range []struct {
		version   string
		finalized bool
		data      any
	}{
		{"", false, map[string]string{"a": "<b>&", "root": "0x01"}},
		{"electra", true, []int{1, 2, 3}},
		{"deneb", false, nil},
		{"", true, "x"},
	} {
		raw, err := json.Marshal(tc.data)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(envelope{Version: tc.version, Finalized: tc.finalized, Data: raw})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		if err := writeJSON(rec, tc.version, tc.finalized, tc.data); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("envelope %s, want %s", got, want)
		}
	}
}
