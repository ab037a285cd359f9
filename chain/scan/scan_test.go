package scan

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/odaowatch/watchtower/chain/beacon"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
	"github.com/odaowatch/watchtower/chain/store"
	"github.com/odaowatch/watchtower/rewards"
)

func u64(v uint64) *uint64   { return &v }
func f64(v float64) *float64 { return &v }

// fixture: a 16,384-validator chain (4 committees per slot), 32 slots per
// epoch; the interval covers duty epochs 2..7 with ragged edges (slots
// 69..244), blocks of epochs 2..8; head at epoch 11.
type fixture struct {
	chain    *simbeacon.Chain
	iv       Interval
	protocol []phase0.ValidatorIndex
}

func newFixture(t testing.TB, fork string, nProto int) *fixture {
	t.Helper()
	return newFixtureAt(t, fork, 0, nProto)
}

func newFixtureAt(t testing.TB, fork string, electraEpoch uint64, nProto int) *fixture {
	t.Helper()
	sc := &simbeacon.Scenario{ElectraForkEpoch: electraEpoch,
		Seed: 42, GenesisTime: 1_700_000_000, SlotsPerEpoch: 32, ValidatorCount: 16384, HeadSlot: 32*11 + 3,
		Fork: fork, Participation: f64(0.95), MissedSlotRate: 0.12, LateInclusionRate: 0.2, MEVRate: 0.2,
	}
	sc.ProtocolValidators = append(sc.ProtocolValidators,
		simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 1), Index: u64(5), ExitEpoch: u64(5), WithdrawableEpoch: u64(6)},
		simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 2), Index: u64(6), ActivationEpoch: 4},
		simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 3), Index: u64(7), SlashedEpoch: u64(4)},
		simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 4), Index: u64(8), Participation: f64(0.3)},
	)
	for i := range nProto {
		sc.ProtocolValidators = append(sc.ProtocolValidators, simbeacon.ProtocolValidator{Pubkey: fmt.Sprintf("0x%096x", 100+i)})
	}
	c, err := simbeacon.New(context.Background(), simbeacon.WithScenario(sc), simbeacon.WithCommitteeCache(16))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{chain: c, iv: Interval{Index: 3, StartSlot: 69, EndSlot: 244}}
	for _, pv := range sc.ProtocolValidators {
		var pk phase0.BLSPubKey
		if _, err := hex.Decode(pk[:], []byte(pv.Pubkey[2:])); err != nil {
			t.Fatal(err)
		}
		idx, ok := c.ValidatorByPubkey(pk)
		if !ok {
			t.Fatalf("protocol validator %s not found", pv.Pubkey)
		}
		f.protocol = append(f.protocol, idx)
	}
	return f
}

// oracle builds the expected record from the chain model's own ground truth.
func (f *fixture) oracle(t testing.TB, withdrawals bool) *rewards.DutyRecord {
	t.Helper()
	r, err := f.chain.DutyRecord(f.iv.Index, f.iv.StartSlot, f.iv.EndSlot, f.protocol, withdrawals)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(t testing.TB, c *simbeacon.Chain, f simbeacon.Faults) string {
	t.Helper()
	s, err := simbeacon.NewServer(context.Background(), simbeacon.WithChain(c), simbeacon.WithListenAddress("127.0.0.1:0"), simbeacon.WithFaults(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s.URL()
}

func newReader(t testing.TB, urls []string, params ...beacon.Parameter) *beacon.Service {
	t.Helper()
	r, err := beacon.New(context.Background(), append([]beacon.Parameter{
		beacon.WithAddresses(urls...), beacon.WithBackoff(time.Millisecond, 10*time.Millisecond), beacon.WithAttempts(10),
	}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// localCommittees loads ONE state (at the interval's end slot) through the reader.
func localCommittees(t testing.TB, r *beacon.Service, slot uint64) *LocalCommittees {
	t.Helper()
	ctx := context.Background()
	sp, err := r.ShuffleSpec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.BeaconState(ctx, fmt.Sprint(slot))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := st.Validators()
	if err != nil {
		t.Fatal(err)
	}
	mixes, err := beacon.RandaoMixes(st)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := NewLocalCommittees(sp, phase0.Slot(slot), vals, mixes)
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

func apiCommittees(t testing.TB, r *beacon.Service, state any) *APICommittees {
	t.Helper()
	sp, err := r.ShuffleSpec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAPICommittees(sp, r, fmt.Sprint(state))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func scan(t testing.TB, f *fixture, cp CommitteesProvider, bp BlockProvider, iv Interval, params ...Parameter) (*Result, error) {
	t.Helper()
	s, err := New(context.Background(), append([]Parameter{WithCommittees(cp), WithBlocks(bp)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s.Scan(context.Background(), iv, f.protocol)
}

func digest(t testing.TB, r *rewards.DutyRecord) string {
	t.Helper()
	d, err := r.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// shape checks the oracle is not trivial: it has in-window, late, missed
// inclusions, no-duty epochs and Q9 edge duties.
func shape(t *testing.T, r *rewards.DutyRecord) {
	t.Helper()
	var cls [3]int
	none, edges := 0, 0
	for _, v := range r.Validators {
		for e, d := range v.Duties {
			if d == rewards.DutyNone {
				none++
				continue
			}
			cls[d>>5]++
			slot := (r.FirstEpoch+uint64(e))*32 + uint64(d&31)
			if slot < r.StartSlot || slot > r.EndSlot {
				edges++
			}
		}
	}
	if cls[0] == 0 || cls[1] == 0 || none == 0 || edges == 0 {
		t.Fatalf("oracle too simple: missed %d, in window %d, late %d, none %d, edges %d", cls[0], cls[1], cls[2], none, edges)
	}
}

func TestParameters(t *testing.T) {
	lc := &LocalCommittees{}
	for name, params := range map[string][]Parameter{
		"no committees":     {WithBlocks(&fakeBlocks{})},
		"no blocks":         {WithCommittees(lc)},
		"zero concurrency":  {WithCommittees(lc), WithBlocks(&fakeBlocks{}), WithConcurrency(0)},
		"zero block fetchs": {WithCommittees(lc), WithBlocks(&fakeBlocks{}), WithBlockConcurrency(0)},
	} {
		if _, err := New(context.Background(), params...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeBlocks struct{}

func (*fakeBlocks) Block(context.Context, phase0.Slot, bool) (*beacon.Block, error) { return nil, nil }

// TestMatchesOracle: the record equals the chain's ground truth for every
// protocol validator, in both attestation formats, and is identical across
// 1 or 3 endpoints, concurrency 1 or 16, committees local, from the API or
// cross-checked, blinded or full blocks.
func TestMatchesOracle(t *testing.T) {
	for _, fork := range []string{simbeacon.ForkElectra, simbeacon.ForkDeneb} {
		t.Run(fork, func(t *testing.T) {
			f := newFixture(t, fork, 120)
			want := f.oracle(t, false)
			shape(t, want)
			wantDigest := digest(t, want)
			urls := []string{serve(t, f.chain, simbeacon.Faults{}), serve(t, f.chain, simbeacon.Faults{}), serve(t, f.chain, simbeacon.Faults{})}
			one := newReader(t, urls[:1])
			three := newReader(t, urls)
			lc := localCommittees(t, one, f.iv.EndSlot)
			ac := apiCommittees(t, three, f.iv.EndSlot)
			cases := []struct {
				name   string
				cp     CommitteesProvider
				bp     BlockProvider
				params []Parameter
			}{
				{"local/1 endpoint/concurrency 1", lc, one, []Parameter{WithConcurrency(1), WithBlockConcurrency(1)}},
				{"local/3 endpoints/concurrency 16", lc, three, []Parameter{WithConcurrency(16), WithBlockConcurrency(8)}},
				{"api/3 endpoints/concurrency 4", ac, three, nil},
				{"checked/full blocks", &CheckedCommittees{Primary: lc, Check: ac, Every: 1}, three, []Parameter{WithFullBlocks(true)}},
			}
			if fork == simbeacon.ForkDeneb {
				cases = cases[1:3]
			}
			for _, tc := range cases {
				res, err := scan(t, f, tc.cp, tc.bp, f.iv, tc.params...)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if res.RecordDigest != wantDigest {
					t.Fatalf("%s: digest %s, oracle %s", tc.name, res.RecordDigest, wantDigest)
				}
				if len(res.EpochDigests) != 7 || res.Scanned != 7 {
					t.Fatalf("%s: %d epoch digests, %d scanned", tc.name, len(res.EpochDigests), res.Scanned)
				}
			}
		})
	}
}

// TestForkTransition: Deneb blocks until epoch 5, Electra after; the first
// Electra blocks carry Electra aggregates for Deneb-epoch duties.
func TestForkTransition(t *testing.T) {
	f := newFixtureAt(t, simbeacon.ForkElectra, 5, 150)
	want := digest(t, f.oracle(t, false))
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	versions := map[string]bool{}
	for s := phase0.Slot(4 * 32); s < 6*32; s++ {
		b, err := r.Block(context.Background(), s, false)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			versions[b.Version.String()] = true
		}
	}
	if !versions["deneb"] || !versions["electra"] {
		t.Fatalf("no fork transition in epochs 4..5: %v", versions)
	}
	for _, full := range []bool{false, true} {
		res, err := scan(t, f, localCommittees(t, r, f.iv.EndSlot), r, f.iv, WithFullBlocks(full))
		if err != nil {
			t.Fatal(err)
		}
		if res.RecordDigest != want {
			t.Fatalf("full=%v: digest %s, oracle %s", full, res.RecordDigest, want)
		}
	}
}

func TestWithdrawals(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 600)
	want := f.oracle(t, true)
	if len(want.Withdrawals) == 0 {
		t.Fatal("scenario has no protocol withdrawals")
	}
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	iv := f.iv
	iv.Withdrawals = true
	res, err := scan(t, f, localCommittees(t, r, iv.EndSlot), r, iv, WithConcurrency(8))
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordDigest != digest(t, want) {
		t.Fatalf("digest %s, oracle %s (%d vs %d withdrawals)", res.RecordDigest, digest(t, want), len(res.Record.Withdrawals), len(want.Withdrawals))
	}
}

// TestFaultyEndpoints: 5xx, truncated bodies and latency on every node are
// survived through retries and fail-over, with the same record.
func TestFaultyEndpoints(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 60)
	want := digest(t, f.oracle(t, false))
	faults := simbeacon.Faults{ErrorRate: 0.15, TruncateRate: 0.15, SkipNodeEndpoints: true}
	urls := []string{serve(t, f.chain, faults), serve(t, f.chain, faults), serve(t, f.chain, simbeacon.Faults{Latency: time.Millisecond})}
	r := newReader(t, urls)
	res, err := scan(t, f, localCommittees(t, r, f.iv.EndSlot), r, f.iv, WithConcurrency(6))
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordDigest != want {
		t.Fatalf("digest %s, oracle %s", res.RecordDigest, want)
	}
}

// TestWrongDataRejected: a node that corrupts its answers makes the scan
// fail with a clear error (or, if only unused bytes were hit, still match);
// it never yields a different record.
func TestWrongDataRejected(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 60)
	want := digest(t, f.oracle(t, false))
	good := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	lc := localCommittees(t, good, f.iv.EndSlot)
	bad := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{WrongDataRate: 0.5, SkipNodeEndpoints: true})}, beacon.WithAttempts(2))
	res, err := scan(t, f, lc, bad, f.iv)
	if err == nil {
		if res.RecordDigest != want {
			t.Fatalf("corrupted data used silently: %s vs %s", res.RecordDigest, want)
		}
		t.Fatal("expected the corrupting node to be detected at a 50% rate")
	}
	if !errors.Is(err, beacon.ErrMismatch) && !strings.Contains(err.Error(), "decode") {
		t.Fatalf("unclear error: %v", err)
	}
	if !strings.Contains(err.Error(), "slot") {
		t.Fatalf("error does not name the slot: %v", err)
	}
	// Mixed with a good node, retries fail over and the record is right.
	mixed := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{WrongDataRate: 0.5, SkipNodeEndpoints: true}), serve(t, f.chain, simbeacon.Faults{})})
	res, err = scan(t, f, lc, mixed, f.iv, WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordDigest != want {
		t.Fatalf("mixed nodes: digest %s, oracle %s", res.RecordDigest, want)
	}
}

// TestResumeAfterCrash: a failure injected in the store's commit (the
// process "dies" mid-write) or a cancelled context after N epochs, then a
// rerun on the same file: the record equals an uninterrupted run's and the
// stored epochs are reused.
func TestResumeAfterCrash(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 60)
	want := digest(t, f.oracle(t, false))
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	lc := localCommittees(t, r, f.iv.EndSlot)
	crash := errors.New("simulated crash")
	for _, killAfter := range []int{0, 1, 3, 6} {
		for _, mode := range []string{"hook", "cancel"} {
			path := filepath.Join(t.TempDir(), "scan.db")
			puts := 0
			st, err := store.New(context.Background(), store.WithPath(path), store.WithNoSync(true), store.WithCommitHook(func(string, uint64) error {
				if mode == "hook" && puts == killAfter {
					return crash
				}
				puts++
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var bp BlockProvider = r
			if mode == "cancel" {
				bp = &cancelAfter{BlockProvider: r, n: int64(killAfter*32 + 5), cancel: cancel}
			}
			// With 3 epochs in flight, epochs beyond the first gap get stored
			// too; the resume must use them and fill the gap.
			conc := 1
			if mode == "hook" {
				conc = 3
			}
			s, err := New(ctx, WithCommittees(lc), WithBlocks(bp), WithStore(st), WithConcurrency(conc))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Scan(ctx, f.iv, f.protocol); err == nil {
				t.Fatalf("kill after %d (%s): scan did not fail", killAfter, mode)
			}
			cancel()
			_ = st.Close()

			st, err = store.New(context.Background(), store.WithPath(path))
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan(t, f, lc, r, f.iv, WithStore(st), WithConcurrency(16))
			_ = st.Close()
			if err != nil {
				t.Fatalf("kill after %d (%s): resume: %v", killAfter, mode, err)
			}
			if res.RecordDigest != want {
				t.Fatalf("kill after %d (%s): digest %s, want %s", killAfter, mode, res.RecordDigest, want)
			}
			if res.Resumed < killAfter || res.Resumed+res.Scanned != 7 {
				t.Fatalf("kill after %d (%s): resumed %d scanned %d", killAfter, mode, res.Resumed, res.Scanned)
			}
		}
	}
}

type cancelAfter struct {
	BlockProvider
	n      int64
	calls  atomic.Int64
	cancel func()
}

func (c *cancelAfter) Block(ctx context.Context, slot phase0.Slot, full bool) (*beacon.Block, error) {
	if c.calls.Add(1) >= c.n {
		c.cancel()
	}
	return c.BlockProvider.Block(ctx, slot, full)
}

func TestCommitteesFromBeacon(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 40)
	want := digest(t, f.oracle(t, false))
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	for _, src := range []string{CommitteesLocal, CommitteesAPI, CommitteesChecked} {
		cp, err := CommitteesFromBeacon(context.Background(), r, phase0.Slot(f.iv.EndSlot), src)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan(t, f, cp, r, f.iv)
		if err != nil || res.RecordDigest != want {
			t.Fatalf("%s: %v %s", src, err, res.RecordDigest)
		}
	}
	if _, err := CommitteesFromBeacon(context.Background(), r, 0, "magic"); err == nil {
		t.Fatal("unknown source accepted")
	}
}

// dropOne hides one attestation of one block, as a faulty node might.
type dropOne struct {
	BlockProvider
	slot phase0.Slot
}

func (d *dropOne) Block(ctx context.Context, slot phase0.Slot, full bool) (*beacon.Block, error) {
	b, err := d.BlockProvider.Block(ctx, slot, full)
	if err == nil && b != nil && slot == d.slot && len(b.Attestations) > 0 {
		b.Attestations = b.Attestations[1:]
	}
	return b, err
}

// TestBisect: two runs that disagree are told apart at the epoch of the
// altered block.
func TestBisect(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 400)
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	lc := localCommittees(t, r, f.iv.EndSlot)
	a, err := scan(t, f, lc, r, f.iv)
	if err != nil {
		t.Fatal(err)
	}
	slot := phase0.Slot(5*32 + 3)
	for !f.chain.HasBlock(slot) {
		slot++
	}
	b, err := scan(t, f, lc, &dropOne{BlockProvider: r, slot: slot}, f.iv)
	if err != nil {
		t.Fatal(err)
	}
	if a.RecordDigest == b.RecordDigest {
		t.Fatal("dropping an aggregate did not change the record (too few protocol validators?)")
	}
	e, ok := FirstDivergence(a.EpochDigests, b.EpochDigests)
	if !ok || e != uint64(slot)/32 {
		t.Fatalf("first divergence %d %v, want epoch %d", e, ok, uint64(slot)/32)
	}
	if _, ok := FirstDivergence(a.EpochDigests, a.EpochDigests); ok {
		t.Fatal("a run differs from itself")
	}
	if e, ok := FirstDivergence(a.EpochDigests, a.EpochDigests[:3]); !ok || e != a.EpochDigests[3].Epoch {
		t.Fatal("shorter list not detected")
	}
}

// lyingServer answers 404 for the headers and blocks of the given slots,
// like a node without that history.
func lyingServer(t testing.TB, c *simbeacon.Chain, slots map[phase0.Slot]bool) string {
	t.Helper()
	sim, err := simbeacon.NewServer(context.Background(), simbeacon.WithChain(c), simbeacon.WithListenAddress("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Stop(context.Background()) })
	next := sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, prefix := range []string{"/eth/v1/beacon/headers/", "/eth/v1/beacon/blinded_blocks/", "/eth/v2/beacon/blocks/"} {
			if id, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
				if v, err := strconv.ParseUint(id, 10, 64); err == nil && slots[phase0.Slot(v)] {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"code":404,"message":"block not found"}`))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFalselyMissingBlocks: a node that reports existing blocks as missing
// is caught by the parent-root chain (alone) or outvoted by another node.
func TestFalselyMissingBlocks(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 200)
	want := digest(t, f.oracle(t, false))
	good := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	lc := localCommittees(t, good, f.iv.EndSlot)
	// One hidden block inside an epoch, one that is the first block of an epoch.
	firstFrom := func(s phase0.Slot) phase0.Slot {
		for !f.chain.HasBlock(s) {
			s++
		}
		return s
	}
	inside, firstOfEpoch := firstFrom(4*32+10), firstFrom(6*32)
	// The last block of the last scanned epoch (8).
	lastBlock := phase0.Slot(9*32 - 1)
	for !f.chain.HasBlock(lastBlock) {
		lastBlock--
	}
	liar := lyingServer(t, f.chain, map[phase0.Slot]bool{inside: true, firstOfEpoch: true, lastBlock: true})
	for name, slot := range map[string]phase0.Slot{"inside": inside, "first of epoch": firstOfEpoch, "last of the interval": lastBlock} {
		r := newReader(t, []string{lyingServer(t, f.chain, map[phase0.Slot]bool{slot: true})})
		_, err := scan(t, f, lc, r, f.iv, WithConcurrency(4))
		if err == nil || !strings.Contains(err.Error(), "missing or wrong") {
			t.Fatalf("%s (slot %d): hidden block not detected: %v", name, slot, err)
		}
	}
	r := newReader(t, []string{liar, serve(t, f.chain, simbeacon.Faults{})})
	for range 3 { // the liar is asked first about half the time
		res, err := scan(t, f, lc, r, f.iv, WithConcurrency(4))
		if err != nil {
			t.Fatal(err)
		}
		if res.RecordDigest != want {
			t.Fatalf("digest %s, oracle %s", res.RecordDigest, want)
		}
	}
}

func TestMetricsAndDigests(t *testing.T) {
	f := newFixture(t, simbeacon.ForkElectra, 20)
	r := newReader(t, []string{serve(t, f.chain, simbeacon.Faults{})})
	reg := prometheus.NewRegistry()
	res, err := scan(t, f, localCommittees(t, r, f.iv.EndSlot), r, f.iv, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	txt := string(res.DigestsText())
	if strings.Count(txt, "\n") != 8 || !strings.Contains(txt, "epoch 2 0x") || !strings.HasSuffix(txt, "record "+res.RecordDigest+"\n") {
		t.Fatalf("digest text:\n%s", txt)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "watchtower_scan_epochs_scanned_total" && mf.GetMetric()[0].GetCounter().GetValue() == 7 {
			found = true
		}
	}
	if !found {
		t.Fatal("epochs_scanned_total is not 7")
	}
}
