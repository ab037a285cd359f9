package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// small is a scaled-down shape: 16,384 validators (4 committees per slot),
// 300 protocol validators, 6 epochs.
var small = Shape{Validators: 16384, Protocol: 300, StartEpoch: 2, Epochs: 6, Seed: 3}

func serve(t testing.TB, s Shape) string {
	t.Helper()
	chain, err := NewChain(context.Background(), s, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := simbeacon.NewServer(context.Background(), simbeacon.WithChain(chain), simbeacon.WithListenAddress("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.URL()
}

// TestModesAgree: the optimized and the baseline access patterns give the
// same duty record (digest) for the whole interval and for a prefix, and the
// counts follow from the shape (epochs + 1 block epochs; one block per slot
// except the missed ones, about 1 %).
func TestModesAgree(t *testing.T) {
	url := serve(t, small)
	for _, limit := range []uint64{0, 3} {
		var digests []string
		for _, mode := range []string{ModeOptimized, ModeBaseline} {
			rep, err := Run(context.Background(), RunConfig{URL: url, Shape: small, Mode: mode, LimitEpochs: limit})
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			epochs := small.Epochs
			if limit > 0 {
				epochs = limit
			}
			if rep.Epochs != epochs+1 {
				t.Fatalf("%s: %d block epochs, want %d", mode, rep.Epochs, epochs+1)
			}
			if slots := rep.Epochs * SlotsPerEpoch; rep.Blocks > slots || rep.Blocks < slots*9/10 {
				t.Fatalf("%s: %d blocks for %d slots", mode, rep.Blocks, slots)
			}
			if rep.Validators != int(small.Protocol) {
				t.Fatalf("%s: %d validators in the record, want %d", mode, rep.Validators, small.Protocol)
			}
			digests = append(digests, rep.RecordDigest)
		}
		if digests[0] != digests[1] {
			t.Fatalf("limit %d: modes disagree: %v", limit, digests)
		}
	}
}

// TestPreparedStoreSameRecord: a node serving from a prepared block store
// gives both modes the same record as a node generating every block; the
// store is reused when it fits and prepared again when it does not.
func TestPreparedStoreSameRecord(t *testing.T) {
	ctx := context.Background()
	generated, err := Run(ctx, RunConfig{URL: serve(t, small), Shape: small, Mode: ModeOptimized})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if reused, err := PrepareStore(ctx, small, PrepareConfig{Dir: dir, LimitEpochs: 2, Workers: 2}); err != nil || reused {
		t.Fatalf("prepare: reused %v, %v", reused, err)
	}
	// A store for 2 epochs does not cover the whole interval: prepared again.
	if reused, err := PrepareStore(ctx, small, PrepareConfig{Dir: dir, Workers: 2, Reuse: true}); err != nil || reused {
		t.Fatalf("prepare whole interval: reused %v, %v", reused, err)
	}
	if reused, err := PrepareStore(ctx, small, PrepareConfig{Dir: dir, Workers: 1, Reuse: true}); err != nil || !reused {
		t.Fatalf("prepare again: reused %v, %v", reused, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(sctx, small, ServeConfig{Addr: "127.0.0.1:0", StoreDir: dir, Logger: zerolog.Nop(), Ready: func(u string) { urls <- u }})
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30 s")
	}
	for _, mode := range []string{ModeOptimized, ModeBaseline} {
		rep, err := Run(ctx, RunConfig{URL: url, Shape: small, Mode: mode})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if rep.RecordDigest != generated.RecordDigest || rep.Blocks != generated.Blocks {
			t.Fatalf("%s from the store: digest %s, %d blocks; generated node: %s, %d blocks", mode, rep.RecordDigest, rep.Blocks, generated.RecordDigest, generated.Blocks)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop server: %v", err)
	}
	// A store for another shape is refused.
	other := small
	other.Seed++
	if err := Serve(ctx, other, ServeConfig{Addr: "127.0.0.1:0", StoreDir: dir, Logger: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "another scenario") {
		t.Fatalf("foreign store: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Run(context.Background(), RunConfig{URL: "http://127.0.0.1:1", Shape: small, Mode: "fast"}); err == nil ||
		!strings.Contains(err.Error(), "unknown mode") {
		t.Fatalf("unknown mode: %v", err)
	}
	for _, s := range []Shape{
		{Validators: 10, Protocol: 1, StartEpoch: 1, Epochs: 1},
		{Validators: 1000, Protocol: 1000, StartEpoch: 1, Epochs: 1},
		{Validators: 1000, Protocol: 1, StartEpoch: 0, Epochs: 1},
		{Validators: 1000, Protocol: 1, StartEpoch: 1, Epochs: 0},
	} {
		if err := s.Validate(); err == nil {
			t.Fatalf("shape %+v accepted", s)
		}
	}
	// Protocol indices are spread evenly and distinct: (k+1)*N/(n+1).
	ix := Shape{Validators: 10, Protocol: 4, StartEpoch: 1, Epochs: 1}.ProtocolIndices()
	if len(ix) != 4 || ix[0] != 2 || ix[1] != 4 || ix[2] != 6 || ix[3] != 8 { // 10/5=2, 20/5=4, 30/5=6, 40/5=8
		t.Fatalf("protocol indices %v", ix)
	}
}

// BenchmarkScan runs both modes over the small shape (server in-process, so
// it shares the CPU with the client); the mainnet-scale figures come from
// deploy/bench/mainnet.sh.
func BenchmarkScan(b *testing.B) {
	url := serve(b, small)
	for _, mode := range []string{ModeOptimized, ModeBaseline} {
		b.Run(mode, func(b *testing.B) {
			var epochs uint64
			for b.Loop() {
				rep, err := Run(context.Background(), RunConfig{URL: url, Shape: small, Mode: mode})
				if err != nil {
					b.Fatal(err)
				}
				epochs += rep.Epochs
			}
			b.ReportMetric(float64(epochs)/b.Elapsed().Seconds(), "epochs/s")
		})
	}
}
