package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
)

func init() { simnetCommands = append(simnetCommands, newSimnetBeaconCmd) }

// newSimnetBeaconCmd runs the simulated beacon chain on loopback.
func newSimnetBeaconCmd() *cobra.Command {
	var (
		host         string
		port         int
		scenarioPath string
		seed         uint64
		validators   uint64
		headSlot     uint64
		slotsPerEp   uint64
		fork         string
		duration     time.Duration
		faults       beacon.Faults
		logLevel     string
	)
	cmd := &cobra.Command{
		Use:   "beacon",
		Short: "Serve a deterministic simulated beacon chain over the Beacon API (loopback only)",
		Example: "  watchtower simnet beacon --port 15052 --scenario scenario.yaml\n" +
			"  watchtower simnet beacon --validators 1100000 --head-slot 201600 --seed 1",
		RunE: func(cmd *cobra.Command, _ []string) error {
			lvl, err := zerolog.ParseLevel(logLevel)
			if err != nil {
				return fmt.Errorf("parse log level: %w", err)
			}
			log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
			sc := &beacon.Scenario{}
			if scenarioPath != "" {
				if sc, err = beacon.LoadScenario(scenarioPath); err != nil {
					return err
				}
			}
			flags := cmd.Flags()
			if flags.Changed("seed") || scenarioPath == "" {
				sc.Seed = seed
			}
			if flags.Changed("validators") || sc.ValidatorCount == 0 {
				sc.ValidatorCount = validators
			}
			if flags.Changed("head-slot") {
				sc.HeadSlot = headSlot
			}
			if flags.Changed("slots-per-epoch") {
				sc.SlotsPerEpoch = slotsPerEp
			}
			if flags.Changed("fork") {
				sc.Fork = fork
			}
			if sc.GenesisTime == 0 && sc.HeadSlot == 0 {
				return fmt.Errorf("set genesis_time in the scenario or --head-slot: a zero genesis follows the wall clock from 1970")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			chain, err := beacon.New(ctx, beacon.WithScenario(sc), beacon.WithLogger(log), beacon.WithPrefetch(true))
			if err != nil {
				return err
			}
			srv, err := beacon.NewServer(ctx,
				beacon.WithChain(chain),
				beacon.WithListenAddress(net.JoinHostPort(host, strconv.Itoa(port))),
				beacon.WithFaults(faults),
				beacon.WithServerLogger(log),
			)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), srv.URL())
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Stop(shutdown)
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "loopback address to listen on")
	f.IntVar(&port, "port", 15052, "port to listen on (0 = any free port)")
	f.StringVar(&scenarioPath, "scenario", "", "scenario YAML file (chain/simnet/beacon.Scenario)")
	f.Uint64Var(&seed, "seed", 1, "seed (overrides the scenario)")
	f.Uint64Var(&validators, "validators", 2048, "validator count (overrides the scenario)")
	f.Uint64Var(&headSlot, "head-slot", 0, "fixed head slot (0 = follow the wall clock)")
	f.Uint64Var(&slotsPerEp, "slots-per-epoch", 32, "slots per epoch (overrides the scenario)")
	f.StringVar(&fork, "fork", "electra", "electra or deneb (overrides the scenario)")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0 = until interrupted)")
	f.DurationVar(&faults.Latency, "fault-latency", 0, "added latency per response")
	f.Float64Var(&faults.ErrorRate, "fault-error-rate", 0, "share of requests answered 503")
	f.Float64Var(&faults.TruncateRate, "fault-truncate-rate", 0, "share of responses cut short")
	f.Float64Var(&faults.WrongDataRate, "fault-wrong-data-rate", 0, "share of responses with one altered byte")
	f.BoolVar(&faults.SkipNodeEndpoints, "fault-skip-node", true, "never inject faults into /eth/v1/node/*")
	f.StringVar(&logLevel, "log-level", "info", "log level")
	return cmd
}
