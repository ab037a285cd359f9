package bench

import (
	"context"
	"strings"
	"testing"

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
