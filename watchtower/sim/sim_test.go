package sim

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestSimTwoIntervals runs `watchtower sim` in-process: three members, two intervals; every interval must be
// executed on chain with the root every member generated independently, and each member voted at most once
// per interval.
func TestSimTwoIntervals(t *testing.T) {
	var logs bytes.Buffer
	rep, err := Run(context.Background(), Config{DataDir: t.TempDir(), Log: zerolog.New(&logs).Level(zerolog.InfoLevel)})
	if err != nil {
		t.Logf("logs:\n%s", tail(logs.String(), 60))
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("%s\n(%d slots in %s)", out.String(), rep.Slots, rep.Elapsed)
	if !rep.OK() {
		t.Fatalf("simulation not OK")
	}
	if len(rep.Members) != 3 || len(rep.Intervals) != 2 {
		t.Fatalf("%d members, %d intervals", len(rep.Members), len(rep.Intervals))
	}
	if rep.Intervals[0].Consensus == rep.Intervals[1].Consensus {
		t.Fatal("two intervals with the same root")
	}
	for _, m := range rep.Members {
		for _, r := range m.Records {
			if r.SentCount > 1 {
				t.Fatalf("%s sent %d first votes for interval %d", m.Name, r.SentCount, r.Index)
			}
		}
	}
	if !strings.Contains(out.String(), "not pinned") {
		t.Fatal("report does not say the files are not pinned")
	}
	for _, secret := range []string{keystorePassword} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("password in the logs")
		}
	}
	// Deterministic: a second run in another directory reaches the same roots.
	rep2, err := Run(context.Background(), Config{DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil || !rep2.OK() {
		t.Fatalf("second run: %v", err)
	}
	for i := range rep.Intervals {
		if rep.Intervals[i].Consensus != rep2.Intervals[i].Consensus {
			t.Fatalf("interval %d: %s then %s", i, rep.Intervals[i].Consensus.Hex(), rep2.Intervals[i].Consensus.Hex())
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
