// Package sim runs `watchtower sim`: the simulated network in-process (chain/simnet/scenario) with the oDAO
// members as independent watchtowers (own data directory, keystore, beacon endpoint, EL connection, scan store
// and duty state), through a number of reward intervals, and reports each member's roots against the consensus.
package sim

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/execution"
	"github.com/odaowatch/watchtower/chain/interval"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/simnet/scenario"
	"github.com/odaowatch/watchtower/watchtower"
	"github.com/odaowatch/watchtower/watchtower/pin"
	"github.com/odaowatch/watchtower/watchtower/rewardsduty"
)

//go:embed scenario.yaml
var defaultScenario []byte

// DefaultScenario is the embedded scenario (3 oDAO members, 128-slot intervals, Smoothing Pool income).
func DefaultScenario() []byte { return append([]byte(nil), defaultScenario...) }

// Config configures a simulation.
type Config struct {
	// DataDir holds one directory per member (required).
	DataDir string
	// Scenario YAML (default: the embedded one).
	Scenario []byte
	// Intervals to run (default 2).
	Intervals uint64
	// SlotsPerSecond of the compressed clock (default 40). The chain pauses while a member generates.
	SlotsPerSecond float64
	// Validators on the beacon chain (default 256), beacon Seed (default 11), Fork (default electra).
	Validators uint64
	Seed       uint64
	Fork       string
	// Timeout of the whole run (default 55 s).
	Timeout time.Duration
	// KuboURL, if set, pins every member's files through kubo's RPC API.
	KuboURL string
	Log     zerolog.Logger
	// MemberHooks, if set, returns test hooks for a member.
	MemberHooks func(name string) rewardsduty.Hooks
}

// MemberReport is one member's outcome.
type MemberReport struct {
	Name    string
	Address common.Address
	DataDir string
	Records []*rewardsduty.Record
	Pins    []pin.Status
	Pinned  bool
	// Final is the scan progress of each interval's final generation: how many of its block epochs were already
	// stored by scanning ahead while the interval ran.
	Final map[uint64]interval.Progress
}

// IntervalReport is one interval's outcome.
type IntervalReport struct {
	Index     uint64
	Consensus common.Hash // the executed RewardSnapshot's root (zero if not executed)
	Executed  bool
	Agree     bool // every member generated the consensus root
}

// Report is the outcome of a simulation.
type Report struct {
	Members   []MemberReport
	Intervals []IntervalReport
	Slots     uint64
	Elapsed   time.Duration
}

// OK is true when every interval was executed and every member agrees with it.
func (r *Report) OK() bool {
	if len(r.Intervals) == 0 {
		return false
	}
	for _, iv := range r.Intervals {
		if !iv.Executed || !iv.Agree {
			return false
		}
	}
	return true
}

// Print writes the human-readable report (deterministic for a given data directory).
func (r *Report) Print(w io.Writer) {
	for _, iv := range r.Intervals {
		fmt.Fprintf(w, "interval %d\n", iv.Index)
		for _, m := range r.Members {
			root := "(none)"
			for _, rec := range m.Records {
				if rec.Index == iv.Index && rec.Submission != nil {
					root = rec.Submission.MerkleRoot.Hex()
				}
			}
			ahead := ""
			if p, ok := m.Final[iv.Index]; ok {
				ahead = fmt.Sprintf("  (%d of %d block epochs scanned ahead)", p.Resumed, p.Epochs)
			}
			fmt.Fprintf(w, "  %-8s %s  root %s%s\n", m.Name, m.Address.Hex(), root, ahead)
		}
		if iv.Executed {
			fmt.Fprintf(w, "  consensus root %s (executed on chain)\n", iv.Consensus.Hex())
		} else {
			fmt.Fprintf(w, "  consensus: NOT executed\n")
		}
		fmt.Fprintf(w, "  members agree: %v\n", iv.Agree)
	}
	fmt.Fprintln(w, "files and pins")
	for _, m := range r.Members {
		fmt.Fprintf(w, "  %s: %s\n", m.Name, m.DataDir)
		for _, rec := range m.Records {
			for _, f := range rec.Files {
				rel, err := filepath.Rel(m.DataDir, f)
				if err != nil {
					rel = f
				}
				fmt.Fprintf(w, "    %s  %s\n", rel, pinText(m, filepath.Base(f)))
			}
		}
	}
	verdict := "FAILED"
	if r.OK() {
		verdict = "OK: all members agree and every snapshot was executed"
	}
	fmt.Fprintf(w, "%s\n", verdict)
}

func pinText(m MemberReport, name string) string {
	if !m.Pinned {
		return "not pinned"
	}
	for _, st := range m.Pins {
		if st.Name == name {
			if st.RemoteCID != "" && st.State == "mismatch" {
				return fmt.Sprintf("%s (CID MISMATCH: kubo %s, local %s)", st.State, st.RemoteCID, st.LocalCID)
			}
			return fmt.Sprintf("%s %s", st.State, st.LocalCID)
		}
	}
	return "not submitted for pinning"
}

const keystorePassword = "simnet-password"

// Run runs the simulation.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("sim: no data directory")
	}
	if cfg.Scenario == nil {
		cfg.Scenario = defaultScenario
	}
	if cfg.Intervals == 0 {
		cfg.Intervals = 2
	}
	if cfg.SlotsPerSecond <= 0 {
		cfg.SlotsPerSecond = 40
	}
	if cfg.Validators == 0 {
		cfg.Validators = 256
	}
	if cfg.Seed == 0 {
		cfg.Seed = 11
	}
	if cfg.Fork == "" {
		cfg.Fork = "electra"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 55 * time.Second
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	log := cfg.Log.With().Str("service", "sim").Logger()
	s, err := scenario.Parse(cfg.Scenario)
	if err != nil {
		return nil, fmt.Errorf("sim: parse scenario: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sim: create data directory: %w", err)
	}
	ksDir := filepath.Join(cfg.DataDir, "keystores")
	r, err := scenario.Start(ctx, scenario.RunConfig{
		Scenario: s, SlotsPerSecond: cfg.SlotsPerSecond,
		Beacon:      simbeacon.Scenario{Seed: cfg.Seed, ValidatorCount: cfg.Validators, MissedSlotRate: 0.05, LateInclusionRate: 0.05, Fork: cfg.Fork},
		KeystoreDir: ksDir, KeystorePassword: keystorePassword, Log: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: start network: %w", err)
	}
	defer r.Close()

	// The chain pauses while any member generates (so the in-process EL's recent-state window is never
	// outrun, whatever the machine's speed); members generate concurrently with each other.
	var gate sync.RWMutex
	generateGate := func(f func() error) error {
		gate.RLock()
		defer gate.RUnlock()
		return f()
	}

	steps := newLockstep()
	var members []*watchtower.Member
	finals := map[string]map[uint64]interval.Progress{}
	var finalMu sync.Mutex
	queues := map[string]*pin.Queue{}
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	for i, acct := range r.Net.Members {
		dir := filepath.Join(cfg.DataDir, acct.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		pw := filepath.Join(dir, "password")
		if err := os.WriteFile(pw, []byte(keystorePassword+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("sim: write password file: %w", err)
		}
		// Each member reads its own beacon API server over loopback.
		srv, err := simbeacon.NewServer(ctx, simbeacon.WithChain(r.Chain), simbeacon.WithListenAddress("127.0.0.1:0"))
		if err != nil {
			return nil, fmt.Errorf("sim: beacon server for %s: %w", acct.Name, err)
		}
		defer func() {
			c, cc := context.WithTimeout(context.Background(), 5*time.Second)
			defer cc()
			_ = srv.Stop(c)
		}()
		var hooks rewardsduty.Hooks
		if cfg.MemberHooks != nil {
			hooks = cfg.MemberHooks(acct.Name)
		}
		var q *pin.Queue
		if cfg.KuboURL != "" {
			k, err := pin.NewKubo(ctx, pin.WithKuboURL(cfg.KuboURL), pin.WithKuboLogger(log))
			if err != nil {
				return nil, fmt.Errorf("sim: kubo: %w", err)
			}
			if q, err = pin.NewQueue(ctx, pin.WithPinner(k), pin.WithLogger(log), pin.WithDeadline(20*time.Second)); err != nil {
				return nil, fmt.Errorf("sim: pin queue: %w", err)
			}
			queues[acct.Name] = q
		}
		final := map[uint64]interval.Progress{}
		finals[acct.Name] = final
		m, err := watchtower.NewMember(ctx, watchtower.MemberConfig{
			Name: acct.Name, ELURL: r.EL.URL(), BeaconURLs: []string{srv.URL()},
			Storage: r.Net.Deployment.StorageAddress, Multicall: r.Net.Deployment.Multicall,
			Network: "devnet", DataDir: dir, Keystore: r.Keystores[i], PasswordFile: pw, CatchUp: true, ScanAheadEvery: 1,
			Progress: func(p interval.Progress) {
				if p.Epochs > 0 && p.EpochsDone == p.Epochs {
					finalMu.Lock()
					final[p.Index] = p
					finalMu.Unlock()
				}
			},
			Tx:  watchtower.TxConfig{BumpAfterBlocks: 3, PollInterval: 20 * time.Millisecond, Timeout: 30 * time.Second},
			Log: cfg.Log, GenerateGate: generateGate, Hooks: hooks, Pins: q,
			WrapSender: func(s rewardsduty.Sender) rewardsduty.Sender {
				return parkingSender{Sender: s, l: steps, el: r.EL.Client()}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("sim: member %s: %w", acct.Name, err)
		}
		members = append(members, m)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Each member ticks once per slot when the stepper asks (see lockstep).
	ticks := make([]chan struct{}, len(members))
	idle := make([]chan struct{}, len(members))
	for i, m := range members {
		ticks[i], idle[i] = make(chan struct{}), make(chan struct{}, 1)
		idle[i] <- struct{}{}
		wg.Add(1)
		go func(m *watchtower.Member, tick <-chan struct{}, idle chan<- struct{}) {
			defer wg.Done()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick:
				}
				if _, err := m.Duty.Tick(runCtx); err != nil && runCtx.Err() == nil {
					m.Cfg.Log.Error().Err(err).Str("member", m.Name).Msg("rewards duty tick failed; retrying next slot")
				}
				idle <- struct{}{}
				steps.done()
			}
		}(m, ticks[i], idle[i])
	}
	guardian, err := bind.NewKeyedTransactorWithChainID(r.Net.Guardian.Key, big.NewInt(scenario.ELChainID))
	if err != nil {
		stop()
		steps.halt()
		wg.Wait()
		return nil, fmt.Errorf("sim: guardian transactor: %w", err)
	}
	guardian.GasLimit = 500_000
	pool := r.Net.Deployment.RewardsPool
	refilled := map[uint64]bool{}
	// refill: the simnet mints no inflation, so once an interval executed the guardian sets the next
	// interval's pending RPL (8000 RPL). Runs in the stepper, between slots.
	refill := func() error {
		idx, err := pool.GetRewardIndex(&bind.CallOpts{Context: runCtx})
		if err != nil || idx.Sign() == 0 || refilled[idx.Uint64()] {
			return nil
		}
		refilled[idx.Uint64()] = true
		n, err := r.EL.Client().PendingNonceAt(runCtx, r.Net.Guardian.Address)
		if err != nil {
			return fmt.Errorf("guardian nonce: %w", err)
		}
		o := *guardian
		o.Context = runCtx
		o.Nonce = new(big.Int).SetUint64(n)
		if _, err := pool.SimSetPendingRPLRewards(&o, new(big.Int).Mul(big.NewInt(8000), big.NewInt(1e18))); err != nil {
			return fmt.Errorf("set pending RPL: %w", err)
		}
		return nil
	}
	stepErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		period := time.Duration(float64(time.Second) / cfg.SlotsPerSecond)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			// One tick for every member that finished its last one; members still
			// inside a tick are parked waiting for a receipt.
			for i := range members {
				select {
				case <-idle[i]:
					steps.dispatch(1)
					select {
					case ticks[i] <- struct{}{}:
					case <-runCtx.Done():
						return
					}
				default:
				}
			}
			steps.settle()
			if runCtx.Err() != nil {
				return
			}
			gate.Lock()
			err := refill()
			if err == nil {
				err = r.Step(runCtx)
			}
			gate.Unlock()
			steps.produced()
			if err != nil && runCtx.Err() == nil {
				stepErr <- err
				return
			}
		}
	}()

	var runErr error
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			runErr = fmt.Errorf("sim: %d intervals not completed in %s: %w", cfg.Intervals, cfg.Timeout, ctx.Err())
			break loop
		case err := <-stepErr:
			runErr = fmt.Errorf("sim: chain step: %w", err)
			break loop
		case <-poll.C:
		}
		idxBig, err := pool.GetRewardIndex(&bind.CallOpts{Context: ctx})
		if err != nil {
			continue
		}
		idx := idxBig.Uint64()
		if idx >= cfg.Intervals && allDone(members, cfg.Intervals) {
			break loop
		}
	}
	stop()
	steps.halt()
	wg.Wait()

	rep := &Report{Slots: uint64(r.HeadSlot()), Elapsed: time.Since(start)}
	el, err := execution.New(context.Background(), execution.WithClient(r.EL.Client()), execution.WithStorageAddress(r.Net.Deployment.StorageAddress),
		execution.WithMulticall(r.Net.Deployment.Multicall))
	if err != nil {
		return nil, fmt.Errorf("sim: execution reader: %w", err)
	}
	for _, m := range members {
		recs, err := m.State.All()
		if err != nil {
			return nil, err
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Index < recs[j].Index })
		finalMu.Lock()
		mr := MemberReport{Name: m.Name, Address: m.Tx.Address(), DataDir: m.Cfg.DataDir, Records: recs, Final: maps.Clone(finals[m.Name])}
		finalMu.Unlock()
		if q, ok := queues[m.Name]; ok {
			mr.Pinned = true
			wctx, wc := context.WithTimeout(context.Background(), 20*time.Second)
			for _, rec := range recs {
				for _, f := range rec.Files {
					_, _ = q.Wait(wctx, filepath.Base(f))
				}
			}
			wc()
			mr.Pins = q.Statuses()
		}
		rep.Members = append(rep.Members, mr)
	}
	for i := uint64(0); i < cfg.Intervals; i++ {
		iv := IntervalReport{Index: i}
		if ev, err := el.RewardSnapshotEvent(context.Background(), i); err == nil {
			iv.Executed, iv.Consensus = true, ev.MerkleRoot
		}
		iv.Agree = iv.Executed
		for _, m := range rep.Members {
			found := false
			for _, rec := range m.Records {
				if rec.Index == i && rec.Submission != nil && rec.Submission.MerkleRoot == iv.Consensus {
					found = true
				}
			}
			iv.Agree = iv.Agree && found
		}
		rep.Intervals = append(rep.Intervals, iv)
	}
	return rep, runErr
}

// allDone: every member has a final record (executed or generate-only) for every interval.
func allDone(members []*watchtower.Member, intervals uint64) bool {
	for _, m := range members {
		for i := uint64(0); i < intervals; i++ {
			rec, err := m.State.Get(i)
			if err != nil || rec == nil || (rec.Phase != rewardsduty.PhaseExecuted && rec.Phase != rewardsduty.PhaseGenerateOnly) {
				return false
			}
		}
	}
	return true
}
