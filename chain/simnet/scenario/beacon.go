package scenario

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// BeaconValidators returns the protocol validators for the simulated beacon chain, consistent with the seeded EL
// state: minipool validators withdraw to their minipool, megapool validators to their megapool (0x01 credentials);
// fee recipients follow the node's initial Smoothing Pool state (the Smoothing Pool when opted in, the node's fee
// distributor otherwise) except for defectors, whose validators pay the node address while opted in. Validators
// are listed in scenario order (nodes, then minipools before megapool validators).
func (n *Network) BeaconValidators() []beacon.ProtocolValidator {
	sp := n.Deployment.Addresses["rocketSmoothingPool"]
	var out []beacon.ProtocolValidator
	for i, nd := range n.Scenario.Nodes {
		fee := n.FeeDistributors[nd.Name]
		if nd.SmoothingPool.OptedIn {
			fee = sp
			if nd.Defector {
				fee = n.Nodes[i].Address
			}
		}
		for _, mp := range nd.Minipools {
			out = append(out, protocolValidator(mp.Pubkey, fee, n.Minipools[pubkeyKey(mp.Pubkey)], mp.Beacon))
		}
		if nd.Megapool != nil {
			for _, v := range nd.Megapool.Validators {
				if v.State == StateQueue || v.State == StateDissolved {
					continue // never deposited to the beacon chain (dissolved: simplification)
				}
				out = append(out, protocolValidator(v.Pubkey, fee, n.Megapools[nd.Name], v.Beacon))
			}
		}
	}
	return out
}

func protocolValidator(pubkey string, fee, withdrawal common.Address, f BeaconFacts) beacon.ProtocolValidator {
	return beacon.ProtocolValidator{
		Pubkey:            pubkeyKey(pubkey),
		Index:             f.Index,
		Participation:     f.Participation,
		FeeRecipient:      fee.Hex(),
		WithdrawalAddress: withdrawal.Hex(),
		ActivationEpoch:   f.ActivationEpoch,
		ExitEpoch:         f.ExitEpoch,
		WithdrawableEpoch: f.WithdrawableEpoch,
		SlashedEpoch:      f.SlashedEpoch,
	}
}

// BeaconScenario fills the timing fields and protocol validators of a beacon scenario from this network; the
// other fields (validator count, rates, seed, head slot, EL genesis block, chain id, fork) come from base.
func (n *Network) BeaconScenario(base beacon.Scenario) *beacon.Scenario {
	out := base
	out.GenesisTime = n.Scenario.GenesisTime
	out.SecondsPerSlot = n.Scenario.SecondsPerSlot
	out.SlotsPerEpoch = n.Scenario.SlotsPerEpoch
	out.ProtocolValidators = n.BeaconValidators()
	return &out
}
