package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
)

func init() {
	rootHooks = append(rootHooks, addIntervalMode)
}

// rocketStorageByChainID: RocketStorage of the public networks (docs.rocketpool.net, "Contracts & Integrations").
var rocketStorageByChainID = map[uint64]string{
	1:      "0x1d8f8f00cfa6758d7bE78336684788Fb0ee0Fa46", // mainnet
	560048: "0x594Fb75D3dc2DFa0150Ad03F99F97817747dd4E1", // Hoodi (testnet)
}

type intervalFlags struct {
	index       int64
	ec          string
	bn          []string
	outDir      string
	ruleset     int
	network     string
	storage     string
	multicall   string
	eventsDir   string
	dataDir     string
	committees  string
	concurrency int
	batch       int
	timeout     time.Duration
	progress    string
	preSaturn   bool
	wait        time.Duration
}

// addIntervalMode adds `treegen --interval N --ec-endpoint URL --bn-endpoint URL[,URL…] [--output-dir D]
// [--ruleset R]` to the root command.
func addIntervalMode(root *cobra.Command) {
	f := &intervalFlags{}
	root.Long = `treegen builds, verifies and explains Rocket Pool rewards tree files.

With --interval N it generates reward interval N from live nodes: the snapshot at the interval's EL block
(--ec-endpoint, any JSON-RPC endpoint; an archive node for past intervals), the attestation duties of every
protocol validator from one or more beacon nodes (--bn-endpoint, comma-separated), the rewards ruleset and the
Merkle tree. It writes the rewards file (JSON and SSZ), the performance file, the snapshot, the duty record, the
scanner's digests and the RewardSnapshot event files into --output-dir, and compares the root with the canonical
on-chain one when the interval has been executed (exit status 1 on a difference). --interval -1 is a dry run of
the open interval ending at the latest finalized epoch.`
	fl := root.Flags()
	fl.Int64Var(&f.index, "interval", -2, "reward interval to generate (-1: dry run of the open interval)")
	fl.StringVar(&f.ec, "ec-endpoint", "", "execution client JSON-RPC URL")
	fl.StringSliceVar(&f.bn, "bn-endpoint", nil, "beacon node URL(s), comma-separated (fan-out and fail-over)")
	fl.StringVar(&f.outDir, "output-dir", ".", "directory for the generated files")
	fl.IntVar(&f.ruleset, "ruleset", 0, "force a ruleset (8, 10 or 11) instead of the one network and index select")
	fl.StringVar(&f.network, "network", "", "mainnet, testnet or devnet (default: from the EL chain id; 1 = mainnet, 560048 = testnet, other = devnet)")
	fl.StringVar(&f.storage, "storage-address", "", "RocketStorage address (default: mainnet's or Hoodi's by chain id; required for devnets)")
	fl.StringVar(&f.multicall, "multicall", execution.DefaultMulticall3.Hex(), "Multicall3 address")
	fl.StringVar(&f.eventsDir, "events-dir", "", "directory of rp-rewards-event-<network>-<index>.yaml files, the fallback when the EL has expired the logs (default: --output-dir)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the resumable scan store scan.db (default: in memory)")
	fl.StringVar(&f.committees, "committees", scan.CommitteesLocal, "committee source: local (shuffle from one state), api, or checked (both, compared)")
	fl.IntVar(&f.concurrency, "concurrency", 8, "block epochs scanned at once")
	fl.IntVar(&f.batch, "batch-size", 300, "contract calls per multicall request")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of one EL or beacon request")
	fl.DurationVar(&f.wait, "wait", 0, "wait up to this long for the interval to end and the epoch after its target to be finalized (polling every 30 s); 0: fail at once")
	fl.BoolVar(&f.preSaturn, "pre-saturn", false, "the protocol contracts are before Saturn (v1.4): read getNodeRPLStake, no megapools, voter share or revenue shares")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), bar, log, none")
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if !cmd.Flags().Changed("interval") {
			return cmd.Help()
		}
		return runInterval(cmd, f)
	}
}

func isTerminal(w io.Writer) bool {
	fd, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := fd.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func networkForChainID(id uint64) string {
	switch id {
	case 1:
		return "mainnet"
	case 560048:
		return "testnet"
	}
	return "devnet"
}

func runInterval(cmd *cobra.Command, f *intervalFlags) error {
	if f.index < interval.DryRun {
		return fmt.Errorf("--interval %d: want an interval index >= 0, or -1 for a dry run", f.index)
	}
	if f.ec == "" {
		return errors.New("--interval needs --ec-endpoint")
	}
	var bns []string
	for _, b := range f.bn {
		if b = strings.TrimSpace(b); b != "" {
			bns = append(bns, b)
		}
	}
	if len(bns) == 0 {
		return errors.New("--interval needs --bn-endpoint")
	}
	if !common.IsHexAddress(f.multicall) {
		return fmt.Errorf("--multicall %q is not an address", f.multicall)
	}
	errOut := cmd.ErrOrStderr()
	tty := isTerminal(errOut)
	mode := f.progress
	if mode == "auto" {
		mode = "log"
		if tty {
			mode = "bar"
		}
	}
	if mode != "bar" && mode != "log" && mode != "none" {
		return fmt.Errorf("--progress %q: want auto, bar, log or none", f.progress)
	}
	var log zerolog.Logger
	if tty {
		log = zerolog.New(zerolog.ConsoleWriter{Out: errOut, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	} else {
		log = zerolog.New(errOut).With().Timestamp().Logger()
	}
	log = log.Level(zerolog.InfoLevel)

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	ec, err := ethclient.DialContext(ctx, f.ec)
	if err != nil {
		return fmt.Errorf("connect to the execution client: %w", err)
	}
	defer ec.Close()
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	chainID, err := ec.ChainID(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("read the EL chain id: %w", err)
	}
	network := f.network
	if network == "" {
		network = networkForChainID(chainID.Uint64())
	}
	storage := f.storage
	if storage == "" {
		storage = rocketStorageByChainID[chainID.Uint64()]
	}
	if !common.IsHexAddress(storage) {
		return fmt.Errorf("no RocketStorage address for chain %s: give --storage-address", chainID)
	}
	eventsDir := f.eventsDir
	if eventsDir == "" {
		eventsDir = f.outDir
	}
	el, err := execution.New(ctx, execution.WithClient(ec), execution.WithStorageAddress(common.HexToAddress(storage)),
		execution.WithMulticall(common.HexToAddress(f.multicall)), execution.WithBatchSize(f.batch), execution.WithTimeout(f.timeout),
		execution.WithEventsDir(eventsDir), execution.WithNetwork(network), execution.WithPreSaturn(f.preSaturn), execution.WithLogger(log))
	if err != nil {
		return fmt.Errorf("execution reader: %w", err)
	}
	cl, err := beacon.New(ctx, beacon.WithAddresses(bns...), beacon.WithTimeout(f.timeout), beacon.WithLogger(log))
	if err != nil {
		return fmt.Errorf("beacon reader: %w", err)
	}
	defer cl.Close()
	sc := interval.ScannerConfig{Committees: f.committees, Concurrency: f.concurrency, Logger: log}
	if f.dataDir != "" {
		if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		sc.StorePath = filepath.Join(f.dataDir, "scan.db")
	}
	scanner, err := interval.NewBeaconScanner(cl, sc)
	if err != nil {
		return err
	}
	params := []interval.Parameter{interval.WithExecution(el), interval.WithBeacon(cl), interval.WithScanner(scanner),
		interval.WithNetwork(network), interval.WithRuleset(f.ruleset), interval.WithLogger(log)}
	bar := &progressBar{w: errOut}
	switch mode {
	case "bar":
		params = append(params, interval.WithProgress(bar.update, 200*time.Millisecond))
	case "log":
		params = append(params, interval.WithProgress(func(p interval.Progress) {
			log.Info().Uint64("epochs_done", p.EpochsDone).Uint64("epochs", p.Epochs).Uint64("blocks", p.Blocks).
				Str("blocks_per_s", fmt.Sprintf("%.1f", rate(p))).Str("eta", eta(p).String()).Msg("scan progress")
		}, 10*time.Second))
	}
	g, err := interval.New(ctx, params...)
	if err != nil {
		return err
	}
	var out *interval.Output
	if f.wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, f.wait)
		out, err = g.GenerateWhenFinal(wctx, f.index, 30*time.Second)
		cancel()
	} else {
		out, err = g.Generate(ctx, f.index)
	}
	bar.finish()
	if err != nil {
		return err
	}
	written, err := out.Write(f.outDir, network)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	r := out.Result
	fmt.Fprintf(w, "%s\n", out.Files.Root.Hex())
	fmt.Fprintf(w, "  %s interval %d, ruleset %d, %d nodes, %d successful attestations\n", r.FileNetwork(), r.Index, r.Ruleset, len(r.Nodes), r.SuccessfulAttestations)
	fmt.Fprintf(w, "  slots %d..%d, EL blocks %d..%d, intervals passed %d\n", out.Timing.ConsensusStartBlock, out.Timing.ConsensusEndBlock,
		out.Timing.ExecutionStartBlock, out.Timing.ExecutionEndBlock, out.Timing.IntervalsPassed)
	sd, err := out.Snapshot.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  snapshot digest    %s\n  duty record digest %s\n", sd, out.Scan.RecordDigest)
	for _, p := range written {
		fmt.Fprintf(w, "  wrote %s\n", p)
	}
	switch {
	case out.Canonical == nil:
		fmt.Fprintln(w, "no canonical root yet (interval not executed)")
	case out.Matches():
		fmt.Fprintf(w, "root matches canonical %s\n", out.Canonical.MerkleRoot.Hex())
	default:
		fmt.Fprintf(w, "MISMATCH with the canonical submission of interval %d:\n", out.Canonical.Index)
		for _, d := range out.Differences {
			fmt.Fprintf(w, "  %s\n", d)
		}
		return errReported
	}
	return nil
}

func rate(p interval.Progress) float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Blocks) / p.Elapsed.Seconds()
}

func eta(p interval.Progress) time.Duration {
	if p.EpochsDone == 0 || p.EpochsDone >= p.Epochs {
		return 0
	}
	per := p.Elapsed / time.Duration(p.EpochsDone)
	return (per * time.Duration(p.Epochs-p.EpochsDone)).Round(time.Second)
}

// progressBar is a carriage-return progress line for terminals.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func (b *progressBar) update(p interval.Progress) {
	const width = 30
	filled := 0
	if p.Epochs > 0 {
		filled = int(uint64(width) * p.EpochsDone / p.Epochs)
	}
	fmt.Fprintf(b.w, "\rinterval %d [%s%s] %d/%d epochs  %.1f blocks/s  ETA %s   ", p.Index, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), p.EpochsDone, p.Epochs, rate(p), eta(p))
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
