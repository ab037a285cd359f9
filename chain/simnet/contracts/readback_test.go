package contracts_test

import (
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// Seeds nodes, minipools, a bond reduction, stakes and a megapool through the sim* functions, then reads them
// back the way the watchtower does: addresses from RocketStorage (contracts.Bind) and batched getters through
// Multicall3.aggregate3.
func TestSeededStateReadsBack(t *testing.T) {
	e := newEnv(t, 4)
	g := e.guardian
	node, other := e.addr(2), e.addr(3)
	e.must(e.d.NodeManager.SimRegisterNode(g, node, big.NewInt(1_000), big.NewInt(0), "Europe/Zurich"))
	e.must(e.d.NodeManager.SimRegisterNode(g, other, big.NewInt(2_000), big.NewInt(1), "Etc/UTC"))
	e.must(e.d.NodeManager.SimSetSmoothingPoolRegistration(g, node, true, big.NewInt(1_500)))
	e.must(e.d.NodeStaking.SimSetNodeStake(g, node, eth(1000), eth(500), eth(8)))
	fee := new(big.Int).Div(ether, big.NewInt(10)) // 10 %
	r := e.must(e.d.MinipoolManager.SimCreateMinipool(g, node, pubkey(2, 0), 2, big.NewInt(1_200), fee, eth(16), eth(16)))
	var mpAddr common.Address
	for _, l := range r.Logs {
		if ev, err := e.d.MinipoolManager.ParseMinipoolCreated(*l); err == nil {
			mpAddr = ev.Minipool
		}
	}
	lowFee := new(big.Int).Div(ether, big.NewInt(20)) // 5 %
	e.must(e.d.MinipoolBondReducer.SimReduceBond(g, mpAddr, big.NewInt(1_800), eth(8), lowFee))
	megaAddr, mega := e.newMegapool(3, 2)
	e.must(mega.SimSetCapital(g, eth(8), eth(56), big.NewInt(0), big.NewInt(0), big.NewInt(0), big.NewInt(0)))

	// A second client view bound only from the storage address.
	d, err := contracts.Bind(e.ctx, e.client, e.d.StorageAddress, e.d.Multicall)
	if err != nil {
		t.Fatalf("bind from storage: %v", err)
	}
	for _, name := range e.d.Names() {
		if d.Addresses[name] != e.d.Addresses[name] {
			t.Fatalf("%s: registry has %s, deployment %s", name, d.Addresses[name].Hex(), e.d.Addresses[name].Hex())
		}
	}

	// Batched reads through Multicall3.
	nmABI, _ := bindings.RocketNodeManagerMetaData.GetAbi()
	mpABI, _ := bindings.RocketMinipoolMetaData.GetAbi()
	brABI, _ := bindings.RocketMinipoolBondReducerMetaData.GetAbi()
	nsABI, _ := bindings.RocketNodeStakingMetaData.GetAbi()
	mgABI, _ := bindings.RocketMegapoolDelegateMetaData.GetAbi()
	type read struct {
		target common.Address
		abi    interface {
			Pack(string, ...interface{}) ([]byte, error)
			Unpack(string, []byte) ([]interface{}, error)
		}
		method string
		args   []interface{}
		want   interface{}
	}
	nm := d.Addresses[contracts.NameNodeManager]
	reads := []read{
		{nm, nmABI, "getNodeCount", nil, big.NewInt(2)},
		{nm, nmABI, "getNodeAt", []interface{}{big.NewInt(1)}, other},
		{nm, nmABI, "getNodeRegistrationTime", []interface{}{node}, big.NewInt(1_000)},
		{nm, nmABI, "getRewardNetwork", []interface{}{other}, big.NewInt(1)},
		{nm, nmABI, "getSmoothingPoolRegistrationState", []interface{}{node}, true},
		{nm, nmABI, "getSmoothingPoolRegistrationChanged", []interface{}{node}, big.NewInt(1_500)},
		{nm, nmABI, "getSmoothingPoolRegistrationState", []interface{}{other}, false},
		{mpAddr, mpABI, "getStatus", nil, uint8(2)},
		{mpAddr, mpABI, "getNodeDepositBalance", nil, eth(8)},
		{mpAddr, mpABI, "getUserDepositBalance", nil, eth(24)},
		{mpAddr, mpABI, "getNodeFee", nil, lowFee},
		{mpAddr, mpABI, "getNodeAddress", nil, node},
		{d.Addresses[contracts.NameMinipoolBondReducer], brABI, "getLastBondReductionTime", []interface{}{mpAddr}, big.NewInt(1_800)},
		{d.Addresses[contracts.NameMinipoolBondReducer], brABI, "getLastBondReductionPrevValue", []interface{}{mpAddr}, eth(16)},
		{d.Addresses[contracts.NameMinipoolBondReducer], brABI, "getLastBondReductionPrevNodeFee", []interface{}{mpAddr}, fee},
		{d.Addresses[contracts.NameNodeStaking], nsABI, "getNodeLegacyStakedRPL", []interface{}{node}, eth(1000)},
		{d.Addresses[contracts.NameNodeStaking], nsABI, "getNodeMegapoolStakedRPL", []interface{}{node}, eth(500)},
		{d.Addresses[contracts.NameNodeStaking], nsABI, "getNodeMegapoolETHBonded", []interface{}{node}, eth(8)},
		{megaAddr, mgABI, "getNodeBond", nil, eth(8)},
		{megaAddr, mgABI, "getUserCapital", nil, eth(56)},
		{megaAddr, mgABI, "getActiveValidatorCount", nil, uint32(2)},
	}
	calls := make([]bindings.Multicall3Call3, len(reads))
	for i, rd := range reads {
		data, err := rd.abi.Pack(rd.method, rd.args...)
		if err != nil {
			t.Fatalf("pack %s: %v", rd.method, err)
		}
		calls[i] = bindings.Multicall3Call3{Target: rd.target, AllowFailure: false, CallData: data}
	}
	var out []interface{}
	raw := &bindings.Multicall3Raw{Contract: d.Multicall3}
	if err := raw.Call(e.call(), &out, "aggregate3", calls); err != nil {
		t.Fatalf("aggregate3: %v", err)
	}
	results := *abiConvertResults(t, out)
	if len(results) != len(reads) {
		t.Fatalf("aggregate3 returned %d results, want %d", len(results), len(reads))
	}
	for i, rd := range reads {
		if !results[i].Success {
			t.Fatalf("%s failed", rd.method)
		}
		vals, err := rd.abi.Unpack(rd.method, results[i].ReturnData)
		if err != nil {
			t.Fatalf("unpack %s: %v", rd.method, err)
		}
		got := vals[0]
		switch w := rd.want.(type) {
		case *big.Int:
			if gb, ok := got.(*big.Int); !ok || gb.Cmp(w) != 0 {
				t.Fatalf("%s = %v, want %s", rd.method, got, w)
			}
		default:
			if got != rd.want {
				t.Fatalf("%s = %v, want %v", rd.method, got, rd.want)
			}
		}
	}

	// Global megapool validator list (what the exit watcher enumerates).
	count, err := d.MegapoolManager.GetValidatorCount(e.call())
	if err != nil || count.Int64() != 2 {
		t.Fatalf("megapool validator count = %v (%v), want 2", count, err)
	}
	info, err := d.MegapoolManager.GetValidatorInfo(e.call(), big.NewInt(1))
	if err != nil {
		t.Fatal(err)
	}
	if info.Megapool != megaAddr || info.ValidatorId != 1 || !info.ValidatorInfo.Staked || string(info.Pubkey) != string(pubkey(3, 1)) {
		t.Fatalf("getValidatorInfo(1) = %+v", info)
	}
	// Withdrawal credentials 0x01 ‖ 0^11 ‖ megapool.
	wc, err := mega.GetWithdrawalCredentials(e.call())
	if err != nil {
		t.Fatal(err)
	}
	var want [32]byte
	want[0] = 1
	copy(want[12:], megaAddr.Bytes())
	if wc != want {
		t.Fatalf("withdrawal credentials %x, want %x", wc, want)
	}
}

func abiConvertResults(t *testing.T, out []interface{}) *[]bindings.Multicall3Result {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("aggregate3 returned %d values, want 1", len(out))
	}
	return abi.ConvertType(out[0], new([]bindings.Multicall3Result)).(*[]bindings.Multicall3Result)
}
