package beacon

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
)

// mainnetScenario: ~1.1M validators, 6,300 epochs of 32 slots.
func mainnetScenario() *Scenario {
	sc := &Scenario{
		Seed: 1, GenesisTime: 1_606_824_023, ValidatorCount: 1_100_000,
		HeadSlot: 6_300 * 32, MissedSlotRate: 0.01, LateInclusionRate: 0.05, MEVRate: 0.9,
		Participation: f64(0.98),
	}
	for i := range 1000 {
		sc.ProtocolValidators = append(sc.ProtocolValidators, ProtocolValidator{Pubkey: "0x" + pad96(strconv.Itoa(i+1))})
	}
	return sc
}

// BenchmarkServeSSZBlocksMainnet fetches consecutive SSZ blocks over HTTP
// from a mainnet-sized chain (committee shuffles of each new epoch included).
func BenchmarkServeSSZBlocksMainnet(b *testing.B) {
	for _, prefetch := range []bool{false, true} {
		b.Run("prefetch="+strconv.FormatBool(prefetch), func(b *testing.B) { benchServeSSZ(b, prefetch) })
	}
}

func benchServeSSZ(b *testing.B, prefetch bool) {
	c, err := New(context.Background(), WithScenario(mainnetScenario()), WithPrefetch(prefetch))
	if err != nil {
		b.Fatal(err)
	}
	srv := newTestServer(b, c)
	client := &http.Client{}
	start := uint64(100_000 * 32 / 32) // epoch 3125
	var bytes int64
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	slot := start
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/eth/v2/beacon/blocks/"+strconv.FormatUint(slot, 10), nil)
		req.Header.Set("Accept", "application/octet-stream;q=1,application/json;q=0.9")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			b.Fatalf("slot %d: status %d", slot, resp.StatusCode)
		}
		bytes += n
		slot++
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/block")
	b.ReportMetric(float64(ms1.HeapInuse)/1e6, "heapMB")
}

// BenchmarkBlockWarmMainnet generates blocks of one epoch with committees cached.
func BenchmarkBlockWarmMainnet(b *testing.B) {
	c := newTestChain(b, mainnetScenario())
	ctx := context.Background()
	first := c.firstSlot(3125)
	for s := first - 64; s < first+32; s += 32 {
		if _, err := c.Committees(c.epochOf(s)); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		s := first + 2 + phase0Slot(i%30)
		i++
		if !c.HasBlock(s) {
			continue
		}
		blk, err := c.Block(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := blk.Electra.MarshalSSZ(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateSSZMainnet builds and encodes one mainnet-sized state.
func BenchmarkStateSSZMainnet(b *testing.B) {
	c := newTestChain(b, mainnetScenario())
	h := srvHandler(b, c)
	var ms runtime.MemStats
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/eth/v2/debug/beacon/states/head", nil)
		req.Header.Set("Accept", "application/octet-stream")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		b.ReportMetric(float64(rec.Body.Len())/1e6, "MB")
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/1e6, "heapSysMB")
}
