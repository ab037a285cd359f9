package rewardsduty

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/klauspost/compress/zstd"

	"github.com/odaowatch/watchtower/chain/interval"
	"github.com/odaowatch/watchtower/chain/scan"
	"github.com/odaowatch/watchtower/tree"
	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// fakeChain plays the rewards pool: votes are counted per root, the interval executes when the threshold is met.
type fakeChain struct {
	index     uint64
	members   map[common.Address]bool
	submitted map[common.Address]bool
	count     map[common.Hash]uint64
	threshold *big.Int
	// autoExecute: the vote that meets the threshold executes (as the contract does); off to model a
	// threshold met later (a member left).
	autoExecute bool
	executes    int
}

func newFakeChain(members ...common.Address) *fakeChain {
	c := &fakeChain{members: map[common.Address]bool{}, submitted: map[common.Address]bool{}, count: map[common.Hash]uint64{},
		threshold: big.NewInt(51e16), autoExecute: true}
	for _, m := range members {
		c.members[m] = true
	}
	return c
}

func (c *fakeChain) RewardIndex(context.Context) (uint64, error) { return c.index, nil }
func (c *fakeChain) MemberIsValid(_ context.Context, a common.Address) (bool, error) {
	return c.members[a], nil
}
func (c *fakeChain) MemberCount(context.Context) (uint64, error) { return uint64(len(c.members)), nil }
func (c *fakeChain) Submitted(_ context.Context, a common.Address, i uint64) (bool, error) {
	return i == c.index && c.submitted[a], nil
}
func (c *fakeChain) SubmissionCount(_ context.Context, s *interval.Submission) (uint64, error) {
	return c.count[s.MerkleRoot], nil
}
func (c *fakeChain) ConsensusThreshold(context.Context) (*big.Int, error) { return c.threshold, nil }
func (c *fakeChain) RewardsPool() common.Address                          { return common.Address{0xaa} }
func (c *fakeChain) SubmitCalldata(s *interval.Submission) ([]byte, error) {
	return append([]byte{1}, s.MerkleRoot[:]...), nil
}
func (c *fakeChain) ExecuteCalldata(s *interval.Submission) ([]byte, error) {
	return append([]byte{2}, s.MerkleRoot[:]...), nil
}

func (c *fakeChain) apply(from common.Address, data []byte) {
	root := common.BytesToHash(data[1:])
	switch data[0] {
	case 1:
		c.submitted[from] = true
		c.count[root]++
		if c.autoExecute && ThresholdMet(c.count[root], uint64(len(c.members)), c.threshold) {
			c.index++
			c.submitted = map[common.Address]bool{}
		}
	case 2:
		c.executes++
		c.index++
		c.submitted = map[common.Address]bool{}
	}
}

// fakeSender signs nothing real: it mines every transaction into fakeChain on Wait.
type fakeSender struct {
	chain   *fakeChain
	addr    common.Address
	sent    []txmgr.Request
	resumed int
	pending map[*txmgr.Pending]txmgr.Request
}

func (s *fakeSender) Address() common.Address { return s.addr }
func (s *fakeSender) DryRun() bool            { return false }
func (s *fakeSender) Send(_ context.Context, _ string, req txmgr.Request) (*txmgr.Pending, error) {
	s.sent = append(s.sent, req)
	p := &txmgr.Pending{}
	if req.OnSigned != nil {
		tx := types.NewTx(&types.DynamicFeeTx{Nonce: uint64(len(s.sent) - 1), Data: req.Data})
		if err := req.OnSigned(tx); err != nil {
			return nil, err
		}
	}
	s.pending[p] = req
	return p, nil
}
func (s *fakeSender) Wait(_ context.Context, p *txmgr.Pending) (*types.Receipt, error) {
	req := s.pending[p]
	s.chain.apply(s.addr, req.Data)
	return &types.Receipt{Status: types.ReceiptStatusSuccessful}, nil
}
func (s *fakeSender) Resume(_ context.Context, _ string, txs []*types.Transaction, req txmgr.Request) (*txmgr.Pending, error) {
	s.resumed++
	p := &txmgr.Pending{}
	s.pending[p] = txmgr.Request{Data: txs[len(txs)-1].Data()}
	return p, nil
}

type noGen struct{ calls int }

func (g *noGen) Generate(context.Context, int64) (*interval.Output, error) {
	g.calls++
	return nil, interval.ErrNotDue
}

func addr(i byte) common.Address { return common.Address{i} }

func setup(t *testing.T, chain *fakeChain, self common.Address, opts ...Parameter) (*Duty, *fakeSender, *State) {
	t.Helper()
	st, err := OpenState(filepath.Join(t.TempDir(), "duty.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	snd := &fakeSender{chain: chain, addr: self, pending: map[*txmgr.Pending]txmgr.Request{}}
	params := append([]Parameter{WithGenerator(&noGen{}), WithProtocol(chain), WithSender(snd), WithState(st), WithOutputDir(t.TempDir())}, opts...)
	d, err := New(context.Background(), params...)
	if err != nil {
		t.Fatal(err)
	}
	return d, snd, st
}

// seed stores a generated interval (the generation path is covered by the sim test).
func seed(t *testing.T, st *State, index uint64, root common.Hash) {
	t.Helper()
	sub := &interval.Submission{RewardIndex: index, MerkleRoot: root, IntervalsPassed: 1, SmoothingPoolETH: big.NewInt(1),
		TreasuryRPL: new(big.Int), TreasuryETH: new(big.Int), UserETH: new(big.Int),
		TrustedNodeRPL: []*big.Int{new(big.Int)}, NodeRPL: []*big.Int{new(big.Int)}, NodeETH: []*big.Int{new(big.Int)}}
	if err := st.Put(&Record{Index: index, Phase: PhaseGenerated, Submission: sub}); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsMissingDependencies(t *testing.T) {
	if _, err := New(context.Background()); err == nil {
		t.Fatal("no generator accepted")
	}
	if _, err := New(context.Background(), WithGenerator(&noGen{}), WithProtocol(newFakeChain()), WithState(&State{}), WithOutputDir("x")); err == nil {
		t.Fatal("no sender accepted without generate-only")
	}
}

func TestNotDueWaits(t *testing.T) {
	d, snd, _ := setup(t, newFakeChain(addr(1)), addr(1))
	r, err := d.Tick(context.Background())
	if err != nil || !r.Waiting || len(snd.sent) != 0 {
		t.Fatalf("%+v %v sent %d", r, err, len(snd.sent))
	}
}

func TestVotesExactlyOnce(t *testing.T) {
	chain := newFakeChain(addr(1), addr(2), addr(3))
	d, snd, st := setup(t, chain, addr(1))
	root := crypto.Keccak256Hash([]byte("root"))
	seed(t, st, 0, root)
	for i := 0; i < 3; i++ {
		if _, err := d.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(snd.sent) != 1 || chain.count[root] != 1 {
		t.Fatalf("sent %d votes, chain counted %d; want 1", len(snd.sent), chain.count[root])
	}
	rec, _ := st.Get(0)
	if rec.Phase != PhaseVoted || len(rec.VoteTxs) != 1 || rec.SentCount != 1 {
		t.Fatalf("record %+v", rec)
	}
}

func TestOnChainFlagPreventsVote(t *testing.T) {
	chain := newFakeChain(addr(1), addr(2), addr(3))
	chain.submitted[addr(1)] = true // voted before this state existed (e.g. lost data dir)
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, common.Hash{1})
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(snd.sent) != 0 {
		t.Fatal("voted although the on-chain flag was set")
	}
}

func TestNonMemberGeneratesOnly(t *testing.T) {
	chain := newFakeChain(addr(2))
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, common.Hash{1})
	r, err := d.Tick(context.Background())
	if err != nil || r.Phase != PhaseGenerateOnly || len(snd.sent) != 0 {
		t.Fatalf("%+v %v sent %d", r, err, len(snd.sent))
	}
}

func TestIndexMovedBeforeVote(t *testing.T) {
	chain := newFakeChain(addr(1))
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, common.Hash{1})
	chain.index = 1 // executed by the others before this member's tick
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, _ := st.Get(0)
	if len(snd.sent) != 0 || rec.Phase != PhaseExecuted {
		t.Fatalf("sent %d, phase %s", len(snd.sent), rec.Phase)
	}
}

func TestExecutesWhenThresholdMetButNotExecuted(t *testing.T) {
	chain := newFakeChain(addr(1), addr(2), addr(3))
	chain.autoExecute = false
	root := common.Hash{7}
	chain.count[root] = 1 // another member voted; our vote makes 2 of 3
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, root)
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if chain.executes != 1 || chain.index != 1 || len(snd.sent) != 2 || snd.sent[1].Data[0] != 2 {
		t.Fatalf("executes %d index %d sent %d", chain.executes, chain.index, len(snd.sent))
	}
	rec, _ := st.Get(0)
	if !rec.ExecutedBySelf {
		t.Fatal("execution not recorded")
	}
	// Next tick: index moved on, the record closes; no further transactions.
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec, _ = st.Get(0); rec.Phase != PhaseExecuted || len(snd.sent) != 2 {
		t.Fatalf("phase %s sent %d", rec.Phase, len(snd.sent))
	}
}

func TestThresholdBelowDoesNotExecute(t *testing.T) {
	chain := newFakeChain(addr(1), addr(2), addr(3))
	chain.autoExecute = false
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, common.Hash{7})
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if chain.executes != 0 || len(snd.sent) != 1 {
		t.Fatalf("1 vote of 3 executed (%d) or sent %d", chain.executes, len(snd.sent))
	}
}

func TestThresholdMet(t *testing.T) {
	thr := big.NewInt(51e16) // 0.51e18
	for _, tc := range []struct {
		count, members uint64
		want           bool
	}{
		{2, 3, true},    // 2e18/3 = 666666666666666666 >= 51e16
		{1, 3, false},   // 333333333333333333 < 51e16
		{1, 2, false},   // 5e17 < 51e16
		{51, 100, true}, // exactly 51e16
		{50, 100, false},
		{1, 1, true},
		{0, 0, false},
	} {
		if got := ThresholdMet(tc.count, tc.members, thr); got != tc.want {
			t.Errorf("%d/%d: %v, want %v", tc.count, tc.members, got, tc.want)
		}
	}
}

func TestRestartResumesSavedVote(t *testing.T) {
	chain := newFakeChain(addr(1), addr(2), addr(3))
	d, snd, st := setup(t, chain, addr(1))
	seed(t, st, 0, common.Hash{3})
	// A crash after the signed vote was saved (and maybe broadcast): the record carries it.
	rec, _ := st.Get(0)
	tx := types.NewTx(&types.DynamicFeeTx{Nonce: 4, Data: append([]byte{1}, common.Hash{3}.Bytes()...)})
	raw, _ := tx.MarshalBinary()
	rec.VoteTxs, rec.SentCount = [][]byte{raw}, 1
	if err := st.Put(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if snd.resumed != 1 || len(snd.sent) != 0 || chain.count[common.Hash{3}] != 1 {
		t.Fatalf("resumed %d sent %d count %d", snd.resumed, len(snd.sent), chain.count[common.Hash{3}])
	}
	if rec, _ = st.Get(0); rec.Phase != PhaseVoted || rec.SentCount != 1 {
		t.Fatalf("record %+v", rec)
	}
}

func TestStateRoundTrip(t *testing.T) {
	st, err := OpenState(filepath.Join(t.TempDir(), "duty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seed(t, st, 5, common.Hash{9})
	seed(t, st, 2, common.Hash{8})
	all, err := st.All()
	if err != nil || len(all) != 2 || all[0].Index != 2 || all[1].Submission.MerkleRoot != (common.Hash{9}) {
		t.Fatalf("%v %v", all, err)
	}
	if r, err := st.Get(3); r != nil || err != nil {
		t.Fatal("missing record returned")
	}
	if _, err := decodeTxs([][]byte{{0xde, 0xad}}); err == nil {
		t.Fatal("garbage transaction decoded")
	}
}

func TestZstdCopies(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"rp-rewards-1337-3.json", "rp-rewards-1337-3.ssz", "rp-performance-1337-3.json", "rp-snapshot-1337-3.json", "rp-rewards-event-devnet-2.yaml"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("content of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	z, err := zstdCopies(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(z) != 3 {
		t.Fatalf("zstd copies %v, want rewards json, ssz and performance", z)
	}
	for _, p := range z {
		data, _ := os.ReadFile(p)
		if !tree.IsZstd(data) {
			t.Fatalf("%s is not zstd", p)
		}
		dec, _ := zstd.NewReader(nil)
		plain, err := dec.DecodeAll(data, nil)
		dec.Close()
		if err != nil || string(plain) != "content of "+filepath.Base(strings.TrimSuffix(p, ".zst")) {
			t.Fatalf("%s decompresses to %q (%v)", p, plain, err)
		}
	}
}

// aheadGen is a generator that is never due and scans ahead.
type aheadGen struct {
	noGen
	minNew []uint64
	fail   bool
}

func (g *aheadGen) ScanAhead(_ context.Context, minNew uint64) (*interval.Ahead, error) {
	g.minNew = append(g.minNew, minNew)
	if g.fail {
		return nil, errors.New("beacon node down")
	}
	return &interval.Ahead{Index: 0, Finalized: 12, FirstEpoch: 3, LastEpoch: 11, Scan: &scan.AheadResult{Scanned: 2, Kept: 7}}, nil
}

type scanObs struct {
	Observer
	last, finalized, lag []uint64
}

func (o *scanObs) ScanProgress(last, finalized, lag uint64) {
	o.last, o.finalized, o.lag = append(o.last, last), append(o.finalized, finalized), append(o.lag, lag)
}

// While the interval is not due, every tick scans ahead (when enabled); a failing scan never fails the tick.
func TestScanAheadWhileWaiting(t *testing.T) {
	g := &aheadGen{}
	obs := &scanObs{}
	d, _, _ := setup(t, newFakeChain(addr(1)), addr(1), WithGenerator(g), WithScanAhead(4), WithObserver(obs))
	for range 2 {
		if r, err := d.Tick(context.Background()); err != nil || !r.Waiting {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if !slices.Equal(g.minNew, []uint64{4, 4}) || !slices.Equal(obs.last, []uint64{11, 11}) || !slices.Equal(obs.finalized, []uint64{12, 12}) {
		t.Fatalf("scan ahead calls %v, observed last %v finalized %v", g.minNew, obs.last, obs.finalized)
	}
	g.fail = true
	if r, err := d.Tick(context.Background()); err != nil || !r.Waiting {
		t.Fatalf("failing scan ahead failed the tick: %+v %v", r, err)
	}
	off := &aheadGen{}
	d, _, _ = setup(t, newFakeChain(addr(1)), addr(1), WithGenerator(off))
	if _, err := d.Tick(context.Background()); err != nil || len(off.minNew) != 0 {
		t.Fatalf("scan ahead off: %v, calls %v", err, off.minNew)
	}
	if _, err := New(context.Background(), WithGenerator(&noGen{}), WithProtocol(newFakeChain()), WithState(&State{}), WithOutputDir("x"),
		WithGenerateOnly(true), WithScanAhead(1)); err == nil {
		t.Fatal("scan ahead accepted with a generator that cannot")
	}
}
