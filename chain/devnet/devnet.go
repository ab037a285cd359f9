// Package devnet runs a real proof-of-stake devnet on loopback for the devnet test tier: geth v1.17.8 and
// Prysm v7.1.2 (beacon node, validator client, prysmctl for the genesis), built once from the module proxy
// into the user cache by deploy/devnet/build.sh, with interop validators, Deneb at genesis, 32-slot epochs and
// short slots, offline (no discovery, no peers). Every client is started on free loopback ports with its data
// under one directory and stopped by its PID; every wait is bounded and fails with the tails of the logs.
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Devnet is a running devnet.
type Devnet struct {
	// Genesis and Setup are the chain's genesis facts and what the setup hook chose.
	Genesis *Genesis
	Setup   *Setup
	// ELURL is geth's JSON-RPC, BeaconURL the beacon node's REST API, BeaconRPC its gRPC (host:port).
	ELURL, BeaconURL, BeaconRPC string
	// Dir holds config, genesis, data directories, logs and the pids file.
	Dir string

	log   zerolog.Logger
	p     *parameters
	procs []*process
	http  *http.Client

	stopOnce sync.Once
	stopErr  error
}

func (d *Devnet) path(name string) string { return filepath.Join(d.Dir, name) }

// New generates a genesis, starts geth, the beacon node and the validator client, and returns once geth's
// JSON-RPC and the beacon node's REST API answer (before the genesis, normally). On error everything started
// is stopped again.
func New(ctx context.Context, params ...Parameter) (*Devnet, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("problem with parameters: %w", err)
	}
	if p.root == "" {
		if p.root, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("devnet directory: %w", err)
	}
	if entries, err := os.ReadDir(p.dir); err != nil {
		return nil, fmt.Errorf("devnet directory: %w", err)
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("devnet directory %s is not empty", p.dir)
	}
	d := &Devnet{Dir: p.dir, p: p, log: p.log.With().Str("service", "devnet").Logger(), http: &http.Client{Timeout: 10 * time.Second}}
	if d.Genesis, d.Setup, err = d.generateGenesis(); err != nil {
		return nil, err
	}
	if err := d.start(ctx); err != nil {
		stopErr := d.Stop()
		return nil, errors.Join(err, stopErr)
	}
	return d, nil
}

func (d *Devnet) start(ctx context.Context) error {
	p := d.p
	// TCP: geth http, authrpc, p2p; beacon http, rpc, p2p tcp, monitoring; validator monitoring, http.
	// UDP: beacon discovery and QUIC (the first two ports are reserved on UDP as well).
	ports, err := freePorts(11, 2)
	if err != nil {
		return err
	}
	udpPort, quicPort := ports[0], ports[1]
	gethHTTP, gethAuth, gethP2P := ports[2], ports[3], ports[4]
	bnHTTP, bnRPC, bnP2P, bnMon := ports[5], ports[6], ports[7], ports[8]
	vcMon, vcHTTP := ports[9], ports[10]
	d.ELURL = fmt.Sprintf("http://127.0.0.1:%d", gethHTTP)
	d.BeaconURL = fmt.Sprintf("http://127.0.0.1:%d", bnHTTP)
	d.BeaconRPC = fmt.Sprintf("127.0.0.1:%d", bnRPC)
	jwt := d.path("jwt.hex")
	defFee := d.Setup.DefaultFeeRecipient
	if defFee == ([20]byte{}) {
		defFee = defaultFeeRecipient
	}
	specs := []struct {
		name, bin string
		args      []string
	}{
		{"geth", p.bins.Geth, []string{"--datadir", d.path("geth"),
			"--http", "--http.addr", "127.0.0.1", "--http.port", itoa(gethHTTP), "--http.api", "eth,net,web3,debug,txpool",
			"--authrpc.addr", "127.0.0.1", "--authrpc.port", itoa(gethAuth), "--authrpc.jwtsecret", jwt,
			"--port", itoa(gethP2P), "--nodiscover", "--maxpeers", "0", "--ipcdisable",
			"--syncmode", "full", "--gcmode", "archive", "--verbosity", "3"}},
		{"beacon-chain", p.bins.BeaconChain, []string{"--datadir", d.path("beacon"),
			"--genesis-state", d.path("genesis.ssz"), "--chain-config-file", d.path("config.yaml"),
			"--accept-terms-of-use", "--force-clear-db", "--min-sync-peers=0", "--no-discovery", "--bootstrap-node=",
			"--interop-eth1data-votes", "--contract-deployment-block=0", "--chain-id=" + itoa(ChainID),
			"--jwt-secret", jwt, "--execution-endpoint", fmt.Sprintf("http://127.0.0.1:%d", gethAuth),
			"--http-host", "127.0.0.1", "--http-port", itoa(bnHTTP), "--rpc-host", "127.0.0.1", "--rpc-port", itoa(bnRPC),
			"--p2p-local-ip", "127.0.0.1", "--p2p-tcp-port", itoa(bnP2P), "--p2p-udp-port", itoa(udpPort), "--p2p-quic-port", itoa(quicPort),
			"--monitoring-host", "127.0.0.1", "--monitoring-port", itoa(bnMon),
			"--suggested-fee-recipient", defFee.Hex(), "--minimum-peers-per-subnet=0"}},
		{"validator", p.bins.Validator, []string{"--datadir", d.path("validator"),
			"--beacon-rpc-provider", d.BeaconRPC, "--chain-config-file", d.path("config.yaml"),
			"--accept-terms-of-use", "--force-clear-db",
			"--interop-num-validators", itoa(d.Genesis.Online), "--interop-start-index", "0",
			"--proposer-settings-file", d.path("proposer-settings.json"), "--graffiti", "odaowatch-devnet",
			"--monitoring-host", "127.0.0.1", "--monitoring-port", itoa(vcMon), "--http-host", "127.0.0.1", "--http-port", itoa(vcHTTP)}},
	}
	for _, s := range specs {
		proc, err := startProcess(s.name, s.bin, s.args, d.path(s.name+".log"), p.detached)
		if err != nil {
			return err
		}
		d.procs = append(d.procs, proc)
		d.log.Debug().Str("process", s.name).Int("pid", proc.pid()).Msg("started")
	}
	if err := d.writePIDs(); err != nil {
		return err
	}
	ready := func(ctx context.Context) (bool, error) {
		var id string
		if err := d.rpc(ctx, "eth_chainId", &id); err != nil {
			return false, nil
		}
		if v, err := strconv.ParseUint(strings.TrimPrefix(id, "0x"), 16, 64); err != nil || v != ChainID {
			return false, fmt.Errorf("geth answers chain id %q, want %d", id, ChainID)
		}
		var version struct {
			Data struct {
				Version string `json:"version"`
			} `json:"data"`
		}
		if err := d.getJSON(ctx, "/eth/v1/node/version", &version); err != nil {
			return false, nil
		}
		return true, nil
	}
	if err := d.WaitFor(ctx, "geth JSON-RPC and the beacon REST API", p.startTimeout, 250*time.Millisecond, ready); err != nil {
		return err
	}
	if late := time.Since(time.Unix(int64(d.Genesis.Time), 0)); late > 0 {
		d.log.Warn().Dur("late_by", late).Msg("the clients became ready after the genesis (raise the genesis delay)")
	}
	d.log.Info().Str("el", d.ELURL).Str("beacon", d.BeaconURL).Time("genesis", time.Unix(int64(d.Genesis.Time), 0)).
		Int("validators", len(d.Genesis.Pubkeys)).Int("online", d.Genesis.Online).Msg("devnet started")
	return nil
}

func itoa(v int) string { return strconv.Itoa(v) }

func (d *Devnet) writePIDs() error {
	var b strings.Builder
	for _, proc := range d.procs {
		fmt.Fprintf(&b, "%s %d\n", proc.name, proc.pid())
	}
	return os.WriteFile(d.path("pids"), []byte(b.String()), 0o644)
}

// PIDs gives each client's process id.
func (d *Devnet) PIDs() map[string]int {
	out := map[string]int{}
	for _, proc := range d.procs {
		out[proc.name] = proc.pid()
	}
	return out
}

// Stop stops the validator client, the beacon node and geth, in that order, each by its PID (SIGTERM, then
// SIGKILL after 20 s). It is safe to call more than once.
func (d *Devnet) Stop() error {
	d.stopOnce.Do(func() {
		var errs []error
		for i := len(d.procs) - 1; i >= 0; i-- {
			if err := d.procs[i].stop(20 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		d.stopErr = errors.Join(errs...)
		if d.stopErr == nil {
			d.log.Debug().Msg("devnet stopped")
		}
	})
	return d.stopErr
}

// Check returns an error naming every client that has exited.
func (d *Devnet) Check() error {
	var errs []error
	for _, proc := range d.procs {
		if done, err := proc.exited(); done {
			errs = append(errs, fmt.Errorf("%s (pid %d) exited: %v", proc.name, proc.pid(), err))
		}
	}
	return errors.Join(errs...)
}

// Tails returns the last n lines of every client's log, for failure messages.
func (d *Devnet) Tails(n int) string {
	var b strings.Builder
	for _, proc := range d.procs {
		fmt.Fprintf(&b, "==== %s (pid %d) %s\n%s\n", proc.name, proc.pid(), proc.log, tailFile(proc.log, n))
	}
	return b.String()
}

// WaitFor polls cond every poll until it reports true, for at most timeout. It fails at once when cond
// returns an error or a client exits; the error carries the tails of the logs.
func (d *Devnet) WaitFor(ctx context.Context, what string, timeout, poll time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err == nil && ok {
			return nil
		}
		if err == nil {
			err = d.Check()
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w\n%s", what, err, d.Tails(25))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: not reached within %s\n%s", what, timeout, d.Tails(25))
		case <-t.C:
		}
	}
}

// HeadSlot is the beacon node's head slot.
func (d *Devnet) HeadSlot(ctx context.Context) (uint64, error) {
	var h struct {
		Data struct {
			Header struct {
				Message struct {
					Slot string `json:"slot"`
				} `json:"message"`
			} `json:"header"`
		} `json:"data"`
	}
	if err := d.getJSON(ctx, "/eth/v1/beacon/headers/head", &h); err != nil {
		return 0, err
	}
	return strconv.ParseUint(h.Data.Header.Message.Slot, 10, 64)
}

// FinalizedEpoch is the head state's finalized checkpoint epoch.
func (d *Devnet) FinalizedEpoch(ctx context.Context) (uint64, error) {
	var f struct {
		Data struct {
			Finalized struct {
				Epoch string `json:"epoch"`
			} `json:"finalized"`
		} `json:"data"`
	}
	if err := d.getJSON(ctx, "/eth/v1/beacon/states/head/finality_checkpoints", &f); err != nil {
		return 0, err
	}
	return strconv.ParseUint(f.Data.Finalized.Epoch, 10, 64)
}

// WaitHeadSlot waits until the head reaches slot; the deadline is that slot's time plus grace.
func (d *Devnet) WaitHeadSlot(ctx context.Context, slot uint64, grace time.Duration) error {
	timeout := time.Until(time.Unix(int64(d.Genesis.SlotTime(slot)), 0)) + grace
	return d.WaitFor(ctx, fmt.Sprintf("head slot %d", slot), timeout, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		s, err := d.HeadSlot(ctx)
		return err == nil && s >= slot, nil
	})
}

// WaitFinalized waits until epoch is finalized. A healthy chain finalizes epoch e during epoch e+2, so the
// deadline is the start of epoch e+3 plus grace.
func (d *Devnet) WaitFinalized(ctx context.Context, epoch uint64, grace time.Duration) error {
	timeout := time.Until(time.Unix(int64(d.Genesis.SlotTime((epoch+3)*32)), 0)) + grace
	return d.WaitFor(ctx, fmt.Sprintf("finalized epoch %d", epoch), timeout, time.Second, func(ctx context.Context) (bool, error) {
		e, err := d.FinalizedEpoch(ctx)
		return err == nil && e >= epoch, nil
	})
}

func (d *Devnet) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.BeaconURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func (d *Devnet) rpc(ctx context.Context, method string, out any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.ELURL, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %s", method, r.Error.Message)
	}
	return json.Unmarshal(r.Result, out)
}
