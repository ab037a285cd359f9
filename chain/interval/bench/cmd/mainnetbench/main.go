// Command mainnetbench runs the mainnet-scale treegen scan benchmark (package
// chain/interval/bench) as two processes:
//
//	mainnetbench serve --addr 127.0.0.1:15099            # simulated beacon node; prints its URL
//	mainnetbench scan  --url http://127.0.0.1:15099 --mode optimized|baseline [--epochs N]
//
// Both sides take the same shape flags (--validators, --protocol, --interval-epochs,
// --seed). deploy/bench/mainnet.sh wraps them with /usr/bin/time -v.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/interval/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mainnetbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "scan") {
		return fmt.Errorf("usage: mainnetbench serve|scan [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	shape := bench.Mainnet
	fs.Uint64Var(&shape.Validators, "validators", shape.Validators, "validators in the registry")
	fs.Uint64Var(&shape.Protocol, "protocol", shape.Protocol, "protocol validators scanned")
	fs.Uint64Var(&shape.StartEpoch, "start-epoch", shape.StartEpoch, "first epoch of the interval")
	fs.Uint64Var(&shape.Epochs, "interval-epochs", shape.Epochs, "epochs in the interval")
	fs.Uint64Var(&shape.Seed, "seed", shape.Seed, "seed of the simulated chain")
	addr := fs.String("addr", "127.0.0.1:15099", "serve: loopback listen address")
	url := fs.String("url", "http://127.0.0.1:15099", "scan: beacon node URL")
	mode := fs.String("mode", bench.ModeOptimized, "scan: optimized or baseline")
	epochs := fs.Uint64("epochs", 0, "scan: scan only the first N epochs of the interval (0 = all)")
	conc := fs.Int("concurrency", 0, "scan: epochs in flight (optimized; 0 = treegen default)")
	bconc := fs.Int("block-concurrency", 0, "scan: blocks in flight per epoch (optimized; 0 = treegen default)")
	logLevel := fs.String("log-level", "warn", "log level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process to the file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("parse log level: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if args[0] == "serve" {
		return bench.Serve(ctx, shape, *addr, log, func(u string) { fmt.Println(u) })
	}
	last := time.Now()
	rep, err := bench.Run(ctx, bench.RunConfig{URL: *url, Shape: shape, Mode: *mode, LimitEpochs: *epochs,
		Concurrency: *conc, BlockConcurrency: *bconc, Logger: log,
		Progress: func(done, blocks uint64) {
			if time.Since(last) >= 30*time.Second {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "%s progress: %d epochs, %d blocks\n", time.Now().UTC().Format(time.TimeOnly), done, blocks)
			}
		}})
	if err != nil {
		return err
	}
	fmt.Printf("mode=%s validators=%d protocol=%d epochs=%d blocks=%d wall_s=%.1f epochs_per_s=%.2f blocks_per_s=%.1f record_validators=%d digest=%s\n",
		rep.Mode, shape.Validators, shape.Protocol, rep.Epochs, rep.Blocks, rep.Wall.Seconds(), rep.EpochsPerSecond(), rep.BlocksPerSecond(),
		rep.Validators, rep.RecordDigest)
	return nil
}
