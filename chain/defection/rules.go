package defection

import (
	"math/big"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
)

// Kind tells minipools from megapool validators.
type Kind string

// Validator kinds.
const (
	KindMinipool Kind = "minipool"
	KindMegapool Kind = "megapool"
)

// ProtocolValidator is a beacon validator belonging to the protocol.
type ProtocolValidator struct {
	Index  phase0.ValidatorIndex
	Pubkey phase0.BLSPubKey
	Node   common.Address
	Kind   Kind
	// Minipool is the minipool contract (KindMinipool); Megapool the node's megapool (KindMegapool).
	Minipool common.Address
	Megapool common.Address
	// MegapoolID is the validator id inside the megapool.
	MegapoolID uint32
}

// NodeState is a node's Smoothing Pool registration at the proposal's EL block.
type NodeState struct {
	OptedIn bool
	// ChangedTime is getSmoothingPoolRegistrationChanged (Unix seconds; 0 if never changed).
	ChangedTime uint64
	// Distributor is the node's fee distributor (RocketNodeDistributorFactory.getProxyAddress).
	Distributor common.Address
}

// Addresses are the always-legal recipients.
type Addresses struct {
	SmoothingPool common.Address
	RETH          common.Address
}

// Timing is the beacon chain's clock.
type Timing struct {
	GenesisTime    uint64
	SecondsPerSlot uint64
	SlotsPerEpoch  uint64
}

// PreviousEpochStart is the Unix time of the first slot of the epoch before slot's epoch (epoch 0 → genesis).
func (t Timing) PreviousEpochStart(slot uint64) uint64 {
	epoch := slot / t.SlotsPerEpoch
	if epoch > 0 {
		epoch--
	}
	return t.GenesisTime + epoch*t.SlotsPerEpoch*t.SecondsPerSlot
}

// Expectation is what a proposal should pay.
type Expectation struct {
	// Expected is the recipient the node's state calls for.
	Expected common.Address
	// Legal lists every recipient accepted (Expected, the Smoothing Pool, rETH, and during a fresh opt-in the
	// node's own opted-out recipient), sorted.
	Legal []common.Address
	// OptedIn is the state the rule used (a fresh opt-out counts as opted in).
	OptedIn bool
}

// Expect derives the expected and legal recipients of a proposal at slot.
func Expect(v ProtocolValidator, ns NodeState, slot uint64, t Timing, a Addresses) Expectation {
	own := ns.Distributor
	if v.Kind == KindMegapool {
		own = v.Megapool
	}
	recent := ns.ChangedTime > t.PreviousEpochStart(slot)
	e := Expectation{}
	legal := []common.Address{a.SmoothingPool, a.RETH}
	switch {
	case ns.OptedIn:
		e.Expected, e.OptedIn = a.SmoothingPool, true
		if recent {
			legal = append(legal, own) // the proposer's lookahead may still carry the old recipient
		}
	case recent:
		e.Expected, e.OptedIn = a.SmoothingPool, true // an opt-out after the previous epoch's start counts as opted in
	default:
		e.Expected = own
		legal = append(legal, own)
	}
	e.Legal = sortedUnique(legal)
	return e
}

func sortedUnique(in []common.Address) []common.Address {
	out := make([]common.Address, 0, len(in))
	for _, a := range in {
		if a == (common.Address{}) {
			continue
		}
		dup := false
		for _, b := range out {
			if a == b {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Cmp(out[j-1]) < 0; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// IsLegal reports whether a is in the legal set.
func (e Expectation) IsLegal(a common.Address) bool {
	for _, l := range e.Legal {
		if l == a {
			return true
		}
	}
	return false
}

// Payment is the last transaction of a payload (the MEV builder payment candidate).
type Payment struct {
	TxHash  common.Hash    `json:"txHash"`
	TxIndex int            `json:"txIndex"`
	From    common.Address `json:"from"`
	To      common.Address `json:"to"`
	Value   *big.Int       `json:"value"`
}

// Verdict is the classification of one proposal.
type Verdict string

// Verdicts.
const (
	// Legal: the payload's fee recipient is legal.
	Legal Verdict = "legal"
	// LegalMEV: builder block whose last transaction pays a legal recipient from the payload's fee recipient.
	LegalMEV Verdict = "legal-mev"
	// Defection: neither.
	Defection Verdict = "defection"
)

// Classify applies the rule to a proposal: feeRecipient is the payload's, last its last transaction (nil when
// the block was not fetched or has no transactions).
func Classify(e Expectation, feeRecipient common.Address, last *Payment) Verdict {
	if e.IsLegal(feeRecipient) {
		return Legal
	}
	if last != nil && last.From == feeRecipient && e.IsLegal(last.To) && last.Value != nil && last.Value.Sign() > 0 {
		return LegalMEV
	}
	return Defection
}
