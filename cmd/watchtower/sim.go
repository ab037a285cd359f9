package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/odaowatch/watchtower/watchtower/sim"
)

// newSimCmd is `watchtower sim`: the simulated network with three independent watchtowers.
func newSimCmd() *cobra.Command {
	var (
		dataDir, scenarioPath, kubo, logLevel, logFormat string
		intervals, validators                            uint64
		slotsPerSecond                                   float64
		timeout                                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate the oDAO: 3 independent watchtowers vote on 2 reward intervals of an in-process network",
		Long: "Brings up the simulated network in-process (EL node, Rocket Pool contracts, beacon chain, all on loopback),\n" +
			"runs every oDAO member as an independent watchtower (own data directory, keystore, endpoint, stores) and\n" +
			"prints each member's root, the consensus, the pinned CIDs and where the files are.\n" +
			"Exit status 0 only if every member agrees with the executed consensus for every interval.",
		Example: "  watchtower sim\n  watchtower sim --data-dir ./sim-out --kubo http://127.0.0.1:5001",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			if dataDir == "" {
				if dataDir, err = os.MkdirTemp("", "watchtower-sim-"); err != nil {
					return fmt.Errorf("create data directory: %w", err)
				}
			}
			if dataDir, err = filepath.Abs(dataDir); err != nil {
				return err
			}
			var sc []byte
			if scenarioPath != "" {
				if sc, err = os.ReadFile(scenarioPath); err != nil {
					return fmt.Errorf("read scenario: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := sim.Run(ctx, sim.Config{DataDir: dataDir, Scenario: sc, Intervals: intervals, Validators: validators,
				SlotsPerSecond: slotsPerSecond, Timeout: timeout, KuboURL: kubo, Log: log})
			if rep != nil {
				rep.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if !rep.OK() {
				return fmt.Errorf("members disagree or a snapshot was not executed")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "", "directory for the members' data (default: a new temporary directory)")
	f.StringVar(&scenarioPath, "scenario", "", "scenario YAML (default: the embedded 3-member scenario)")
	f.StringVar(&kubo, "kubo", "", "kubo RPC API URL to pin the files to (default: not pinned)")
	f.Uint64Var(&intervals, "intervals", 2, "reward intervals to run")
	f.Uint64Var(&validators, "validators", 256, "beacon validators")
	f.Float64Var(&slotsPerSecond, "slots-per-second", 40, "compressed clock (the chain pauses while members generate)")
	f.DurationVar(&timeout, "timeout", 55*time.Second, "give up after this long")
	f.StringVar(&logLevel, "log-level", "warn", "log level (logs go to stderr)")
	f.StringVar(&logFormat, "log-format", "console", "json or console")
	return cmd
}
