package contracts_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// The tuple of the Saturn RewardSubmission struct, in ABI signature form.
const rewardSubmissionTuple = "(uint256,uint256,uint256,bytes32,uint256,uint256,uint256,uint256,uint256,uint256[],uint256[],uint256[])"

// mainnetSignatures lists, per contract, the functions and events the watchtower and treegen call on mainnet
// Rocket Pool v1.4 (see README.md). The test guards them against accidental renames or type changes.
var mainnetSignatures = []struct {
	contract  string
	meta      *bind.MetaData
	functions []string
	events    []string
}{
	{"RocketStorage", bindings.RocketStorageMetaData, []string{
		"getAddress(bytes32)", "getUint(bytes32)", "getBool(bytes32)", "getBytes32(bytes32)", "getString(bytes32)",
		"getNodeWithdrawalAddress(address)", "getGuardian()", "getDeployedStatus()",
	}, nil},
	{"RocketRewardsPool", bindings.RocketRewardsPoolMetaData, []string{
		"getRewardIndex()", "getClaimIntervalTimeStart()", "getClaimIntervalTime()", "getClaimIntervalsPassed()",
		"getPendingRPLRewards()", "getPendingETHRewards()", "getPendingVoterShare()", "getClaimingContractPerc(string)",
		"getClaimIntervalExecutionBlock(uint256)", "getTrustedNodeSubmitted(address,uint256)",
		"getSubmissionCount(" + rewardSubmissionTuple + ")", "submitRewardSnapshot(" + rewardSubmissionTuple + ")",
		"executeRewardSnapshot(" + rewardSubmissionTuple + ")",
	}, []string{
		"RewardSnapshot(uint256," + rewardSubmissionTuple + ",uint256,uint256,uint256)",
		"RewardSnapshotSubmitted(address,uint256," + rewardSubmissionTuple + ",uint256)",
	}},
	{"RocketTokenRPL", bindings.RocketTokenRPLMetaData, []string{"getInflationIntervalStartTime()", "balanceOf(address)"}, nil},
	{"RocketNetworkPrices", bindings.RocketNetworkPricesMetaData, []string{"getRPLPrice()"}, nil},
	{"RocketNetworkRevenues", bindings.RocketNetworkRevenuesMetaData, []string{
		"getCurrentNodeShare()", "getCurrentVoterShare()", "getCurrentProtocolDAOShare()",
	}, nil},
	{"RocketDAOProtocolSettingsNode", bindings.RocketDAOProtocolSettingsNodeMetaData, []string{"getMinimumPerMinipoolStake()"}, nil},
	{"RocketDAOProtocolSettingsNetwork", bindings.RocketDAOProtocolSettingsNetworkMetaData, []string{
		"getNodeConsensusThreshold()", "getNodePenaltyThreshold()", "getSubmitRewardsEnabled()",
	}, nil},
	{"RocketDAOProtocolSettingsMegapool", bindings.RocketDAOProtocolSettingsMegapoolMetaData, []string{
		"getNotifyThreshold()", "getLateNotifyFine()", "getTimeBeforeDissolve()", "getDissolvePenalty()",
		"getPenaltyThreshold()", "getMaximumEthPenalty()", "getUserDistributeDelay()", "getUserDistributeDelayWithShortfall()",
	}, nil},
	{"RocketDAONodeTrusted", bindings.RocketDAONodeTrustedMetaData, []string{
		"getMemberCount()", "getMemberAt(uint256)", "getMemberJoinedTime(address)", "getMemberIsValid(address)",
		"getMemberIsChallenged(address)",
	}, nil},
	{"RocketDAONodeTrustedSettingsRewards", bindings.RocketDAONodeTrustedSettingsRewardsMetaData, []string{"getNetworkEnabled(uint256)"}, nil},
	{"RocketNodeManager", bindings.RocketNodeManagerMetaData, []string{
		"getNodeCount()", "getNodeAt(uint256)", "getNodeAddresses(uint256,uint256)", "getNodeExists(address)",
		"getNodeRegistrationTime(address)", "getRewardNetwork(address)", "getSmoothingPoolRegistrationState(address)",
		"getSmoothingPoolRegistrationChanged(address)", "getFeeDistributorInitialised(address)",
		"registerNode(string)", "setSmoothingPoolRegistrationState(bool)",
	}, nil},
	{"RocketNodeStaking", bindings.RocketNodeStakingMetaData, []string{
		"getNodeRPLStake(address)", "getNodeLegacyStakedRPL(address)", "getNodeMegapoolStakedRPL(address)",
		"getNodeMegapoolETHBonded(address)",
	}, nil},
	{"RocketNodeDistributorFactory", bindings.RocketNodeDistributorFactoryMetaData, []string{"getProxyAddress(address)"}, nil},
	{"RocketMinipoolManager", bindings.RocketMinipoolManagerMetaData, []string{
		"getMinipoolCount()", "getMinipoolAt(uint256)", "getNodeMinipoolCount(address)", "getNodeMinipoolAt(address,uint256)",
		"getMinipoolExists(address)", "getMinipoolPubkey(address)", "getMinipoolByPubkey(bytes)",
	}, nil},
	{"RocketMinipool", bindings.RocketMinipoolMetaData, []string{
		"getStatus()", "getStatusTime()", "getNodeFee()", "getNodeDepositBalance()", "getUserDepositBalance()",
		"getNodeAddress()", "getFinalised()",
	}, nil},
	{"RocketMinipoolBondReducer", bindings.RocketMinipoolBondReducerMetaData, []string{
		"getLastBondReductionTime(address)", "getLastBondReductionPrevValue(address)", "getLastBondReductionPrevNodeFee(address)",
	}, nil},
	{"RocketNetworkPenalties", bindings.RocketNetworkPenaltiesMetaData, []string{"submitPenalty(address,uint256)", "getPenaltyCount(address)"}, nil},
	{"RocketMegapoolFactory", bindings.RocketMegapoolFactoryMetaData, []string{"getExpectedAddress(address)", "getMegapoolDeployed(address)"}, nil},
	{"RocketMegapoolManager", bindings.RocketMegapoolManagerMetaData, []string{
		"getValidatorCount()", "getValidatorInfo(uint256)", "challengeExit((address,uint32[])[])", "getLastChallenger()",
	}, nil},
	{"RocketMegapoolDelegate", bindings.RocketMegapoolDelegateMetaData, []string{
		"getNodeAddress()", "getNodeBond()", "getUserCapital()", "getActiveValidatorCount()", "getValidatorCount()",
		"getValidatorInfo(uint32)", "getValidatorPubkey(uint32)", "getValidatorInfoAndPubkey(uint32)", "getDebt()",
		"getLockedValidatorCount()", "getExitingValidatorCount()", "getWithdrawalCredentials()", "dissolveValidator(uint32)",
	}, []string{"MegapoolValidatorLocked(uint256,uint256)", "MegapoolValidatorExiting(uint256,uint256)"}},
	{"RocketMegapoolPenalties", bindings.RocketMegapoolPenaltiesMetaData, []string{
		"penalise(address,uint256,uint256)", "executePenalty(address,uint256,uint256)",
	}, nil},
	{"RocketMerkleDistributorMainnet", bindings.RocketMerkleDistributorMainnetMetaData, []string{
		"claim(address,(uint256,uint256,uint256,uint256,bytes32[])[])", "relayRewards(uint256,uint256,bytes32,uint256,uint256)",
		"isClaimed(uint256,address)",
	}, nil},
	{"Multicall3", bindings.Multicall3MetaData, []string{
		"aggregate((address,bytes)[])", "aggregate3((address,bool,bytes)[])", "tryAggregate(bool,(address,bytes)[])",
		"getEthBalance(address)", "getBlockNumber()", "getCurrentBlockTimestamp()",
	}, nil},
}

func TestMainnetSignatures(t *testing.T) {
	for _, c := range mainnetSignatures {
		parsed, err := c.meta.GetAbi()
		if err != nil {
			t.Fatalf("%s: parse ABI: %v", c.contract, err)
		}
		have := map[string]bool{}
		for _, m := range parsed.Methods {
			have[m.Sig] = true
		}
		for _, sig := range c.functions {
			if !have[sig] {
				t.Errorf("%s: missing function %s", c.contract, sig)
			}
		}
		haveEv := map[string]bool{}
		for _, ev := range parsed.Events {
			haveEv[ev.Sig] = true
		}
		for _, sig := range c.events {
			if !haveEv[sig] {
				t.Errorf("%s: missing event %s", c.contract, sig)
			}
		}
	}
}
