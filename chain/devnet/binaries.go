package devnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Pinned client versions (deploy/devnet/build.sh builds exactly these).
const (
	GethVersion  = "v1.17.8"
	PrysmVersion = "v7.1.2"
)

// Binaries are the client binaries of the devnet.
type Binaries struct {
	Geth, BeaconChain, Validator, Prysmctl string
}

// BuildTimeout bounds deploy/devnet/build.sh: a cold build of geth and three Prysm binaries takes 6–10 minutes
// on 2 cores, and the script may first wait for another process's build.
const BuildTimeout = 45 * time.Minute

// Build runs deploy/devnet/build.sh under root: it builds geth and Prysm from the module proxy into the user
// cache once (an flock serialises concurrent callers) and returns the cached binaries on later calls. The
// script's progress goes to logw (may be nil).
func Build(ctx context.Context, root string, logw io.Writer) (*Binaries, error) {
	script := filepath.Join(root, "deploy", "devnet", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("build devnet binaries: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(os.Environ(), "GETH_VERSION="+GethVersion, "PRYSM_VERSION="+PrysmVersion)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if logw != nil {
		cmd.Stderr = io.MultiWriter(&errOut, logw)
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build devnet binaries (%s): %w\n%s", script, err, lastLines(errOut.String(), 40))
	}
	b := &Binaries{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		name, path, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch name {
		case "geth":
			b.Geth = path
		case "beacon-chain":
			b.BeaconChain = path
		case "validator":
			b.Validator = path
		case "prysmctl":
			b.Prysmctl = path
		}
	}
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("build devnet binaries: %s printed %q: %w", script, out.String(), err)
	}
	return b, nil
}

func (b *Binaries) check() error {
	for _, x := range []struct{ name, path string }{{"geth", b.Geth}, {"beacon-chain", b.BeaconChain}, {"validator", b.Validator}, {"prysmctl", b.Prysmctl}} {
		if x.path == "" {
			return fmt.Errorf("no %s binary", x.name)
		}
		st, err := os.Stat(x.path)
		if err != nil {
			return fmt.Errorf("%s binary: %w", x.name, err)
		}
		if st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s binary %s is not executable", x.name, x.path)
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
