package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/defection"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/config"
	"github.com/odaowatch/watchtower/megapool"
	"github.com/odaowatch/watchtower/tree"
	"github.com/odaowatch/watchtower/watchtower"
	"github.com/odaowatch/watchtower/watchtower/metrics"
)

// Names under which the epoch duties report to /healthz and the duty metrics.
const (
	megapoolDutyName  = megapool.DutyName
	defectionDutyName = "defection"
)

// chainTiming is the beacon chain's slot timing.
type chainTiming struct {
	genesis        uint64
	secondsPerSlot uint64
	slotsPerEpoch  uint64
}

func readTiming(ctx context.Context, member *watchtower.Member) (chainTiming, error) {
	g, err := member.Beacon.Genesis(ctx)
	if err != nil {
		return chainTiming{}, fmt.Errorf("read beacon genesis: %w", err)
	}
	spec, err := member.Beacon.SpecValues(ctx)
	if err != nil {
		return chainTiming{}, fmt.Errorf("read beacon spec: %w", err)
	}
	sh, err := member.Beacon.ShuffleSpec(ctx)
	if err != nil {
		return chainTiming{}, fmt.Errorf("read beacon spec: %w", err)
	}
	t := chainTiming{genesis: uint64(g.GenesisTime.Unix()), slotsPerEpoch: sh.SlotsPerEpoch}
	switch v := spec["SECONDS_PER_SLOT"].(type) {
	case time.Duration:
		t.secondsPerSlot = uint64(v / time.Second)
	case string:
		t.secondsPerSlot, err = strconv.ParseUint(v, 10, 64)
	case uint64:
		t.secondsPerSlot = v
	default:
		err = fmt.Errorf("SECONDS_PER_SLOT has type %T", v)
	}
	if err != nil || t.secondsPerSlot == 0 || t.slotsPerEpoch == 0 {
		return chainTiming{}, fmt.Errorf("read beacon spec: bad slot timing (%v)", err)
	}
	return t, nil
}

// everyEpoch polls the beacon head every tick and runs fn once for each new
// head epoch (at once for the first). A failed round is logged and reported,
// and the same epoch is tried again at the next tick. Following the chain's
// epochs rather than a wall-clock epoch keeps one round per epoch at any chain
// speed (the simulated network runs in compressed time).
func everyEpoch(ctx context.Context, tick time.Duration, t chainTiming, member *watchtower.Member, name string, m *metrics.Metrics, log zerolog.Logger, fn func(context.Context) error) error {
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	last := int64(-1)
	for {
		hdr, err := member.Beacon.Header(ctx, "head")
		switch {
		case err != nil:
			err = fmt.Errorf("read beacon head: %w", err)
		case hdr == nil || hdr.Header == nil || hdr.Header.Message == nil:
			err = errors.New("read beacon head: empty answer")
		}
		if err == nil {
			if epoch := int64(uint64(hdr.Header.Message.Slot) / t.slotsPerEpoch); epoch > last {
				if err = fn(ctx); err == nil {
					last = epoch
				}
				if ctx.Err() != nil {
					return nil
				}
				m.DutyRun(name, err)
			}
		} else if ctx.Err() == nil {
			m.DutyRun(name, err)
		}
		if err != nil && ctx.Err() == nil {
			log.Error().Err(err).Str("duty", name).Msg("duty round failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// epochDuties builds the megapool watcher and the defection follower that
// `watchtower run` schedules next to the rewards duty, as configured.
func epochDuties(ctx context.Context, cfg *config.Config, member *watchtower.Member, m *metrics.Metrics, log zerolog.Logger) ([]watchtower.Service, error) {
	if !cfg.Megapool.Enabled && !cfg.Defection.Enabled {
		return nil, nil
	}
	t, err := readTiming(ctx, member)
	if err != nil {
		return nil, err
	}
	storage := common.HexToAddress(cfg.Contracts.RocketStorage)
	var services []watchtower.Service
	if cfg.Megapool.Enabled {
		reader, err := megapool.NewChainReader(ctx, member.EL, storage, common.HexToAddress(cfg.Contracts.Multicall3), 0)
		if err != nil {
			return nil, fmt.Errorf("megapool reader: %w", err)
		}
		w, err := megapool.New(ctx, megapool.WithProtocol(reader), megapool.WithBeacon(member.Beacon),
			megapool.WithTxSender(member.Tx), megapool.WithSlotsPerEpoch(t.slotsPerEpoch),
			megapool.WithReportOnly(cfg.Megapool.ReportOnly || cfg.GenerateOnly),
			megapool.WithRegisterer(m.Registerer()), megapool.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("megapool watcher: %w", err)
		}
		_ = m.AddCheck(megapoolDutyName, m.DutyCheck(megapoolDutyName, cfg.Metrics.DutyMaxAge))
		services = append(services, watchtower.Service{Name: megapoolDutyName, Run: func(ctx context.Context) error {
			return everyEpoch(ctx, cfg.TickPeriod, t, member, megapoolDutyName, m, log, w.Run)
		}})
	}
	if cfg.Defection.Enabled {
		d, err := newDefectionDuty(ctx, cfg, member, t, m, log)
		if err != nil {
			return nil, err
		}
		_ = m.AddCheck(defectionDutyName, m.DutyCheck(defectionDutyName, cfg.Metrics.DutyMaxAge))
		services = append(services, watchtower.Service{Name: defectionDutyName, Run: func(ctx context.Context) error {
			return everyEpoch(ctx, cfg.TickPeriod, t, member, defectionDutyName, m, log, d.advance)
		}})
	}
	return services, nil
}

// defectionDuty follows finalized proposals. The protocol's validator
// registry is reloaded every registryAge, carrying the follower's position.
type defectionDuty struct {
	cfg      *config.Config
	member   *watchtower.Member
	timing   chainTiming
	m        *metrics.Metrics
	log      zerolog.Logger
	voter    *defection.Voter
	chainID  *big.Int
	pool     *bindings.RocketRewardsPoolCaller
	outDir   string
	follower *defection.Follower
	loaded   time.Time
	next     uint64
}

const registryAge = time.Hour

func newDefectionDuty(ctx context.Context, cfg *config.Config, member *watchtower.Member, t chainTiming, m *metrics.Metrics, log zerolog.Logger) (*defectionDuty, error) {
	chainID, err := member.EL.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("defection: read chain id: %w", err)
	}
	poolAddr, err := defection.ContractAddress(ctx, member.EL, common.HexToAddress(cfg.Contracts.RocketStorage), "rocketRewardsPool")
	if err != nil {
		return nil, fmt.Errorf("defection: %w", err)
	}
	pool, err := bindings.NewRocketRewardsPoolCaller(poolAddr, member.EL)
	if err != nil {
		return nil, fmt.Errorf("defection: rewards pool: %w", err)
	}
	d := &defectionDuty{cfg: cfg, member: member, timing: t, m: m, log: log, chainID: chainID, pool: pool, outDir: member.Cfg.OutDir}
	if cfg.Defection.PenaltyVotes && !cfg.GenerateOnly {
		amount, err := cfg.Defection.MegapoolPenalty()
		if err != nil {
			return nil, err
		}
		if d.voter, err = defection.NewVoter(ctx, defection.VoterConfig{Sender: member.Tx, Client: member.EL,
			Storage: common.HexToAddress(cfg.Contracts.RocketStorage), Journal: filepath.Join(cfg.DataDir, "penalty-votes.json"),
			MegapoolAmount: amount, Log: log}); err != nil {
			return nil, fmt.Errorf("defection voter: %w", err)
		}
	}
	return d, nil
}

// finalizedSlot is the last slot of the latest finalized epoch.
func (d *defectionDuty) finalizedSlot(ctx context.Context) (uint64, error) {
	e, err := d.member.Beacon.FinalizedEpoch(ctx)
	if err != nil {
		return 0, err
	}
	return (uint64(e)+1)*d.timing.slotsPerEpoch - 1, nil
}

func (d *defectionDuty) advance(ctx context.Context) error {
	to, err := d.finalizedSlot(ctx)
	if err != nil {
		return fmt.Errorf("defection: finalized slot: %w", err)
	}
	if d.follower == nil || time.Since(d.loaded) > registryAge {
		switch {
		case d.follower != nil:
			d.next = d.follower.Next()
		default:
			// Resume where the last run stopped; a first run starts with the
			// next finalized proposals (history is treegen's job).
			d.next = to + 1
			if saved, ok, err := d.loadPosition(); err != nil {
				return err
			} else if ok && saved <= to+1 {
				d.next = saved
			}
		}
		storage := common.HexToAddress(d.cfg.Contracts.RocketStorage)
		head, err := d.member.EL.BlockNumber(ctx)
		if err != nil {
			return fmt.Errorf("defection: read EL head: %w", err)
		}
		snap, err := d.member.Execution.ReadSnapshot(ctx, head)
		if err != nil {
			return fmt.Errorf("defection: read protocol validators: %w", err)
		}
		reg, err := defection.RegistryFromSnapshot(ctx, snap, d.member.Beacon, "finalized")
		if err != nil {
			return fmt.Errorf("defection: load validator registry: %w", err)
		}
		st, err := defection.NewChainState(ctx, d.member.EL, storage, reg)
		if err != nil {
			return fmt.Errorf("defection: chain state: %w", err)
		}
		blocks, err := defection.NewELBlocks(defection.BeaconPayloads{Blocks: d.member.Beacon}, d.member.EL, d.chainID)
		if err != nil {
			return fmt.Errorf("defection: block source: %w", err)
		}
		det, err := defection.New(ctx, defection.WithState(st), defection.WithBlocks(blocks),
			defection.WithTiming(defection.Timing{GenesisTime: d.timing.genesis, SecondsPerSlot: d.timing.secondsPerSlot, SlotsPerEpoch: d.timing.slotsPerEpoch}),
			defection.WithRegisterer(d.m.Registerer()), defection.WithLogger(d.log))
		if err != nil {
			return fmt.Errorf("defection: detector: %w", err)
		}
		if d.follower, err = defection.NewFollower(det, d.voter, d.next); err != nil {
			return fmt.Errorf("defection: follower: %w", err)
		}
		d.loaded = time.Now()
		d.log.Info().Int("protocol_validators", reg.Len()).Uint64("next_slot", d.next).Msg("defection registry loaded")
	}
	if to < d.follower.Next() {
		return nil
	}
	from := d.follower.Next()
	p0, m0 := d.follower.Counts()
	recs, err := d.follower.Advance(ctx, to)
	if next := d.follower.Next(); next > from {
		p1, m1 := d.follower.Counts()
		if rerr := d.report(ctx, from, next-1, p1-p0, m1-m0, recs); rerr != nil && err == nil {
			err = rerr
		}
	}
	if perr := d.savePosition(d.follower.Next()); perr != nil && err == nil {
		err = perr
	}
	for _, r := range recs {
		d.log.Warn().Uint64("slot", r.Slot).Uint64("validator", r.Validator).Str("node", r.Node.Hex()).
			Str("expected", r.Expected.Hex()).Str("actual", r.Actual.Hex()).Str("kind", string(r.Kind)).Msg("fee-recipient defection")
	}
	return err
}

// The follower's position survives restarts in the data directory.
func (d *defectionDuty) positionFile() string {
	return filepath.Join(d.cfg.DataDir, "defection-position.json")
}

func (d *defectionDuty) loadPosition() (uint64, bool, error) {
	raw, err := os.ReadFile(d.positionFile())
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("defection: read position: %w", err)
	}
	var p struct {
		Next uint64 `json:"next"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, false, fmt.Errorf("defection: %s is malformed: %w", d.positionFile(), err)
	}
	return p.Next, true, nil
}

func (d *defectionDuty) savePosition(next uint64) error {
	raw, _ := json.Marshal(struct {
		Next uint64 `json:"next"`
	}{next})
	if err := tree.WriteFileAtomic(d.positionFile(), raw, 0o600); err != nil {
		return fmt.Errorf("defection: save position: %w", err)
	}
	return nil
}

// report merges one round into rp-defections-<network>-<index>.json in the
// interval's output folder, beside its rewards files. The index is the
// rewards pool's current index when the proposals were examined.
func (d *defectionDuty) report(ctx context.Context, from, to, proposals, legalMEV uint64, recs []defection.Record) error {
	idx, err := d.pool.GetRewardIndex(&bind.CallOpts{Context: ctx})
	if err != nil {
		return fmt.Errorf("defection: read reward index: %w", err)
	}
	dir := filepath.Join(d.outDir, idx.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("defection: %w", err)
	}
	_, err = defection.MergeReport(dir, &defection.Report{
		Network: tree.NetworkForChainID(d.chainID.Uint64()), Index: idx.Uint64(), StartSlot: from, EndSlot: to,
		Proposals: proposals, LegalMEV: legalMEV, Defections: recs,
	})
	return err
}
