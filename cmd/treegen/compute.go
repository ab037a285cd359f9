package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/odaowatch/watchtower/rewards"
	"github.com/odaowatch/watchtower/tree"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newComputeCmd, newSnapshotDigestCmd)
}

// openInput opens a file for streaming, transparently un-gzipping or
// un-zstding it (recognised by magic number).
func openInput(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("gunzip %s: %w", path, err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	case tree.IsZstd(magic):
		zr, err := zstd.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("unzstd %s: %w", path, err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	}
	return br, func() { f.Close() }, nil
}

func readSnapshot(path string) (*rewards.Snapshot, error) {
	r, done, err := openInput(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer done()
	s, err := rewards.DecodeSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func readDuties(path string) (*rewards.DutyRecord, error) {
	r, done, err := openInput(path)
	if err != nil {
		return nil, fmt.Errorf("open duty record: %w", err)
	}
	defer done()
	d, err := rewards.DecodeDutyRecord(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

type computeSummary struct {
	Ruleset          int      `json:"ruleset"`
	Network          string   `json:"network"`
	Index            uint64   `json:"index"`
	MerkleRoot       string   `json:"merkleRoot"`
	SnapshotDigest   string   `json:"snapshotDigest"`
	DutyRecordDigest string   `json:"dutyRecordDigest"`
	Nodes            int      `json:"nodes"`
	Files            []string `json:"files"`
	CollateralRpl    string   `json:"totalCollateralRpl"`
	OracleDaoRpl     string   `json:"totalOracleDaoRpl"`
	ProtocolDaoRpl   string   `json:"protocolDaoRpl"`
	SmoothingPoolEth string   `json:"totalSmoothingPoolEth"`
	NodeOperatorEth  string   `json:"nodeOperatorSmoothingPoolEth"`
	PoolStakerEth    string   `json:"poolStakerSmoothingPoolEth"`
	VoterShareEth    string   `json:"totalVoterShareEth"`
	PdaoShareEth     string   `json:"totalPdaoShareEth"`
	SuccessfulDuties uint64   `json:"successfulAttestations"`
}

// newComputeCmd is `treegen compute --snapshot S --duties D [--out DIR]`.
func newComputeCmd() *cobra.Command {
	var snapPath, dutyPath, outDir string
	var ruleset int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compute --snapshot S --duties D [--out DIR]",
		Short: "Compute an interval's rewards from a snapshot and a duty record; write the rewards and performance files",
		Long: `compute runs the rewards ruleset for the interval (selected from the snapshot's network and index
as the canonical files show: mainnet 18-29 v8, 30-45 v10, 46+ v11; testnet <140 v10, then v11;
devnet v11) over a saved snapshot and duty record (JSON, optionally .gz or .zst). It writes
rp-rewards-<network>-<index>.json, the .ssz copy for rulesets >= 9, and the performance file into
--out, and prints the Merkle root. Inputs and outputs are deterministic: the same inputs give
byte-identical files.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if snapPath == "" || dutyPath == "" {
				return fmt.Errorf("compute needs --snapshot and --duties")
			}
			snap, err := readSnapshot(snapPath)
			if err != nil {
				return err
			}
			duties, err := readDuties(dutyPath)
			if err != nil {
				return err
			}
			var opts []rewards.Option
			if ruleset != 0 {
				opts = append(opts, rewards.WithRuleset(ruleset))
			}
			res, err := rewards.Compute(snap, duties, opts...)
			if err != nil {
				return err
			}
			files, err := res.Files()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("create output directory: %w", err)
			}
			var written []string
			data, err := json.Marshal(files.Rewards)
			if err != nil {
				return fmt.Errorf("encode rewards file: %w", err)
			}
			p := filepath.Join(outDir, res.RewardsFileName("json"))
			if err := tree.WriteFileAtomic(p, data, 0o644); err != nil {
				return fmt.Errorf("write rewards file: %w", err)
			}
			written = append(written, p)
			if res.WritesSSZ() {
				data, err := files.Rewards.MarshalSSZ()
				if err != nil {
					return fmt.Errorf("encode rewards SSZ: %w", err)
				}
				p := filepath.Join(outDir, res.RewardsFileName("ssz"))
				if err := tree.WriteFileAtomic(p, data, 0o644); err != nil {
					return fmt.Errorf("write rewards SSZ: %w", err)
				}
				written = append(written, p)
			}
			pp, err := tree.WritePerformanceFile(outDir, files.Performance)
			if err != nil {
				return err
			}
			written = append(written, pp)

			sd, err := snap.Digest()
			if err != nil {
				return err
			}
			dd, err := duties.Digest()
			if err != nil {
				return err
			}
			t := res.Totals
			sum := computeSummary{
				Ruleset: res.Ruleset, Network: res.FileNetwork(), Index: res.Index, MerkleRoot: files.Root.Hex(),
				SnapshotDigest: sd, DutyRecordDigest: dd, Nodes: len(res.Nodes), Files: written,
				CollateralRpl: t.TotalCollateralRPL.String(), OracleDaoRpl: t.TotalOracleDAORPL.String(), ProtocolDaoRpl: t.ProtocolDAORPL.String(),
				SmoothingPoolEth: t.TotalSmoothingPoolETH.String(), NodeOperatorEth: t.NodeOperatorSmoothingPoolETH.String(),
				PoolStakerEth: t.PoolStakerSmoothingPoolETH.String(), VoterShareEth: t.TotalVoterShareETH.String(),
				PdaoShareEth: t.TotalPDAOShareETH.String(), SuccessfulDuties: res.SuccessfulAttestations,
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, sum)
			}
			fmt.Fprintf(out, "%s\n", sum.MerkleRoot)
			fmt.Fprintf(out, "  %s interval %d, ruleset %d, %d nodes, %d successful attestations\n", sum.Network, sum.Index, sum.Ruleset, sum.Nodes, sum.SuccessfulDuties)
			fmt.Fprintf(out, "  snapshot digest    %s\n  duty record digest %s\n", sd, dd)
			for _, f := range written {
				fmt.Fprintf(out, "  wrote %s\n", f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&snapPath, "snapshot", "", "snapshot JSON file (.gz/.zst accepted)")
	cmd.Flags().StringVar(&dutyPath, "duties", "", "duty record JSON file (.gz/.zst accepted)")
	cmd.Flags().StringVar(&outDir, "out", ".", "directory for the rewards and performance files")
	cmd.Flags().IntVar(&ruleset, "ruleset", 0, "force a ruleset (8, 10 or 11) instead of the one the network and index select")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON summary")
	return cmd
}

// newSnapshotDigestCmd is `treegen snapshot-digest S...`.
func newSnapshotDigestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot-digest SNAPSHOT...",
		Short: "Print the sha256 content digest of snapshots (canonical encoding), to compare inputs in one line",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				s, err := readSnapshot(p)
				if err != nil {
					return err
				}
				d, err := s.Digest()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", d, p)
			}
			return nil
		},
	}
}
