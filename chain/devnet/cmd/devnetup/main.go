// Command devnetup starts the devnet of the devnet tier for manual use (deploy/devnet/start.sh): geth, a Prysm
// beacon node and a Prysm validator client on free loopback ports, detached from this process, and — unless
// -protocol=false — our protocol deployed and seeded on it with the tier's layout (chain/devnet.ScenarioYAML).
// It prints the endpoints, the RocketStorage and Multicall3 addresses and the oDAO members' keystores, then
// exits; deploy/devnet/stop.sh DIR stops the clients by the PIDs in DIR/pids.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/devnet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devnetup:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for config, genesis, data, logs and the pids file (must be empty or absent)")
	offline := flag.Int("offline", devnet.LayoutOffline, "interop validators left out of the validator client (the last ones)")
	slot := flag.Uint64("seconds-per-slot", 2, "slot time in seconds (Prysm needs at least 2)")
	epochs := flag.Uint64("interval-epochs", 5, "length of reward interval 0 in epochs (it starts with epoch 1; at least 4, see deploy/devnet/README.md)")
	protocol := flag.Bool("protocol", true, "deploy and seed our protocol contracts with the tier's layout")
	password := flag.String("password", "devnet", "password of the oDAO members' keystores")
	flag.Parse()
	if *dir == "" {
		return errors.New("-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	ctx, cancel := context.WithTimeout(context.Background(), devnet.BuildTimeout+10*time.Minute)
	defer cancel()
	root, err := devnet.RepoRoot()
	if err != nil {
		return err
	}
	bins, err := devnet.Build(ctx, root, os.Stderr)
	if err != nil {
		return err
	}
	var proto *devnet.Protocol
	params := []devnet.Parameter{devnet.WithBinaries(bins), devnet.WithRepoRoot(root), devnet.WithDir(abs), devnet.WithOffline(*offline),
		devnet.WithSecondsPerSlot(*slot), devnet.WithDetached(true), devnet.WithLogger(log)}
	if *protocol {
		params = append(params, devnet.WithSetup(func(g *devnet.Genesis) (*devnet.Setup, error) {
			if proto, err = devnet.NewProtocol(ctx, g, *epochs); err != nil {
				return nil, err
			}
			return proto.Setup(g)
		}))
	}
	dn, err := devnet.New(ctx, params...)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = dn.Stop()
		return err
	}
	fmt.Printf("EL (geth JSON-RPC)       %s\nbeacon node (REST API)   %s\ngenesis                  %s\npids                     %s\nlogs                     %s/*.log\n",
		dn.ELURL, dn.BeaconURL, time.Unix(int64(dn.Genesis.Time), 0).Format(time.RFC3339), filepath.Join(abs, "pids"), abs)
	if !*protocol {
		return nil
	}
	if err := dn.WaitHeadSlot(ctx, 1, 90*time.Second); err != nil {
		return fail(err)
	}
	ec, err := ethclient.DialContext(ctx, dn.ELURL)
	if err != nil {
		return fail(err)
	}
	defer ec.Close()
	net, err := proto.Seed(ctx, ec)
	if err != nil {
		return fail(err)
	}
	if _, err := net.ApplyUntil(ctx, dn.Genesis.Time); err != nil {
		return fail(err)
	}
	keys, err := net.Scenario.WriteKeystores(filepath.Join(abs, "keystores"), *password)
	if err != nil {
		return fail(err)
	}
	pw := filepath.Join(abs, "keystores", "password")
	if err := os.WriteFile(pw, []byte(*password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	fmt.Printf("RocketStorage            %s\nMulticall3               %s\n", net.Deployment.StorageAddress.Hex(), net.Deployment.Multicall.Hex())
	for i, m := range net.Members {
		fmt.Printf("oDAO member %-12s %s keystore %s\n", m.Name, m.Address.Hex(), keys[i])
	}
	fmt.Printf("keystore password file   %s\n", pw)
	first := uint64(devnet.IntervalStartSlot / 32)
	fmt.Printf("reward interval 0        duties of epochs %d..%d (due once epoch %d is finalized)\n", first, first+*epochs, first+*epochs+1)
	return nil
}
