package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/config"
	"github.com/odaowatch/watchtower/watchtower"
	"github.com/odaowatch/watchtower/watchtower/metrics"
	"github.com/odaowatch/watchtower/watchtower/pin"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func newLogger(level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log.level: %w", err)
	}
	var log zerolog.Logger
	if format == "console" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339})
	} else {
		log = zerolog.New(os.Stderr)
	}
	return log.Level(lvl).With().Timestamp().Logger(), nil
}

// newRunCmd is `watchtower run`: the daemon.
func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the oDAO watchtower daemon (rewards duty, transactions, pinning, metrics)",
		Long: "Run the watchtower. Configuration: defaults < YAML file (--config or WATCHTOWER_CONFIG) < environment\n" +
			"WATCHTOWER_<KEY> < flags. Keys: " + fmt.Sprint(config.Keys()) + ".\n" +
			"Without wallet.keystore the daemon is in dry-run mode (builds and logs transactions, never sends).",
		Example: "  watchtower run --config /etc/watchtower/watchtower.yaml\n" +
			"  WATCHTOWER_EXECUTION_URL=http://127.0.0.1:8545 watchtower run --config watchtower.yaml --log-level debug",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.Getenv)
			if err != nil {
				return fmt.Errorf("configuration: %w", err)
			}
			log, err := newLogger(cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDaemon(ctx, cfg, log)
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

// runDaemon wires and runs the services: metrics server, pin queue, then the rewards duty; stopped in reverse.
func runDaemon(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	m, err := metrics.New(ctx, metrics.WithVersion(version), metrics.WithLogger(log))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var q *pin.Queue
	pinCtx, stopPins := context.WithCancel(context.Background())
	defer stopPins()
	if cfg.IPFS.API != "" {
		k, err := pin.NewKubo(ctx, pin.WithKuboURL(cfg.IPFS.API), pin.WithKuboLogger(log))
		if err != nil {
			return fmt.Errorf("kubo: %w", err)
		}
		if q, err = pin.NewQueue(pinCtx, pin.WithPinner(k), pin.WithObserver(m), pin.WithLogger(log),
			pin.WithAttempts(cfg.IPFS.Attempts), pin.WithDeadline(cfg.IPFS.Deadline)); err != nil {
			return fmt.Errorf("pin queue: %w", err)
		}
		_ = m.AddCheck("kubo reachable", k.Check)
	}
	memberCfg := watchtower.MemberConfig{
		Name: "self", ELURL: cfg.Execution.URL, BeaconURLs: cfg.Beacon.URLs,
		Storage: common.HexToAddress(cfg.Contracts.RocketStorage), Network: cfg.Network, Ruleset: cfg.Ruleset,
		DataDir: cfg.DataDir, OutDir: cfg.OutputDir, Keystore: cfg.Wallet.Keystore, PasswordFile: cfg.Wallet.PasswordFile,
		From: cfg.Wallet.From, GenerateOnly: cfg.GenerateOnly, CatchUp: cfg.CatchUp, ScanAheadEvery: cfg.ScanAheadEvery,
		Tx: watchtower.TxConfig{MaxFeeCap: config.Gwei(cfg.Tx.MaxFeeGwei), BumpAfterBlocks: cfg.Tx.BumpAfterBlocks,
			BumpPercent: cfg.Tx.BumpPercent, Timeout: cfg.Tx.Timeout, PollInterval: cfg.Tx.PollInterval},
		Log: log, Observers: []rewardsduty.Observer{m}, TxObservers: []txmgr.Observer{m},
		Registerer: m.Registerer(), ELHTTPClient: &http.Client{Transport: m.RoundTripper(cfg.Execution.URL, nil)}, Pins: q,
		Progress: func(p interval.Progress) {
			if p.Epochs > 0 {
				m.IntervalProgress(p.Index, float64(p.EpochsDone)/float64(p.Epochs))
			}
		},
	}
	if cfg.Contracts.Multicall3 != "" {
		memberCfg.Multicall = common.HexToAddress(cfg.Contracts.Multicall3)
	}
	member, err := watchtower.NewMember(ctx, memberCfg)
	if err != nil {
		return err
	}
	defer member.Close()
	_ = m.AddCheck("el reachable", metrics.ExecutionCheck(cfg.Execution.URL, nil))
	_ = m.AddCheck("rewards duty", m.DutyCheck(rewardsduty.DutyName, cfg.Metrics.DutyMaxAge))

	epochServices, err := epochDuties(ctx, cfg, member, m, log)
	if err != nil {
		return err
	}
	sched := &watchtower.Scheduler{Log: log}
	services := []watchtower.Service{
		{Name: "metrics", Run: func(ctx context.Context) error {
			srv, err := metrics.NewServer(ctx, metrics.WithMetrics(m), metrics.WithListenAddress(cfg.Metrics.Listen),
				metrics.WithAllowNonLoopback(cfg.Metrics.AllowNonLoopback), metrics.WithServerLogger(log))
			if err != nil {
				return err
			}
			log.Info().Str("address", srv.Addr()).Msg("serving /metrics and /healthz")
			<-srv.Done()
			return srv.Err()
		}},
		{Name: "rewards", Run: func(ctx context.Context) error {
			member.Duty.Loop(ctx, cfg.TickPeriod, func(_ *rewardsduty.Result, err error) { m.DutyRun(rewardsduty.DutyName, err) })
			return nil
		}},
	}
	return sched.Run(ctx, append(services, epochServices...)...)
}
