package execution

import (
	"context"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/rewards"
)

// Contract ABIs. The simnet contracts (chain/simnet/contracts) use the mainnet names, argument and return types
// for every getter read here, so their generated ABIs serve any standard deployment.
var (
	storageABI         = bindings.MustABI(bindings.RocketStorageMetaData)
	rewardsPoolABI     = bindings.MustABI(bindings.RocketRewardsPoolMetaData)
	pricesABI          = bindings.MustABI(bindings.RocketNetworkPricesMetaData)
	revenuesABI        = bindings.MustABI(bindings.RocketNetworkRevenuesMetaData)
	settingsNodeABI    = bindings.MustABI(bindings.RocketDAOProtocolSettingsNodeMetaData)
	settingsRewardsABI = bindings.MustABI(bindings.RocketDAONodeTrustedSettingsRewardsMetaData)
	daoTrustedABI      = bindings.MustABI(bindings.RocketDAONodeTrustedMetaData)
	nodeManagerABI     = bindings.MustABI(bindings.RocketNodeManagerMetaData)
	nodeStakingABI     = bindings.MustABI(bindings.RocketNodeStakingMetaData)
	minipoolManagerABI = bindings.MustABI(bindings.RocketMinipoolManagerMetaData)
	minipoolABI        = bindings.MustABI(bindings.RocketMinipoolMetaData)
	bondReducerABI     = bindings.MustABI(bindings.RocketMinipoolBondReducerMetaData)
	megapoolFactoryABI = bindings.MustABI(bindings.RocketMegapoolFactoryMetaData)
	megapoolManagerABI = bindings.MustABI(bindings.RocketMegapoolManagerMetaData)
	megapoolABI        = bindings.MustABI(bindings.RocketMegapoolDelegateMetaData)
)

// Registry names read from RocketStorage.
const (
	nameRewardsPool       = "rocketRewardsPool"
	nameNetworkPrices     = "rocketNetworkPrices"
	nameNetworkRevenues   = "rocketNetworkRevenues"
	nameSettingsNode      = "rocketDAOProtocolSettingsNode"
	nameSettingsRewards   = "rocketDAONodeTrustedSettingsRewards"
	nameDAONodeTrusted    = "rocketDAONodeTrusted"
	nameNodeManager       = "rocketNodeManager"
	nameNodeStaking       = "rocketNodeStaking"
	nameMinipoolManager   = "rocketMinipoolManager"
	nameBondReducer       = "rocketMinipoolBondReducer"
	nameSmoothingPool     = "rocketSmoothingPool"
	nameMegapoolFactory   = "rocketMegapoolFactory"
	nameMegapoolManager   = "rocketMegapoolManager"
	nameMerkleDistributor = "rocketMerkleDistributorMainnet"
)

// ContractAddressKey is the RocketStorage key of a contract address: keccak256(abi.encodePacked("contract.address", name)).
func ContractAddressKey(name string) common.Hash {
	return crypto.Keccak256Hash([]byte("contract.address" + name))
}

// PenaltyCountKey is the RocketStorage key of a minipool's penalty count:
// keccak256(abi.encodePacked("network.penalties.penalty", minipool)) (rewards-rules §6.6).
func PenaltyCountKey(minipool common.Address) common.Hash {
	return crypto.Keccak256Hash([]byte("network.penalties.penalty"), minipool.Bytes())
}

// minipool status enum (RocketMinipool MinipoolStatus).
var minipoolStatusNames = []string{
	rewards.MinipoolInitialised, rewards.MinipoolPrelaunch, rewards.MinipoolStaking,
	rewards.MinipoolWithdrawable, rewards.MinipoolDissolved,
}

// Addresses resolves registry names to contract addresses at a block.
func (s *Service) Addresses(ctx context.Context, block uint64, names ...string) (map[string]common.Address, error) {
	out := make(map[string]common.Address, len(names))
	addrs := make([]common.Address, len(names))
	calls := make([]call, len(names))
	for i, n := range names {
		calls[i] = call{to: s.p.storage, abi: storageABI, method: "getAddress", args: []any{ContractAddressKey(n)}, out: toAddress(&addrs[i])}
	}
	if err := s.multicall(ctx, block, calls); err != nil {
		return nil, fmt.Errorf("read contract addresses: %w", err)
	}
	for i, n := range names {
		if addrs[i] == (common.Address{}) {
			return nil, fmt.Errorf("read contract addresses: %s not registered in RocketStorage %s at block %d", n, s.p.storage.Hex(), block)
		}
		out[n] = addrs[i]
	}
	return out, nil
}

// IntervalInfo is the rewards pool's interval state at a block.
type IntervalInfo struct {
	RewardIndex            uint64
	ClaimIntervalTimeStart uint64
	IntervalTime           uint64
}

// IntervalInfo reads getRewardIndex, getClaimIntervalTimeStart and getClaimIntervalTime at a block.
func (s *Service) IntervalInfo(ctx context.Context, block uint64) (*IntervalInfo, error) {
	a, err := s.Addresses(ctx, block, nameRewardsPool)
	if err != nil {
		return nil, err
	}
	rp := a[nameRewardsPool]
	var ii IntervalInfo
	err = s.multicall(ctx, block, []call{
		{to: rp, abi: rewardsPoolABI, method: "getRewardIndex", out: toUint64(&ii.RewardIndex)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimIntervalTimeStart", out: toUint64(&ii.ClaimIntervalTimeStart)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimIntervalTime", out: toUint64(&ii.IntervalTime)},
	})
	if err != nil {
		return nil, fmt.Errorf("read interval state: %w", err)
	}
	return &ii, nil
}

// ReadSnapshot reads every contract value of the rewards snapshot at EL block `block` (README of rewards/,
// rewards-rules §6.6): the interval and RPL values, prices, shares, enabled networks, oDAO members, nodes,
// minipools and megapools. The beacon and timing fields (genesis, slots, blocks, EL times, intervalsPassed,
// validators) are left for the caller. Lists come back in canonical order.
func (s *Service) ReadSnapshot(ctx context.Context, block uint64) (*rewards.Snapshot, error) {
	names := []string{nameRewardsPool, nameNetworkPrices, nameSettingsNode, nameSettingsRewards, nameDAONodeTrusted,
		nameNodeManager, nameNodeStaking, nameMinipoolManager, nameBondReducer, nameSmoothingPool}
	if !s.p.preSaturn {
		names = append(names, nameNetworkRevenues, nameMegapoolFactory, nameMegapoolManager)
	}
	a, err := s.Addresses(ctx, block, names...)
	if err != nil {
		return nil, err
	}
	snap := &rewards.Snapshot{Version: rewards.SnapshotVersion, SlotsPerEpoch: 32}
	log := s.log.With().Uint64("block", block).Logger()

	// Stage 1: scalars and counts.
	var (
		pendingRPL, nodePerc, trustedPerc, daoPerc, price, minStake = new(big.Int), new(big.Int), new(big.Int), new(big.Int), new(big.Int), new(big.Int)
		pvs, nodeShare, voterShare, pdaoShare                       = new(big.Int), new(big.Int), new(big.Int), new(big.Int)
		nodeCount, memberCount, minipoolCount, megaValidatorCount   uint64
	)
	rp := a[nameRewardsPool]
	calls := []call{
		{to: rp, abi: rewardsPoolABI, method: "getRewardIndex", out: toUint64(&snap.Index)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimIntervalTimeStart", out: toUint64(&snap.ClaimIntervalTimeStart)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimIntervalTime", out: toUint64(&snap.IntervalTime)},
		{to: rp, abi: rewardsPoolABI, method: "getPendingRPLRewards", out: toBig(&pendingRPL)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimingContractPerc", args: []any{"rocketClaimNode"}, out: toBig(&nodePerc)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimingContractPerc", args: []any{"rocketClaimTrustedNode"}, out: toBig(&trustedPerc)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimingContractPerc", args: []any{"rocketClaimDAO"}, out: toBig(&daoPerc)},
		{to: a[nameNetworkPrices], abi: pricesABI, method: "getRPLPrice", out: toBig(&price)},
		{to: a[nameSettingsNode], abi: settingsNodeABI, method: "getMinimumPerMinipoolStake", out: toBig(&minStake)},
		{to: a[nameNodeManager], abi: nodeManagerABI, method: "getNodeCount", out: toUint64(&nodeCount)},
		{to: a[nameDAONodeTrusted], abi: daoTrustedABI, method: "getMemberCount", out: toUint64(&memberCount)},
		{to: a[nameMinipoolManager], abi: minipoolManagerABI, method: "getMinipoolCount", out: toUint64(&minipoolCount)},
	}
	if !s.p.preSaturn {
		calls = append(calls,
			call{to: rp, abi: rewardsPoolABI, method: "getPendingVoterShare", out: toBig(&pvs)},
			call{to: a[nameNetworkRevenues], abi: revenuesABI, method: "getCurrentNodeShare", out: toBig(&nodeShare)},
			call{to: a[nameNetworkRevenues], abi: revenuesABI, method: "getCurrentVoterShare", out: toBig(&voterShare)},
			call{to: a[nameNetworkRevenues], abi: revenuesABI, method: "getCurrentProtocolDAOShare", out: toBig(&pdaoShare)},
			call{to: a[nameMegapoolManager], abi: megapoolManagerABI, method: "getValidatorCount", out: toUint64(&megaValidatorCount)},
		)
	}
	if err := s.multicall(ctx, block, calls); err != nil {
		return nil, fmt.Errorf("read network values: %w", err)
	}
	bctx, cancel := context.WithTimeout(ctx, s.p.timeout)
	spBalance, err := s.p.client.BalanceAt(bctx, a[nameSmoothingPool], new(big.Int).SetUint64(block))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("read smoothing pool balance at block %d: %w", block, err)
	}
	snap.PendingRPL, snap.NodePerc, snap.TrustedNodePerc, snap.ProtocolDAOPerc = rewards.NewWei(pendingRPL), rewards.NewWei(nodePerc), rewards.NewWei(trustedPerc), rewards.NewWei(daoPerc)
	snap.RPLPrice, snap.MinimumPerMinipoolStake, snap.SmoothingPoolBalance = rewards.NewWei(price), rewards.NewWei(minStake), rewards.NewWei(spBalance)
	snap.PendingVoterShare, snap.NodeShare, snap.VoterShare, snap.ProtocolDAOShare = rewards.NewWei(pvs), rewards.NewWei(nodeShare), rewards.NewWei(voterShare), rewards.NewWei(pdaoShare)
	const maxCount = 10_000_000
	for what, n := range map[string]uint64{"nodes": nodeCount, "members": memberCount, "minipools": minipoolCount, "megapool validators": megaValidatorCount} {
		if n > maxCount {
			return nil, fmt.Errorf("read network values: %s count %d is implausible", what, n)
		}
	}
	log.Debug().Uint64("nodes", nodeCount).Uint64("members", memberCount).Uint64("minipools", minipoolCount).Uint64("megapool_validators", megaValidatorCount).Msg("counts read")

	// Stage 2: enumerations.
	nodeAddrs := make([]common.Address, nodeCount)
	memberAddrs := make([]common.Address, memberCount)
	minipoolAddrs := make([]common.Address, minipoolCount)
	type globalValidator struct {
		pubkey   []byte
		info     bindings.ValidatorInfo
		megapool common.Address
		id       uint32
	}
	megaVals := make([]globalValidator, megaValidatorCount)
	calls = calls[:0]
	for i := range nodeAddrs {
		calls = append(calls, call{to: a[nameNodeManager], abi: nodeManagerABI, method: "getNodeAt", args: []any{big.NewInt(int64(i))}, out: toAddress(&nodeAddrs[i])})
	}
	for i := range memberAddrs {
		calls = append(calls, call{to: a[nameDAONodeTrusted], abi: daoTrustedABI, method: "getMemberAt", args: []any{big.NewInt(int64(i))}, out: toAddress(&memberAddrs[i])})
	}
	for i := range minipoolAddrs {
		calls = append(calls, call{to: a[nameMinipoolManager], abi: minipoolManagerABI, method: "getMinipoolAt", args: []any{big.NewInt(int64(i))}, out: toAddress(&minipoolAddrs[i])})
	}
	for i := range megaVals {
		gv := &megaVals[i]
		calls = append(calls, call{to: a[nameMegapoolManager], abi: megapoolManagerABI, method: "getValidatorInfo", args: []any{big.NewInt(int64(i))}, out: func(vals []any) error {
			if len(vals) != 4 {
				return fmt.Errorf("want 4 return values, got %d", len(vals))
			}
			pk, ok1 := vals[0].([]byte)
			mp, ok2 := vals[2].(common.Address)
			id, ok3 := vals[3].(uint32)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("unexpected return types %T %T %T", vals[0], vals[2], vals[3])
			}
			if err := convert(vals[1], &gv.info); err != nil {
				return fmt.Errorf("decode ValidatorInfo: %w", err)
			}
			gv.pubkey, gv.megapool, gv.id = append([]byte(nil), pk...), mp, id
			return nil
		}})
	}
	if err := s.multicall(ctx, block, calls); err != nil {
		return nil, fmt.Errorf("enumerate nodes, members, minipools and megapool validators: %w", err)
	}

	// Stage 3: per node, member and minipool.
	nodes := make([]rewards.Node, nodeCount)
	type nodeExtra struct {
		megapool common.Address
		deployed bool
	}
	extra := make([]nodeExtra, nodeCount)
	members := make([]rewards.ODAOMember, memberCount)
	mps := make([]rewards.Minipool, minipoolCount)
	type mpRaw struct {
		pubkey                           []byte
		status                           uint64
		fee, nodeDep, userDep, prevValue *big.Int
		prevFee                          *big.Int
		penalties                        *big.Int
	}
	mpr := make([]mpRaw, minipoolCount)
	calls = calls[:0]
	nm, ns := a[nameNodeManager], a[nameNodeStaking]
	legacyMethod := "getNodeLegacyStakedRPL"
	if s.p.preSaturn {
		legacyMethod = "getNodeRPLStake"
	}
	stakes := make([][3]*big.Int, nodeCount)
	for i, addr := range nodeAddrs {
		n := &nodes[i]
		n.Address = rewards.Address(addr)
		arg := []any{addr}
		calls = append(calls,
			call{to: nm, abi: nodeManagerABI, method: "getNodeRegistrationTime", args: arg, out: toUint64(&n.RegistrationTime)},
			call{to: nm, abi: nodeManagerABI, method: "getRewardNetwork", args: arg, out: toUint64(&n.RewardNetwork)},
			call{to: nm, abi: nodeManagerABI, method: "getSmoothingPoolRegistrationState", args: arg, out: toBool(&n.SmoothingPoolRegistered)},
			call{to: nm, abi: nodeManagerABI, method: "getSmoothingPoolRegistrationChanged", args: arg, out: toUint64(&n.SmoothingPoolChangeTime)},
			call{to: ns, abi: nodeStakingABI, method: legacyMethod, args: arg, out: toBig(&stakes[i][0])},
		)
		if !s.p.preSaturn {
			calls = append(calls,
				call{to: ns, abi: nodeStakingABI, method: "getNodeMegapoolStakedRPL", args: arg, out: toBig(&stakes[i][1])},
				call{to: ns, abi: nodeStakingABI, method: "getNodeMegapoolETHBonded", args: arg, out: toBig(&stakes[i][2])},
				call{to: a[nameMegapoolFactory], abi: megapoolFactoryABI, method: "getExpectedAddress", args: arg, out: toAddress(&extra[i].megapool)},
				call{to: a[nameMegapoolFactory], abi: megapoolFactoryABI, method: "getMegapoolDeployed", args: arg, out: toBool(&extra[i].deployed)},
			)
		}
	}
	for i, addr := range memberAddrs {
		members[i].Address = rewards.Address(addr)
		calls = append(calls, call{to: a[nameDAONodeTrusted], abi: daoTrustedABI, method: "getMemberJoinedTime", args: []any{addr}, out: toUint64(&members[i].JoinedTime)})
	}
	mm, br := a[nameMinipoolManager], a[nameBondReducer]
	for i, addr := range minipoolAddrs {
		m, r := &mps[i], &mpr[i]
		m.Address = rewards.Address(addr)
		arg := []any{addr}
		var nodeAddr common.Address
		calls = append(calls,
			call{to: mm, abi: minipoolManagerABI, method: "getMinipoolPubkey", args: arg, out: toBytes(&r.pubkey)},
			call{to: addr, abi: minipoolABI, method: "getStatus", out: toUint64(&r.status)},
			call{to: addr, abi: minipoolABI, method: "getStatusTime", out: toUint64(&m.StatusTime)},
			call{to: addr, abi: minipoolABI, method: "getNodeFee", out: toBig(&r.fee)},
			call{to: addr, abi: minipoolABI, method: "getNodeDepositBalance", out: toBig(&r.nodeDep)},
			call{to: addr, abi: minipoolABI, method: "getUserDepositBalance", out: toBig(&r.userDep)},
			call{to: addr, abi: minipoolABI, method: "getNodeAddress", out: func(vals []any) error {
				if err := toAddress(&nodeAddr)(vals); err != nil {
					return err
				}
				m.Node = rewards.Address(nodeAddr)
				return nil
			}},
			call{to: br, abi: bondReducerABI, method: "getLastBondReductionTime", args: arg, out: toUint64(&m.LastBondReductionTime)},
			call{to: br, abi: bondReducerABI, method: "getLastBondReductionPrevValue", args: arg, out: toBig(&r.prevValue)},
			call{to: br, abi: bondReducerABI, method: "getLastBondReductionPrevNodeFee", args: arg, out: toBig(&r.prevFee)},
			call{to: s.p.storage, abi: storageABI, method: "getUint", args: []any{PenaltyCountKey(addr)}, out: toBig(&r.penalties)},
		)
	}
	if err := s.multicall(ctx, block, calls); err != nil {
		return nil, fmt.Errorf("read nodes, members and minipools: %w", err)
	}
	for i := range nodes {
		nodes[i].LegacyStakedRPL = rewards.NewWei(orZero(stakes[i][0]))
		nodes[i].MegapoolStakedRPL = rewards.NewWei(orZero(stakes[i][1]))
		nodes[i].MegapoolETHBonded = rewards.NewWei(orZero(stakes[i][2]))
	}
	for i := range mps {
		m, r := &mps[i], &mpr[i]
		if len(r.pubkey) != 48 {
			return nil, fmt.Errorf("minipool %s: pubkey has %d bytes, want 48", minipoolAddrs[i].Hex(), len(r.pubkey))
		}
		copy(m.Pubkey[:], r.pubkey)
		if r.status >= uint64(len(minipoolStatusNames)) {
			return nil, fmt.Errorf("minipool %s: unknown status %d", minipoolAddrs[i].Hex(), r.status)
		}
		m.Status = minipoolStatusNames[r.status]
		m.NodeFee, m.NodeDepositBalance, m.UserDepositBalance = rewards.NewWei(r.fee), rewards.NewWei(r.nodeDep), rewards.NewWei(r.userDep)
		m.LastBondReductionPrevValue, m.LastBondReductionPrevNodeFee = rewards.NewWei(r.prevValue), rewards.NewWei(r.prevFee)
		if !r.penalties.IsUint64() {
			return nil, fmt.Errorf("minipool %s: penalty count %s does not fit 64 bits", minipoolAddrs[i].Hex(), r.penalties)
		}
		m.PenaltyCount = r.penalties.Uint64()
	}

	// Stage 4: deployed megapools and enabled networks.
	megaByAddr := map[common.Address]*rewards.Megapool{}
	var megas []*rewards.Megapool
	type megaRaw struct{ bond, capital *big.Int }
	var mraw []*megaRaw
	calls = calls[:0]
	for i, e := range extra {
		if !e.deployed {
			continue
		}
		if _, dup := megaByAddr[e.megapool]; dup {
			return nil, fmt.Errorf("megapool %s claimed by two nodes", e.megapool.Hex())
		}
		m := &rewards.Megapool{Address: rewards.Address(e.megapool), Node: rewards.Address(nodeAddrs[i])}
		r := &megaRaw{}
		megaByAddr[e.megapool] = m
		megas, mraw = append(megas, m), append(mraw, r)
		calls = append(calls,
			call{to: e.megapool, abi: megapoolABI, method: "getNodeBond", out: toBig(&r.bond)},
			call{to: e.megapool, abi: megapoolABI, method: "getUserCapital", out: toBig(&r.capital)},
			call{to: e.megapool, abi: megapoolABI, method: "getActiveValidatorCount", out: toUint64(&m.ActiveValidatorCount)},
		)
	}
	netSet := map[uint64]bool{}
	for _, n := range nodes {
		if n.RewardNetwork > 0 {
			netSet[n.RewardNetwork] = true
		}
	}
	for n := uint64(1); n <= s.p.networkProbe; n++ {
		netSet[n] = true
	}
	nets := make([]uint64, 0, len(netSet))
	for n := range netSet {
		nets = append(nets, n)
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i] < nets[j] })
	enabled := make([]bool, len(nets))
	for i, n := range nets {
		calls = append(calls, call{to: a[nameSettingsRewards], abi: settingsRewardsABI, method: "getNetworkEnabled", args: []any{new(big.Int).SetUint64(n)}, out: toBool(&enabled[i])})
	}
	if err := s.multicall(ctx, block, calls); err != nil {
		return nil, fmt.Errorf("read megapools and networks: %w", err)
	}
	for i, m := range megas {
		m.NodeBond, m.UserCapital = rewards.NewWei(mraw[i].bond), rewards.NewWei(mraw[i].capital)
	}
	for _, gv := range megaVals {
		m, ok := megaByAddr[gv.megapool]
		if !ok {
			continue // validator of a megapool that is not deployed (or not a registered node's)
		}
		if len(gv.pubkey) != 48 {
			return nil, fmt.Errorf("megapool %s validator %d: pubkey has %d bytes, want 48", gv.megapool.Hex(), gv.id, len(gv.pubkey))
		}
		v := rewards.MegapoolValidator{ID: uint64(gv.id), Staked: gv.info.Staked, InPrestake: gv.info.InPrestake,
			Exiting: gv.info.Exiting, Exited: gv.info.Exited,
			LastRequestedValue: uint64(gv.info.LastRequestedValue), LastRequestedBond: uint64(gv.info.LastRequestedBond)}
		copy(v.Pubkey[:], gv.pubkey)
		m.Validators = append(m.Validators, v)
	}
	snap.EnabledNetworks = []uint64{}
	for i, n := range nets {
		if enabled[i] {
			snap.EnabledNetworks = append(snap.EnabledNetworks, n)
		}
	}
	snap.OracleDAO, snap.Nodes, snap.Minipools = members, nodes, mps
	for _, m := range megas {
		snap.Megapools = append(snap.Megapools, *m)
	}
	log.Info().Int("nodes", len(nodes)).Int("members", len(members)).Int("minipools", len(mps)).Int("megapools", len(megas)).Msg("network state read")
	return snap.Canonical(), nil
}

func orZero(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return x
}

// ProtocolPubkeys lists the validator pubkeys of a snapshot's minipools and megapool validators, sorted and
// de-duplicated: the keys whose beacon status the snapshot needs.
func ProtocolPubkeys(s *rewards.Snapshot) []rewards.Pubkey {
	seen := map[rewards.Pubkey]bool{}
	var out []rewards.Pubkey
	add := func(p rewards.Pubkey) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, m := range s.Minipools {
		add(m.Pubkey)
	}
	for _, m := range s.Megapools {
		for _, v := range m.Validators {
			add(v.Pubkey)
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}
