package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// defaultMemoryLimit is the soft heap limit treegen runs under unless told
// otherwise. A mainnet-sized interval keeps ~1.2 GB live at its end; with Go's
// default collector headroom the peak is ~2.4 GiB, under this limit 1.7 GiB at
// no measurable CPU cost (chain/interval/bench/README.md).
const defaultMemoryLimit = "1700MiB"

func init() { rootHooks = append(rootHooks, addMemoryLimit) }

func addMemoryLimit(root *cobra.Command) {
	var limit string
	root.PersistentFlags().StringVar(&limit, "memory-limit", defaultMemoryLimit,
		"soft memory limit of the Go runtime (e.g. 1700MiB, 4GiB; 0 = none); GOMEMLIMIT in the environment takes precedence")
	prev := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if os.Getenv("GOMEMLIMIT") == "" {
			n, err := parseBytes(limit)
			if err != nil {
				return fmt.Errorf("--memory-limit: %w", err)
			}
			if n > 0 {
				debug.SetMemoryLimit(n)
			}
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// parseBytes reads a size with an optional B, KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1700MiB", s)
	}
	return n * mult, nil
}
