package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

func init() { simnetCommands = append(simnetCommands, newSimnetUpCmd) }

// defaultScenario is the bundled two-interval scenario (path from the repository root).
const defaultScenario = "chain/simnet/scenario/testdata/two-intervals.yaml"

func newSimnetUpCmd() *cobra.Command {
	var (
		scenarioPath   string
		slotsPerSecond float64
		intervals      uint64
		elPort         int
		beaconAddress  string
		keystoreDir    string
		validators     uint64
		verbose        bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up the simulated network (EL JSON-RPC + Beacon API on loopback) and advance it in compressed time",
		Long: `up deploys and seeds the simulated protocol contracts on an in-process geth node, starts a beacon
chain whose execution payloads are that node's blocks, serves both on loopback, prints the endpoints, the oDAO
keystore files and the current interval, and advances the chain at --slots-per-second until --intervals
rewards intervals are finalized (0 = until interrupted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := scenario.Load(scenarioPath)
			if err != nil {
				return fmt.Errorf("load scenario: %w", err)
			}
			if keystoreDir == "" {
				if keystoreDir, err = os.MkdirTemp("", "odaowatch-simnet-keys-"); err != nil {
					return fmt.Errorf("create keystore folder: %w", err)
				}
			}
			if err := os.MkdirAll(keystoreDir, 0o700); err != nil {
				return fmt.Errorf("create keystore folder: %w", err)
			}
			// A fresh password per run, written to a private file; never printed.
			pw := make([]byte, 16)
			if _, err := rand.Read(pw); err != nil {
				return fmt.Errorf("generate keystore password: %w", err)
			}
			password := hex.EncodeToString(pw)
			pwFile := filepath.Join(keystoreDir, "password")
			if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
				return fmt.Errorf("write keystore password file: %w", err)
			}
			level := zerolog.WarnLevel
			if verbose {
				level = zerolog.InfoLevel
			}
			log := zerolog.New(zerolog.ConsoleWriter{Out: cmd.ErrOrStderr(), TimeFormat: time.TimeOnly}).Level(level).With().Timestamp().Logger()

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := scenario.RunConfig{
				Scenario: s, SlotsPerSecond: slotsPerSecond, Intervals: intervals, ELPort: elPort,
				BeaconAddress: beaconAddress, KeystoreDir: keystoreDir, KeystorePassword: password, Log: log,
			}
			cfg.Beacon.ValidatorCount = validators
			r, err := scenario.Start(ctx, cfg)
			if err != nil {
				return fmt.Errorf("start simulated network: %w", err)
			}
			defer r.Close()
			out := cmd.OutOrStdout()
			fmt.Fprint(out, r.Summary())
			fmt.Fprintf(out, "keystore password:   in %s\n", pwFile)
			started := time.Now()
			lastInterval := r.CurrentInterval()
			err = r.Run(ctx, func(_ phase0.Slot) {
				if iv := r.CurrentInterval(); iv != lastInterval {
					lastInterval = iv
					fmt.Fprintf(out, "slot %d: interval %d began (%.1f s)\n", r.HeadSlot(), iv, time.Since(started).Seconds())
				}
			})
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("run simulated network: %w", err)
			}
			fmt.Fprintf(out, "stopped at slot %d, interval %d, after %.1f s\n", r.HeadSlot(), r.CurrentInterval(), time.Since(started).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenarioPath, "scenario", defaultScenario, "scenario YAML file")
	f.Float64Var(&slotsPerSecond, "slots-per-second", 20, "chain slots advanced per wall-clock second")
	f.Uint64Var(&intervals, "intervals", 0, "stop once this many rewards intervals are finalized (0 = run until interrupted)")
	f.IntVar(&elPort, "el-port", 0, "loopback port of the EL JSON-RPC server (0 = any free port)")
	f.StringVar(&beaconAddress, "beacon-address", "", "loopback address of the Beacon API server (default: any free port)")
	f.StringVar(&keystoreDir, "keystore-dir", "", "folder for the generated oDAO keystores and their password file (default: a new temporary folder)")
	f.Uint64Var(&validators, "validators", 0, "beacon validator count (0 = scenario default)")
	f.BoolVar(&verbose, "verbose", false, "log progress")
	return cmd
}
