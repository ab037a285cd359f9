package contracts_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

const farFutureEpoch = ^uint64(0)

// pubkey returns a distinct 48-byte validator pubkey.
func pubkey(tag byte, i int) []byte {
	pk := make([]byte, 48)
	pk[0] = tag
	big.NewInt(int64(i)).FillBytes(pk[40:])
	return pk
}

func stakedInfo() bindings.ValidatorInfo {
	return bindings.ValidatorInfo{LastRequestedValue: 32000, LastRequestedBond: 4000, DepositValue: 32000, Staked: true}
}

// newMegapool registers account node (unless registered), deploys its megapool and adds n staked validators.
func (e *env) newMegapool(node int, n int) (common.Address, *bindings.RocketMegapoolDelegate) {
	e.t.Helper()
	if exists, err := e.d.NodeManager.GetNodeExists(e.call(), e.addr(node)); err != nil || !exists {
		e.must(e.d.NodeManager.SimRegisterNode(e.guardian, e.addr(node), big.NewInt(500), big.NewInt(0), "Etc/UTC"))
	}
	expected, err := e.d.MegapoolFactory.GetExpectedAddress(e.call(), e.addr(node))
	if err != nil {
		e.t.Fatalf("expected megapool address: %v", err)
	}
	deployed, err := e.d.MegapoolFactory.GetMegapoolDeployed(e.call(), e.addr(node))
	if err != nil || deployed {
		e.t.Fatalf("megapool deployed before deployContract: %v %v", deployed, err)
	}
	r := e.must(e.d.MegapoolFactory.DeployContract(e.guardian, e.addr(node)))
	var got common.Address
	for _, l := range r.Logs {
		if ev, err := e.d.MegapoolFactory.ParseMegapoolDeployed(*l); err == nil {
			got = ev.Megapool
		}
	}
	if got != expected {
		e.t.Fatalf("megapool deployed at %s, getExpectedAddress said %s", got.Hex(), expected.Hex())
	}
	mp, err := bindings.NewRocketMegapoolDelegate(got, e.client)
	if err != nil {
		e.t.Fatalf("bind megapool: %v", err)
	}
	next := e.nonces(0)
	txs := make([]*types.Transaction, 0, n)
	for i := 0; i < n; i++ {
		txs = append(txs, e.pending(e.d.MegapoolManager.SimAddValidator(next(), got, pubkey(byte(node), i), stakedInfo())))
	}
	e.mined(txs...)
	return got, mp
}

func ids(from, to uint32) []uint32 {
	out := make([]uint32, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func (e *env) validator(mp *bindings.RocketMegapoolDelegate, id uint32) bindings.ValidatorInfo {
	e.t.Helper()
	v, err := mp.GetValidatorInfo(e.call(), id)
	if err != nil {
		e.t.Fatalf("validator %d: %v", id, err)
	}
	return v
}

func (e *env) blockTime(r *types.Receipt) uint64 {
	e.t.Helper()
	h, err := e.client.HeaderByNumber(e.ctx, r.BlockNumber)
	if err != nil {
		e.t.Fatalf("header %s: %v", r.BlockNumber, err)
	}
	return h.Time
}

func TestChallengeExitRules(t *testing.T) {
	e := newEnv(t, 5)
	e.addMembers(1, 2)
	mpAddr, mp := e.newMegapool(3, 51)
	type challenge = bindings.RocketMegapoolManagerExitChallenge

	// > 50 ids in total per transaction, also when split over entries.
	e.reverts("Too many challenges")(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{{Megapool: mpAddr, ValidatorIds: ids(0, 51)}}))
	e.reverts("Too many challenges")(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{
		{Megapool: mpAddr, ValidatorIds: ids(0, 30)}, {Megapool: mpAddr, ValidatorIds: ids(30, 51)},
	}))
	// Only oDAO members; only registered megapools.
	e.reverts("Invalid trusted node")(e.d.MegapoolManager.ChallengeExit(e.opts(3), []challenge{{Megapool: mpAddr, ValidatorIds: ids(0, 1)}}))
	e.reverts("Invalid megapool")(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{{Megapool: e.addr(4), ValidatorIds: ids(0, 1)}}))

	// Exactly 50 ids pass.
	r := e.must(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{{Megapool: mpAddr, ValidatorIds: ids(0, 50)}}))
	t1 := e.blockTime(r)
	for _, id := range []uint32{0, 49} {
		v := e.validator(mp, id)
		if !v.Locked || v.LockedTime != t1 {
			t.Fatalf("validator %d locked=%v lockedTime=%d, want true and block time %d", id, v.Locked, v.LockedTime, t1)
		}
	}
	if v := e.validator(mp, 50); v.Locked {
		t.Fatal("validator 50 locked without a challenge")
	}
	last, err := e.d.MegapoolManager.GetLastChallenger(e.call())
	if err != nil || last != e.addr(1) {
		t.Fatalf("last challenger = %s (%v), want member 1", last.Hex(), err)
	}
	stored, err := e.d.Storage.GetAddress(e.call(), contracts.LastChallengerKey())
	if err != nil || stored != e.addr(1) {
		t.Fatalf("storage last challenger = %s (%v), want member 1", stored.Hex(), err)
	}

	// The last challenger may not challenge again.
	e.reverts("Member was last to challenge")(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{{Megapool: mpAddr, ValidatorIds: ids(50, 51)}}))

	// Another member may; re-challenging a locked validator does not revert and refreshes lockedTime, and the
	// locked counter counts it once: 50 + 1 new = 51.
	// Fixed gas: the simulated backend estimates with the latest header's timestamp, where rewriting lockedTime
	// is a no-op SSTORE, so the estimate is short by the cost of the real write.
	o2 := e.opts(2)
	o2.GasLimit = 1_000_000
	r = e.must(e.d.MegapoolManager.ChallengeExit(o2, []challenge{{Megapool: mpAddr, ValidatorIds: []uint32{0, 50}}}))
	t2 := e.blockTime(r)
	if t2 <= t1 {
		t.Fatalf("block times not increasing: %d then %d", t1, t2)
	}
	if v := e.validator(mp, 0); v.LockedTime != t2 {
		t.Fatalf("re-challenged validator lockedTime = %d, want %d", v.LockedTime, t2)
	}
	locked, err := mp.GetLockedValidatorCount(e.call())
	if err != nil || locked != 51 {
		t.Fatalf("locked validator count = %d (%v), want 51", locked, err)
	}

	// A validator that is not staked cannot be challenged.
	next := e.nonces(0)
	e.mined(e.pending(e.d.MegapoolManager.SimAddValidator(next(), mpAddr, pubkey(9, 0), bindings.ValidatorInfo{LastRequestedValue: 32000, InQueue: true})))
	e.reverts("Validator not staked or already exiting")(e.d.MegapoolManager.ChallengeExit(e.opts(1), []challenge{{Megapool: mpAddr, ValidatorIds: []uint32{51}}}))
}

// Late fine: on time iff slot/32 <= W - notify.threshold (112). Slot 3200 is epoch 100:
// W = 212 -> 100 > 100 is false (no fine); W = 211 -> 100 > 99 (fine of 0.05 ETH).
func TestNotifyExitLateFine(t *testing.T) {
	e := newEnv(t, 5)
	e.addMembers(1, 1)
	mpAddr, mp := e.newMegapool(3, 4)
	fine := new(big.Int).Div(ether, big.NewInt(20)) // 0.05 ETH

	debt := func() *big.Int {
		d, err := mp.GetDebt(e.call())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	e.must(e.d.MegapoolManager.NotifyExit(e.opts(3), mpAddr, 0, 212, 3200))
	wantBig(t, "debt after on-time notify", debt(), big.NewInt(0))
	e.must(e.d.MegapoolManager.NotifyExit(e.opts(3), mpAddr, 1, 211, 3200))
	wantBig(t, "debt after late notify", debt(), fine)
	if v := e.validator(mp, 1); !v.Exiting || v.Locked {
		t.Fatalf("validator 1 exiting=%v locked=%v, want true/false", v.Exiting, v.Locked)
	}
	e.reverts("Validator not staked or already exiting")(e.d.MegapoolManager.NotifyExit(e.opts(3), mpAddr, 1, 211, 3200))
	e.reverts("Validator is not exiting")(e.d.MegapoolManager.NotifyExit(e.opts(3), mpAddr, 2, farFutureEpoch, 3200))
	e.reverts("Only the node operator or the guardian")(e.d.MegapoolManager.NotifyExit(e.opts(4), mpAddr, 2, 212, 3200))

	// A challenged validator is unlocked by notifyExit (the guardian may notify too); the fine is charged whoever
	// notifies: slot 3232 is epoch 101 > 212 - 112.
	e.must(e.d.MegapoolManager.ChallengeExit(e.opts(1), []bindings.RocketMegapoolManagerExitChallenge{{Megapool: mpAddr, ValidatorIds: []uint32{2, 3}}}))
	e.must(e.d.MegapoolManager.NotifyExit(e.guardian, mpAddr, 2, 212, 3232))
	wantBig(t, "debt after second late notify", debt(), new(big.Int).Mul(fine, big.NewInt(2)))
	if v := e.validator(mp, 2); v.Locked || !v.Exiting {
		t.Fatalf("validator 2 locked=%v exiting=%v after notifyExit, want false/true", v.Locked, v.Exiting)
	}

	// notifyNotExit needs a proof no older than the challenge.
	lockedTime := e.validator(mp, 3).LockedTime
	e.reverts("Proof is older than challenge")(e.d.MegapoolManager.NotifyNotExit(e.opts(3), mpAddr, 3, new(big.Int).SetUint64(lockedTime-1)))
	e.must(e.d.MegapoolManager.NotifyNotExit(e.opts(3), mpAddr, 3, new(big.Int).SetUint64(lockedTime)))
	locked, err := mp.GetLockedValidatorCount(e.call())
	if err != nil || locked != 0 {
		t.Fatalf("locked count = %d (%v), want 0", locked, err)
	}
}

// Megapool penalties: 2 of 3 votes (0.666e18 >= 0.51e18) apply; the rolling 7-day cap (612 ETH) holds.
func TestMegapoolPenaltyVote(t *testing.T) {
	e := newEnv(t, 6)
	e.addMembers(1, 3)
	mpAddr, mp := e.newMegapool(4, 1)
	blk := big.NewInt(1)
	e.must(e.d.MegapoolPenalties.Penalise(e.opts(1), mpAddr, blk, eth(1)))
	e.reverts("Duplicate submission from node")(e.d.MegapoolPenalties.Penalise(e.opts(1), mpAddr, blk, eth(1)))
	d, _ := mp.GetDebt(e.call())
	wantBig(t, "debt after 1/3 votes", d, big.NewInt(0))
	e.must(e.d.MegapoolPenalties.Penalise(e.opts(2), mpAddr, blk, eth(1)))
	d, _ = mp.GetDebt(e.call())
	wantBig(t, "debt after 2/3 votes", d, eth(1))
	e.reverts("Invalid trusted node")(e.d.MegapoolPenalties.Penalise(e.opts(5), mpAddr, blk, eth(1)))

	// 1 ETH already applied this week: 1 + 612 > 612.
	blk2 := big.NewInt(2)
	e.must(e.d.MegapoolPenalties.Penalise(e.opts(1), mpAddr, blk2, eth(612)))
	e.reverts("Max penalty exceeded")(e.d.MegapoolPenalties.Penalise(e.opts(2), mpAddr, blk2, eth(612)))
}

// Minipool penalties: the count lives in RocketStorage under keccak256("network.penalties.penalty" ‖ minipool).
func TestMinipoolPenaltyCount(t *testing.T) {
	e := newEnv(t, 5)
	e.addMembers(1, 3)
	e.must(e.d.NodeManager.SimRegisterNode(e.guardian, e.addr(4), big.NewInt(100), big.NewInt(0), "Etc/UTC"))
	r := e.must(e.d.MinipoolManager.SimCreateMinipool(e.guardian, e.addr(4), pubkey(4, 0), 2, big.NewInt(100), new(big.Int).Div(ether, big.NewInt(10)), eth(8), eth(24)))
	var mpAddr common.Address
	for _, l := range r.Logs {
		if ev, err := e.d.MinipoolManager.ParseMinipoolCreated(*l); err == nil {
			mpAddr = ev.Minipool
		}
	}
	if mpAddr == (common.Address{}) {
		t.Fatal("no MinipoolCreated event")
	}
	e.must(e.d.NetworkPenalties.SubmitPenalty(e.opts(1), mpAddr, big.NewInt(1)))
	e.reverts("Duplicate submission from node")(e.d.NetworkPenalties.SubmitPenalty(e.opts(1), mpAddr, big.NewInt(1)))
	e.reverts("Invalid minipool")(e.d.NetworkPenalties.SubmitPenalty(e.opts(1), e.addr(4), big.NewInt(1)))
	count := func() int64 {
		c, err := e.d.Storage.GetUint(e.call(), contracts.PenaltyCountKey(mpAddr))
		if err != nil {
			t.Fatal(err)
		}
		return c.Int64()
	}
	if c := count(); c != 0 {
		t.Fatalf("penalty count after 1/3 votes = %d, want 0", c)
	}
	e.must(e.d.NetworkPenalties.SubmitPenalty(e.opts(2), mpAddr, big.NewInt(1)))
	if c := count(); c != 1 {
		t.Fatalf("penalty count after 2/3 votes = %d, want 1", c)
	}
	// A third vote for the same (minipool, block) is recorded but applies nothing more.
	e.must(e.d.NetworkPenalties.SubmitPenalty(e.opts(3), mpAddr, big.NewInt(1)))
	viaGetter, err := e.d.NetworkPenalties.GetPenaltyCount(e.call(), mpAddr)
	if err != nil || viaGetter.Int64() != 1 || count() != 1 {
		t.Fatalf("penalty count getter=%v storage=%d (%v), want 1", viaGetter, count(), err)
	}
}
