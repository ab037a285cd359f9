// Command mainnetbench runs the mainnet-scale treegen scan benchmark (package
// chain/interval/bench) as two processes:
//
//	mainnetbench prepare --store DIR [--reuse]          # generate the chain's blocks once into a block store
//	mainnetbench serve --addr 127.0.0.1:15099 [--store DIR]  # simulated beacon node; prints its URL
//	mainnetbench scan  --url http://127.0.0.1:15099 --mode optimized|baseline [--epochs N]
//
// All take the same shape flags (--validators, --protocol, --interval-epochs,
// --seed). deploy/bench/mainnet.sh wraps them with /usr/bin/time -v.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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
	if len(args) == 0 || (args[0] != "prepare" && args[0] != "serve" && args[0] != "scan") {
		return fmt.Errorf("usage: mainnetbench prepare|serve|scan [flags]")
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
	epochs := fs.Uint64("epochs", 0, "scan: scan only the first N epochs of the interval (0 = all); prepare: store only the blocks such a scan reads")
	storeDir := fs.String("store", "", "prepare, serve: block store directory (serve: empty = generate blocks on request)")
	reuse := fs.Bool("reuse", false, "prepare: keep a store already in --store that fits the shape")
	workers := fs.Int("workers", runtime.NumCPU(), "prepare: block generation workers")
	conc := fs.Int("concurrency", 0, "scan: epochs in flight (optimized; 0 = treegen default)")
	bconc := fs.Int("block-concurrency", 0, "scan: blocks in flight per epoch (optimized; 0 = treegen default)")
	logLevel := fs.String("log-level", "warn", "log level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process to the file")
	memLimit := fs.Int64("memory-limit-mib", 1700, "scan: soft memory limit of the Go runtime in MiB (treegen's default; 0 = none); GOMEMLIMIT in the environment takes precedence")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("parse log level: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	if *memLimit < 0 {
		return fmt.Errorf("--memory-limit-mib %d is negative", *memLimit)
	}
	if args[0] == "scan" && os.Getenv("GOMEMLIMIT") == "" && *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit << 20)
	}
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
	switch args[0] {
	case "serve":
		return bench.Serve(ctx, shape, bench.ServeConfig{Addr: *addr, StoreDir: *storeDir, Logger: log, Ready: func(u string) { fmt.Println(u) }})
	case "prepare":
		t0 := time.Now()
		last := t0
		reused, err := bench.PrepareStore(ctx, shape, bench.PrepareConfig{Dir: *storeDir, LimitEpochs: *epochs, Workers: *workers, Reuse: *reuse, Logger: log,
			Progress: func(done, total uint64) {
				if time.Since(last) >= 30*time.Second {
					last = time.Now()
					fmt.Fprintf(os.Stderr, "%s prepare: %d of %d slots\n", time.Now().UTC().Format(time.TimeOnly), done, total)
				}
			}})
		if err != nil {
			return err
		}
		size := int64(0)
		if ents, err := os.ReadDir(*storeDir); err == nil {
			for _, e := range ents {
				if fi, err := e.Info(); err == nil {
					size += fi.Size()
				}
			}
		}
		fmt.Printf("prepare store=%s reused=%v wall_s=%.1f bytes=%d\n", *storeDir, reused, time.Since(t0).Seconds(), size)
		return nil
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
