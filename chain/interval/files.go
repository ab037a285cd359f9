package interval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/tree"
)

// SnapshotFileName is rp-snapshot-<network>-<index>.json (network as in the rewards file names).
func SnapshotFileName(network string, index uint64) string {
	return fmt.Sprintf("rp-snapshot-%s-%d.json", network, index)
}

// DutiesFileName is rp-duties-<network>-<index>.json.zst.
func DutiesFileName(network string, index uint64) string {
	return fmt.Sprintf("rp-duties-%s-%d.json.zst", network, index)
}

// DigestsFileName is rp-duties-<network>-<index>.digests.txt (the scanner's per-epoch digests).
func DigestsFileName(network string, index uint64) string {
	return fmt.Sprintf("rp-duties-%s-%d.digests.txt", network, index)
}

// Write writes the rewards file (JSON, and SSZ for rulesets >= 9), the performance file, the snapshot (canonical
// JSON), the duty record (canonical JSON, zstd), the scan digests, and the event files of the previous and this
// interval when known (rp-rewards-event-<network>-<index>.yaml, the fallback for ELs that expire logs). Every
// file is written atomically. It returns the paths written, in that order.
func (o *Output) Write(dir, eventNetwork string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	r, f := o.Result, o.Files
	var written []string
	put := func(name string, data []byte, what string) error {
		p := filepath.Join(dir, name)
		if err := tree.WriteFileAtomic(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
		written = append(written, p)
		return nil
	}
	data, err := json.Marshal(f.Rewards)
	if err != nil {
		return nil, fmt.Errorf("encode rewards file: %w", err)
	}
	if err := put(r.RewardsFileName("json"), data, "rewards file"); err != nil {
		return nil, err
	}
	if r.WritesSSZ() {
		data, err := f.Rewards.MarshalSSZ()
		if err != nil {
			return nil, fmt.Errorf("encode rewards SSZ: %w", err)
		}
		if err := put(r.RewardsFileName("ssz"), data, "rewards SSZ"); err != nil {
			return nil, err
		}
	}
	pp, err := tree.WritePerformanceFile(dir, f.Performance)
	if err != nil {
		return nil, fmt.Errorf("write performance file: %w", err)
	}
	written = append(written, pp)
	net := r.FileNetwork()
	sb, err := o.Snapshot.MarshalCanonical()
	if err != nil {
		return nil, err
	}
	if err := put(SnapshotFileName(net, r.Index), sb, "snapshot"); err != nil {
		return nil, err
	}
	db, err := o.Scan.Record.MarshalCanonical()
	if err != nil {
		return nil, fmt.Errorf("encode duty record: %w", err)
	}
	zb, err := tree.Compress(db)
	if err != nil {
		return nil, fmt.Errorf("compress duty record: %w", err)
	}
	if err := put(DutiesFileName(net, r.Index), zb, "duty record"); err != nil {
		return nil, err
	}
	if err := put(DigestsFileName(net, r.Index), o.Scan.DigestsText(), "scan digests"); err != nil {
		return nil, err
	}
	for _, ev := range []*execution.RewardEvent{o.Previous, o.Canonical} {
		if ev == nil {
			continue
		}
		p := filepath.Join(dir, execution.EventFileName(eventNetwork, ev.Index))
		if err := execution.WriteEventFile(p, ev); err != nil {
			return nil, err
		}
		written = append(written, p)
	}
	return written, nil
}
