//go:build integration

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/interval/simtest"
)

// The treegen binary, run as a process against a larger simulated network (16,384 validators), reproduces the
// agreed root of every interval (exit status 0, "root matches canonical"), and exits 1 with a diff when a wrong
// ruleset is forced. The open interval is generated with --wait before the oDAO votes on it.
//
//	go test -tags integration -run TestIntegration ./cmd/treegen/
func TestIntegrationTreegenBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "treegen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build treegen: %v\n%s", err, out)
	}
	treegen := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run treegen: %v", err)
		}
		return out.String(), errOut.String(), code
	}
	base := func(sn *simtest.Net, index string) []string {
		d := sn.Network.Deployment
		return []string{"--interval", index, "--ec-endpoint", sn.EL.URL(), "--bn-endpoint", strings.Join(sn.URLs, ","),
			"--storage-address", d.StorageAddress.Hex(), "--multicall", d.Multicall.Hex(), "--output-dir", t.TempDir()}
	}
	simtest.Build(t, "electra", [3]int{11, 11, 11}, simtest.Hooks{
		Open: func(sn *simtest.Net, index int64, expected common.Hash) {
			out, logs, code := treegen(append(base(sn, string(rune('0'+index))), "--wait", "1m")...)
			if code != 0 || !strings.HasPrefix(out, expected.Hex()) || !strings.Contains(out, "no canonical root yet") {
				t.Fatalf("open interval %d: exit %d\n%s\n%s", index, code, out, logs)
			}
		},
		Executed: func(sn *simtest.Net, index int64, root common.Hash) {
			out, logs, code := treegen(append(base(sn, string(rune('0'+index))), "--concurrency", "16")...)
			if code != 0 || !strings.Contains(out, "root matches canonical "+root.Hex()) {
				t.Fatalf("interval %d: exit %d\n%s\n%s", index, code, out, logs)
			}
			if !strings.Contains(logs, `"message":"scan progress"`) {
				t.Fatalf("interval %d: no JSON progress log lines off a terminal:\n%s", index, logs)
			}
			if index == 2 {
				out, _, code := treegen(append(base(sn, "2"), "--ruleset", "10")...)
				if code != 1 || !strings.Contains(out, "MISMATCH") {
					t.Fatalf("forced v10: exit %d\n%s", code, out)
				}
			}
		},
	}, simtest.WithValidators(16384))
}
