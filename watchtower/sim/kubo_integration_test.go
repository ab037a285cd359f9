//go:build integration

package sim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/tree"
	"github.com/odaowatch/watchtower/watchtower/pin/kubotest"
)

// TestSimPinsToKubo runs the simulation with a real kubo daemon (built from source by deploy/kubo/build.sh,
// offline, loopback): every file of every member is pinned and kubo's CID equals tree.CID of the file.
func TestSimPinsToKubo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := kubotest.Binary(ctx)
	if err != nil {
		t.Fatalf("kubo binary: %v", err)
	}
	d, err := kubotest.Start(ctx, bin, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	rep, err := Run(ctx, Config{DataDir: t.TempDir(), KuboURL: d.URL, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !rep.OK() || strings.Contains(out.String(), "not pinned") {
		t.Fatalf("report:\n%s", out.String())
	}
	for _, m := range rep.Members {
		if !m.Pinned || len(m.Pins) == 0 {
			t.Fatalf("%s: no pins", m.Name)
		}
		for _, rec := range m.Records {
			for _, f := range rec.Files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				local, err := tree.CID(filepath.Base(f), data)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, st := range m.Pins {
					if st.Name == filepath.Base(f) {
						found = true
						if string(st.State) != "pinned" || st.RemoteCID != local.String() {
							t.Fatalf("%s %s: state %s, kubo CID %s, local %s", m.Name, st.Name, st.State, st.RemoteCID, local)
						}
					}
				}
				if !found {
					t.Fatalf("%s: %s not submitted for pinning", m.Name, filepath.Base(f))
				}
			}
		}
	}
}
