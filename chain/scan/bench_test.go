package scan

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// BenchmarkScan scans duty epochs 2..9 (blocks of 9 epochs) of a
// 65,536-validator chain (16 committees per slot) for 400 protocol
// validators against the simulated beacon server on loopback. The server
// runs in the same process and shares the CPU, so absolute numbers are
// pessimistic; the ratio between the modes is the point.
//
//	optimized: committees from ONE state (shuffled locally), blinded SSZ
//	           blocks verified against headers, 8 epochs in flight.
//	optimized-noverify: the same without header verification.
//	baseline:  the reference's access pattern: committees from the API for
//	           every epoch (head state), full JSON blocks, epochs one after
//	           another with 32 block requests in flight.
func BenchmarkScan(b *testing.B) {
	sc := &simbeacon.Scenario{
		Seed: 5, GenesisTime: 1_700_000_000, SlotsPerEpoch: 32, ValidatorCount: 65536, HeadSlot: 32*21 + 1,
		Participation: f64(0.97), MissedSlotRate: 0.05, LateInclusionRate: 0.05,
	}
	for i := range 400 {
		sc.ProtocolValidators = append(sc.ProtocolValidators, simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 1000+i)})
	}
	chain, err := simbeacon.New(context.Background(), simbeacon.WithScenario(sc), simbeacon.WithCommitteeCache(64))
	if err != nil {
		b.Fatal(err)
	}
	var protocol []phase0.ValidatorIndex
	// Unpinned protocol validators are spread evenly: (k+1)*N/(n+1).
	for k := range uint64(400) {
		protocol = append(protocol, phase0.ValidatorIndex((k+1)*65536/401))
	}
	iv := Interval{Index: 1, StartSlot: 64, EndSlot: 32*18 - 1}
	epochs := float64(iv.EndSlot/32 + 1 - iv.StartSlot/32 + 1)
	// The simulated node generates every block on demand, which costs more
	// CPU than the client and shares the 2 cores; a response cache in front
	// of it (warmed by one untimed run per mode) models a fast node, so the
	// numbers below are the client's cost plus loopback HTTP.
	url := cachedServer(b, chain)

	modes := []struct {
		name string
		run  func(b *testing.B) *Result
	}{
		{"optimized", func(b *testing.B) *Result {
			r := newReader(b, []string{url})
			lc := localCommittees(b, r, iv.EndSlot)
			res, err := scan(b, &fixture{protocol: protocol}, lc, r, iv, WithConcurrency(8), WithBlockConcurrency(8))
			if err != nil {
				b.Fatal(err)
			}
			return res
		}},
		{"optimized-noverify", func(b *testing.B) *Result {
			r := newReader(b, []string{url}, beacon.WithVerifyBlocks(false))
			lc := localCommittees(b, r, iv.EndSlot)
			res, err := scan(b, &fixture{protocol: protocol}, lc, r, iv, WithConcurrency(8), WithBlockConcurrency(8))
			if err != nil {
				b.Fatal(err)
			}
			return res
		}},
		{"baseline", func(b *testing.B) *Result {
			r := newReader(b, []string{url}, beacon.WithVerifyBlocks(false), beacon.WithEnforceJSON(true))
			res, err := scan(b, &fixture{protocol: protocol}, apiCommittees(b, r, "head"), r, iv,
				WithConcurrency(1), WithBlockConcurrency(32), WithFullBlocks(true))
			if err != nil {
				b.Fatal(err)
			}
			return res
		}},
	}
	var digests []string
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			last := m.run(b) // warm the cache
			b.ResetTimer()
			t0 := time.Now()
			for b.Loop() {
				last = m.run(b)
			}
			b.ReportMetric(epochs*float64(b.N)/time.Since(t0).Seconds(), "epochs/s")
			digests = append(digests, last.RecordDigest)
		})
	}
	for _, d := range digests[1:] {
		if d != digests[0] {
			b.Fatalf("modes disagree: %v", digests)
		}
	}
}

type cachedResponse struct {
	code   int
	header http.Header
	body   []byte
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

// cachedServer serves the chain through a response cache keyed by method,
// URL and Accept header (GET only) on 127.0.0.1.
func cachedServer(b *testing.B, chain *simbeacon.Chain) string {
	b.Helper()
	sim, err := simbeacon.NewServer(context.Background(), simbeacon.WithChain(chain), simbeacon.WithListenAddress("127.0.0.1:0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sim.Stop(context.Background()) })
	next := sim.Handler()
	var mu sync.Mutex
	cache := map[string]*cachedResponse{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.String() + " " + r.Header.Get("Accept")
		mu.Lock()
		c := cache[key]
		mu.Unlock()
		if c == nil || r.Method != http.MethodGet {
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			c = &cachedResponse{code: rec.code, header: rec.header, body: rec.body.Bytes()}
			if r.Method == http.MethodGet {
				mu.Lock()
				cache[key] = c
				mu.Unlock()
			}
		}
		for k, v := range c.header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.code)
		_, _ = w.Write(c.body)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}
