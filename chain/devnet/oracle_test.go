//go:build devnet

package devnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/devnet"
	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/rewards"
)

// prysmView is Prysm's own account of every attestation duty of some epochs: the participation flags of each
// validator, read from the state at the last slot of the following epoch (previous_epoch_participation after
// every inclusion the chain allows, EIP-7045: up to the end of the next epoch).
type prysmView struct {
	flags map[uint64][]altair.ParticipationFlags // epoch -> flags by validator index
}

func readPrysmView(ctx context.Context, bn *beacon.Service, first, last uint64) (*prysmView, error) {
	v := &prysmView{flags: map[uint64][]altair.ParticipationFlags{}}
	for e := first; e <= last; e++ {
		slot := (e+2)*32 - 1
		st, err := bn.BeaconState(ctx, strconv.FormatUint(slot, 10))
		if err != nil {
			return nil, fmt.Errorf("Prysm state at slot %d: %w", slot, err)
		}
		if st.Deneb == nil {
			return nil, fmt.Errorf("Prysm state at slot %d is %s, want deneb", slot, st.Version)
		}
		if uint64(st.Deneb.Slot) != slot {
			return nil, fmt.Errorf("Prysm state for slot %d has slot %d", slot, st.Deneb.Slot)
		}
		v.flags[e] = st.Deneb.PreviousEpochParticipation
	}
	return v, nil
}

// Participation flag bits (altair): timely source, timely target, timely head.
const (
	flagSource = 1 << 0
	flagTarget = 1 << 1
)

// mismatch is one duty on which the duty record and Prysm disagree.
type mismatch struct {
	validator, epoch, dutySlot uint64
	recordIncluded             bool
	flags                      altair.ParticipationFlags
}

func (m mismatch) String() string {
	if m.recordIncluded {
		return fmt.Sprintf("validator %d, duty slot %d: record says included, Prysm's flags are %03b", m.validator, m.dutySlot, m.flags)
	}
	return fmt.Sprintf("validator %d, duty slot %d: record says missed, Prysm's flags are %03b", m.validator, m.dutySlot, m.flags)
}

// compareWithPrysm is the oracle: a duty counts as attested in the record iff Prysm set a participation flag
// for it. Every included attestation has the justified source (a block with another source is invalid) and so
// earns the timely-source flag when included within 5 slots and the timely-target flag when its target is
// right; the only attested duty Prysm leaves without any flag is one included more than 5 slots late with a
// wrong target. Such duties are returned separately (explained), after looking the inclusion up in Prysm's
// JSON blocks; all other disagreements are mismatches.
func compareWithPrysm(ctx context.Context, rec *rewards.DutyRecord, view *prysmView, lookup func(ctx context.Context, v, dutySlot uint64) (string, error)) (mismatches []mismatch, explained []string, duties int, err error) {
	for _, vd := range rec.Validators {
		for i, d := range vd.Duties {
			if d == rewards.DutyNone {
				continue
			}
			e := rec.FirstEpoch + uint64(i)
			flags, ok := view.flags[e]
			if !ok {
				return nil, nil, 0, fmt.Errorf("no Prysm view of epoch %d", e)
			}
			if vd.Index >= uint64(len(flags)) {
				return nil, nil, 0, fmt.Errorf("validator %d beyond Prysm's registry of %d", vd.Index, len(flags))
			}
			duties++
			f := flags[vd.Index]
			included := d>>5&3 != rewards.InclusionMissed
			prysm := f&(flagSource|flagTarget) != 0
			if included == prysm {
				continue
			}
			m := mismatch{validator: vd.Index, epoch: e, dutySlot: e*32 + uint64(d&31), recordIncluded: included, flags: f}
			if included {
				why, err := lookup(ctx, m.validator, m.dutySlot)
				if err != nil {
					return nil, nil, 0, err
				}
				if why != "" {
					explained = append(explained, m.String()+": "+why)
					continue
				}
			}
			mismatches = append(mismatches, m)
		}
	}
	return mismatches, explained, duties, nil
}

// lateWrongTarget looks for the first inclusion of a duty in Prysm's JSON blocks (not our SSZ decoding) and
// explains a flag-less included duty if that inclusion was more than 5 slots late with a target other than
// the canonical checkpoint block. It returns "" when it finds no such inclusion.
func lateWrongTarget(bn *beacon.Service, baseURL string) func(ctx context.Context, v, dutySlot uint64) (string, error) {
	return func(ctx context.Context, v, dutySlot uint64) (string, error) {
		epoch := dutySlot / 32
		list, err := bn.BeaconCommittees(ctx, "head", phase0.Epoch(epoch))
		if err != nil {
			return "", err
		}
		committee, position := -1, -1
		for _, c := range list {
			if uint64(c.Slot) != dutySlot {
				continue
			}
			for p, x := range c.Validators {
				if uint64(x) == v {
					committee, position = int(c.Index), p
				}
			}
		}
		if committee < 0 {
			return "", fmt.Errorf("validator %d has no duty at slot %d in Prysm's committees", v, dutySlot)
		}
		target, err := checkpointRoot(ctx, bn, epoch)
		if err != nil {
			return "", err
		}
		for slot := dutySlot + 1; slot < (epoch+2)*32; slot++ {
			var blk struct {
				Data struct {
					Message struct {
						Body struct {
							Attestations []struct {
								AggregationBits string `json:"aggregation_bits"`
								Data            struct {
									Slot   string `json:"slot"`
									Index  string `json:"index"`
									Target struct {
										Root string `json:"root"`
									} `json:"target"`
								} `json:"data"`
							} `json:"attestations"`
						} `json:"body"`
					} `json:"message"`
				} `json:"data"`
			}
			found, err := getJSON(ctx, baseURL+"/eth/v2/beacon/blocks/"+strconv.FormatUint(slot, 10), &blk)
			if err != nil {
				return "", err
			}
			if !found {
				continue
			}
			for _, a := range blk.Data.Message.Body.Attestations {
				if a.Data.Slot != strconv.FormatUint(dutySlot, 10) || a.Data.Index != strconv.Itoa(committee) {
					continue
				}
				bits, err := hexBytes(a.AggregationBits)
				if err != nil {
					return "", err
				}
				if position/8 >= len(bits) || bits[position/8]>>(position%8)&1 == 0 {
					continue
				}
				if slot-dutySlot > 5 && a.Data.Target.Root != target {
					return fmt.Sprintf("first included at slot %d (%d slots late) with target %s, canonical %s", slot, slot-dutySlot, a.Data.Target.Root, target), nil
				}
				return "", nil
			}
		}
		return "", nil
	}
}

// checkpointRoot is the root of the block at the epoch's first slot, or of the last block before it.
func checkpointRoot(ctx context.Context, bn *beacon.Service, epoch uint64) (string, error) {
	for s := int64(epoch * 32); s >= 0; s-- {
		b, err := bn.Block(ctx, phase0.Slot(s), false)
		if err != nil {
			return "", err
		}
		if b != nil {
			return fmt.Sprintf("%#x", b.Root[:]), nil
		}
	}
	return "", fmt.Errorf("no block at or before slot %d", epoch*32)
}

func getJSON(ctx context.Context, url string, out any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return false, nil
	case http.StatusOK:
		return true, json.Unmarshal(body, out)
	}
	return false, fmt.Errorf("GET %s: %s", url, resp.Status)
}

func hexBytes(s string) ([]byte, error) {
	if len(s) < 2 || s[:2] != "0x" {
		return nil, fmt.Errorf("not hex: %q", s)
	}
	out := make([]byte, (len(s)-2)/2)
	for i := range out {
		v, err := strconv.ParseUint(s[2+2*i:4+2*i], 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(v)
	}
	return out, nil
}

// lateBlind is a deliberately broken scanner input: it drops every attestation included more than one slot
// after its duty (a scanner that ignores late inclusions).
type lateBlind struct{ inner scan.BlockProvider }

func (l lateBlind) Block(ctx context.Context, slot phase0.Slot, full bool) (*beacon.Block, error) {
	b, err := l.inner.Block(ctx, slot, full)
	if err != nil || b == nil {
		return b, err
	}
	c := *b
	c.Attestations = nil
	for _, a := range b.Attestations {
		if b.Slot-a.Slot <= 1 {
			c.Attestations = append(c.Attestations, a)
		}
	}
	return &c, nil
}

func scanAll(ctx context.Context, bn *beacon.Service, blocks scan.BlockProvider, tm interval.Timing, validators int) (*rewards.DutyRecord, error) {
	cp, err := scan.CommitteesFromBeacon(ctx, bn, phase0.Slot(tm.ConsensusEndBlock), scan.CommitteesLocal)
	if err != nil {
		return nil, err
	}
	sc, err := scan.New(ctx, scan.WithCommittees(cp), scan.WithBlocks(blocks))
	if err != nil {
		return nil, err
	}
	all := make([]phase0.ValidatorIndex, validators)
	for i := range all {
		all[i] = phase0.ValidatorIndex(i)
	}
	res, err := sc.Scan(ctx, scan.Interval{Index: tm.Index, StartSlot: tm.ConsensusStartBlock, EndSlot: tm.ConsensusEndBlock}, all)
	if err != nil {
		return nil, err
	}
	return res.Record, nil
}

// brokenScanner generates with the late-inclusion-blind scanner.
type brokenScanner struct{ bn *beacon.Service }

func (b brokenScanner) ScanDuties(ctx context.Context, iv scan.Interval, stateSlot phase0.Slot, protocol []phase0.ValidatorIndex, _ func(scanned, resumed, blocks uint64)) (*scan.Result, error) {
	cp, err := scan.CommitteesFromBeacon(ctx, b.bn, stateSlot, scan.CommitteesLocal)
	if err != nil {
		return nil, err
	}
	sc, err := scan.New(ctx, scan.WithCommittees(cp), scan.WithBlocks(lateBlind{b.bn}))
	if err != nil {
		return nil, err
	}
	return sc.Scan(ctx, iv, protocol)
}

// testDutyOracle: for every interval, the scanner's duty record of every validator (the protocol's and all
// others) agrees duty by duty with Prysm's participation flags, and the interval's own record is that scan
// restricted to the protocol validators. The devnet has missed duties (offline keys) and late inclusions: a
// scanner that ignores late inclusions disagrees with Prysm on some duties, and its interval 1 (the first
// with Smoothing Pool rewards) has another root than the one the members executed.
func testDutyOracle(ctx context.Context, t *testing.T, dn *devnet.Devnet, bn *beacon.Service, el interval.ELReader, outs []*interval.Output) {
	lookup := lateWrongTarget(bn, dn.BeaconURL)
	n := len(dn.Genesis.Pubkeys)
	var brokenMismatches []mismatch
	for _, out := range outs {
		tm := out.Timing
		startEpoch, endEpoch, _, err := scan.EpochRange(tm.ConsensusStartBlock, tm.ConsensusEndBlock, 32)
		if err != nil {
			t.Fatal(err)
		}
		view, err := readPrysmView(ctx, bn, startEpoch, endEpoch)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := scanAll(ctx, bn, bn, tm, n)
		if err != nil {
			t.Fatal(err)
		}
		mm, explained, duties, err := compareWithPrysm(ctx, rec, view, lookup)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range explained {
			t.Logf("explained: %s", e)
		}
		if len(mm) > 0 {
			t.Fatalf("interval %d: the scanner's record disagrees with Prysm on %d of %d duties, e.g. %v", tm.Index, len(mm), duties, mm[:min(len(mm), 10)])
		}
		missed := 0
		for _, vd := range rec.Validators {
			for _, d := range vd.Duties {
				if d != rewards.DutyNone && d>>5&3 == rewards.InclusionMissed {
					missed++
				}
			}
		}
		if missed == 0 {
			t.Fatalf("interval %d: no missed duty in epochs %d..%d although %d validators are offline", tm.Index, startEpoch, endEpoch, devnet.LayoutOffline)
		}
		for _, pv := range out.Scan.Record.Validators {
			i := pv.Index
			if i >= uint64(len(rec.Validators)) || rec.Validators[i].Index != i || string(rec.Validators[i].Duties) != string(pv.Duties) {
				t.Fatalf("interval %d, validator %d: the interval's duty record differs from the all-validator scan", tm.Index, i)
			}
		}
		broken, err := scanAll(ctx, bn, lateBlind{bn}, tm, n)
		if err != nil {
			t.Fatal(err)
		}
		bmm, _, _, err := compareWithPrysm(ctx, broken, view, lookup)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range bmm {
			if m.recordIncluded || m.flags&(flagSource|flagTarget) == 0 {
				t.Fatalf("broken scanner: unexpected kind of mismatch %v", m)
			}
		}
		brokenMismatches = append(brokenMismatches, bmm...)
		t.Logf("interval %d, epochs %d..%d: %d duties of %d validators agree with Prysm's participation flags (%d missed, %d explained); "+
			"the late-inclusion-blind scanner disagrees on %d", tm.Index, startEpoch, endEpoch, duties, n, missed, len(explained), len(bmm))
	}
	if len(brokenMismatches) == 0 {
		t.Fatalf("a scanner that ignores late inclusions agrees with Prysm: the devnet had no late inclusion, or the oracle cannot see it")
	}
	t.Logf("the late-inclusion-blind scanner is caught by the oracle, e.g. %v", brokenMismatches[0])

	// The same broken rule changes the root of the interval with Smoothing Pool rewards.
	last := outs[len(outs)-1]
	g, err := interval.New(ctx, interval.WithExecution(el), interval.WithBeacon(bn), interval.WithScanner(brokenScanner{bn}), interval.WithNetwork("devnet"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := g.Generate(ctx, int64(last.Timing.Index))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case bad.Result.SuccessfulAttestations > last.Result.SuccessfulAttestations:
		t.Fatalf("late-inclusion-blind scanner: %d successful attestations, correct %d", bad.Result.SuccessfulAttestations, last.Result.SuccessfulAttestations)
	case bad.Result.SuccessfulAttestations == last.Result.SuccessfulAttestations:
		// No late inclusion of a scored duty in this interval (4–10 per run were measured; rare, but the
		// chain decides): the oracle above caught the broken rule, the root cannot.
		if !bad.Matches() {
			t.Fatalf("late-inclusion-blind scanner: same successful attestations, yet another root: %v", bad.Differences)
		}
		t.Logf("interval %d: no scored duty was included late this time; the root check is vacuous", last.Timing.Index)
		return
	case bad.Matches() || bad.Files.Root == last.Files.Root:
		t.Fatalf("interval %d generated by the late-inclusion-blind scanner matches the executed root %s", last.Timing.Index, last.Files.Root.Hex())
	}
	t.Logf("interval %d with the late-inclusion-blind scanner: root %s instead of %s (%d instead of %d successful attestations); differences: %v",
		last.Timing.Index, bad.Files.Root.Hex(), last.Files.Root.Hex(), bad.Result.SuccessfulAttestations, last.Result.SuccessfulAttestations, bad.Differences[:min(len(bad.Differences), 3)])
}
