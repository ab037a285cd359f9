package interval

import (
	"context"
	"fmt"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/chain/store"
)

// DutyScanner produces the duty record of an interval's protocol validators. stateSlot is the slot whose state
// gives the committees (the snapshot's consensus end block). counts, when not nil, is called with the scanner's
// running totals (units scanned, units resumed from the store, blocks fetched) while the scan runs.
type DutyScanner interface {
	ScanDuties(ctx context.Context, iv scan.Interval, stateSlot phase0.Slot, protocol []phase0.ValidatorIndex, counts func(scanned, resumed, blocks uint64)) (*scan.Result, error)
}

// AheadScanner scans the finalized epochs of a running interval ahead of its end (BeaconScanner implements it):
// units of block epochs from iv's start through lastEpoch, committees from the state at stateSlot.
type AheadScanner interface {
	ScanAhead(ctx context.Context, iv scan.Interval, stateSlot phase0.Slot, lastEpoch uint64, protocol []phase0.ValidatorIndex) (*scan.AheadResult, error)
}

// ScannerConfig configures BeaconScanner.
type ScannerConfig struct {
	// Committees is scan.CommitteesLocal (default), CommitteesAPI or CommitteesChecked.
	Committees string
	// Concurrency is the number of block epochs scanned at once (default 4); BlockConcurrency the blocks
	// fetched at once per epoch (default 8).
	Concurrency, BlockConcurrency int
	// StorePath is the bbolt file that makes a scan resumable; empty = in memory.
	StorePath string
	// Logger for the scanner and store.
	Logger zerolog.Logger
}

// BeaconScanner runs chain/scan over a chain/beacon reader.
type BeaconScanner struct {
	svc *beacon.Service
	cfg ScannerConfig
}

// NewBeaconScanner builds a DutyScanner over svc.
func NewBeaconScanner(svc *beacon.Service, cfg ScannerConfig) (*BeaconScanner, error) {
	if svc == nil {
		return nil, fmt.Errorf("beacon scanner: no beacon service")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.BlockConcurrency == 0 {
		cfg.BlockConcurrency = 8
	}
	return &BeaconScanner{svc: svc, cfg: cfg}, nil
}

// scanner builds a chain/scan scanner over the node with committees from the state at stateSlot; done closes
// its store.
func (b *BeaconScanner) scanner(ctx context.Context, stateSlot phase0.Slot, reg prometheus.Registerer) (sc *scan.Scanner, done func(), err error) {
	cp, err := scan.CommitteesFromBeacon(ctx, b.svc, stateSlot, b.cfg.Committees)
	if err != nil {
		return nil, nil, err
	}
	params := []scan.Parameter{scan.WithCommittees(cp), scan.WithBlocks(b.svc), scan.WithConcurrency(b.cfg.Concurrency),
		scan.WithBlockConcurrency(b.cfg.BlockConcurrency), scan.WithRegisterer(reg), scan.WithLogger(b.cfg.Logger)}
	done = func() {}
	if b.cfg.StorePath != "" {
		st, err := store.New(ctx, store.WithPath(b.cfg.StorePath), store.WithLogger(b.cfg.Logger))
		if err != nil {
			return nil, nil, fmt.Errorf("open scan store: %w", err)
		}
		done = func() { _ = st.Close() }
		params = append(params, scan.WithStore(st))
	}
	if sc, err = scan.New(ctx, params...); err != nil {
		done()
		return nil, nil, fmt.Errorf("create scanner: %w", err)
	}
	return sc, done, nil
}

// ScanAhead implements AheadScanner.
func (b *BeaconScanner) ScanAhead(ctx context.Context, iv scan.Interval, stateSlot phase0.Slot, lastEpoch uint64, protocol []phase0.ValidatorIndex) (*scan.AheadResult, error) {
	sc, done, err := b.scanner(ctx, stateSlot, prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	defer done()
	return sc.ScanEpochs(ctx, iv, lastEpoch, protocol)
}

// ScanDuties implements DutyScanner.
func (b *BeaconScanner) ScanDuties(ctx context.Context, iv scan.Interval, stateSlot phase0.Slot, protocol []phase0.ValidatorIndex, counts func(scanned, resumed, blocks uint64)) (*scan.Result, error) {
	reg := prometheus.NewRegistry()
	sc, closeStore, err := b.scanner(ctx, stateSlot, reg)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	done := make(chan struct{})
	stopped := make(chan struct{})
	if counts != nil {
		go func() {
			defer close(stopped)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					counts(gather(reg))
					return
				case <-t.C:
					counts(gather(reg))
				}
			}
		}()
	} else {
		close(stopped)
	}
	res, err := sc.Scan(ctx, iv, protocol)
	close(done)
	<-stopped
	if err != nil {
		return nil, fmt.Errorf("scan interval %d: %w", iv.Index, err)
	}
	return res, nil
}

// gather reads the scanner's counters from its private registry.
func gather(reg *prometheus.Registry) (scanned, resumed, blocks uint64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 || mf.GetMetric()[0].GetCounter() == nil {
			continue
		}
		v := uint64(mf.GetMetric()[0].GetCounter().GetValue())
		switch mf.GetName() {
		case "watchtower_scan_epochs_scanned_total":
			scanned = v
		case "watchtower_scan_epochs_resumed_total":
			resumed = v
		case "watchtower_scan_blocks_total":
			blocks = v
		}
	}
	return scanned, resumed, blocks
}
