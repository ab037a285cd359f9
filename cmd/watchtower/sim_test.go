package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestSimCommand runs `watchtower sim` (the README's main command) and checks its report: two intervals, three
// members each printing the executed consensus root, files listed, and exit status 0.
func TestSimCommand(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"sim", "--data-dir", dir, "--log-level", "error"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sim: %v\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "OK: all members agree and every snapshot was executed") {
		t.Fatalf("report:\n%s", text)
	}
	consensus := regexp.MustCompile(`consensus root (0x[0-9a-f]{64}) \(executed on chain\)`).FindAllStringSubmatch(text, -1)
	if len(consensus) != 2 {
		t.Fatalf("%d executed intervals in the report:\n%s", len(consensus), text)
	}
	for _, c := range consensus {
		if n := strings.Count(text, "root "+c[1]); n != 4 { // three members + the consensus line
			t.Fatalf("root %s printed %d times, want 4 (3 members + consensus)", c[1], n)
		}
	}
	if !strings.Contains(text, "rewards/1/rp-rewards-1337-1.json  not pinned") {
		t.Fatalf("files not listed:\n%s", text)
	}
}
