package beacon

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"gopkg.in/yaml.v3"
)

// Fork modes.
const (
	ForkElectra = "electra"
	ForkDeneb   = "deneb"
)

// Proposal kinds.
const (
	ProposalLocal = "local"
	ProposalMEV   = "mev"
)

// Scenario describes a synthetic chain. The same scenario always yields the
// same chain, byte for byte.
type Scenario struct {
	// Seed keys every random decision.
	Seed uint64 `yaml:"seed"`
	// GenesisTime in Unix seconds.
	GenesisTime uint64 `yaml:"genesis_time"`
	// SecondsPerSlot (default 12).
	SecondsPerSlot uint64 `yaml:"seconds_per_slot"`
	// SlotsPerEpoch (default 32).
	SlotsPerEpoch uint64 `yaml:"slots_per_epoch"`
	// ValidatorCount is the size of the registry (protocol validators included).
	ValidatorCount uint64 `yaml:"validator_count"`
	// HeadSlot fixes the head; 0 follows the wall clock from GenesisTime.
	HeadSlot uint64 `yaml:"head_slot"`
	// Fork is "electra" (default, committee_bits attestations) or "deneb".
	Fork string `yaml:"fork"`
	// ElectraForkEpoch (fork "electra" only) starts Electra at this epoch;
	// blocks and states before it are Deneb (default 0: Electra from genesis).
	ElectraForkEpoch uint64 `yaml:"electra_fork_epoch"`
	// Participation is the attestation rate of non-protocol validators (default 0.97).
	Participation *float64 `yaml:"participation"`
	// MissedSlotRate is the chance that a slot has no block.
	MissedSlotRate float64 `yaml:"missed_slot_rate"`
	// LateInclusionRate is the chance that an attestation is included late
	// (2 slots up to the end of the next epoch) instead of in the next block.
	LateInclusionRate float64 `yaml:"late_inclusion_rate"`
	// MEVRate is the chance that a randomly proposed block is builder-built.
	MEVRate float64 `yaml:"mev_rate"`
	// BuilderCount is the number of synthetic builders (default 3).
	BuilderCount uint64 `yaml:"builder_count"`
	// ELGenesisBlock is the execution block number of the genesis slot.
	ELGenesisBlock uint64 `yaml:"el_genesis_block"`
	// ChainID of the execution transactions (default 1).
	ChainID uint64 `yaml:"chain_id"`
	// ProtocolValidators are the validators the tests care about.
	ProtocolValidators []ProtocolValidator `yaml:"protocol_validators"`
}

// ProtocolValidator is a validator with scripted behaviour.
type ProtocolValidator struct {
	// Pubkey is the 48-byte BLS key, 0x-hex.
	Pubkey string `yaml:"pubkey"`
	// Index pins the validator index; otherwise one is assigned.
	Index *uint64 `yaml:"index"`
	// Participation overrides the scenario's rate for this validator.
	Participation *float64 `yaml:"participation"`
	// FeeRecipient is used for locally built blocks (0x-hex, 20 bytes).
	FeeRecipient string `yaml:"fee_recipient"`
	// MEVFeeRecipient is what builders pay for this validator's MEV blocks
	// (defaults to FeeRecipient).
	MEVFeeRecipient string `yaml:"mev_fee_recipient"`
	// WithdrawalAddress sets 0x01 credentials (default: derived).
	WithdrawalAddress string `yaml:"withdrawal_address"`
	// ActivationEpoch (default 0).
	ActivationEpoch uint64 `yaml:"activation_epoch"`
	// ExitEpoch (default never).
	ExitEpoch *uint64 `yaml:"exit_epoch"`
	// WithdrawableEpoch (default ExitEpoch + 256).
	WithdrawableEpoch *uint64 `yaml:"withdrawable_epoch"`
	// SlashedEpoch marks the validator slashed from this epoch on; without an
	// ExitEpoch it exits 5 epochs later and is withdrawable 8192 epochs later.
	SlashedEpoch *uint64 `yaml:"slashed_epoch"`
	// Proposals are forced block proposals.
	Proposals []Proposal `yaml:"proposals"`
}

// Proposal forces a block at Slot by the validator.
type Proposal struct {
	Slot uint64 `yaml:"slot"`
	// Kind is "local" (fee recipient in the payload) or "mev" (builder in the
	// payload, paying the proposer in the last transaction).
	Kind string `yaml:"kind"`
	// FeeRecipient overrides the validator's address for this block.
	FeeRecipient string `yaml:"fee_recipient"`
	// MEVValueGwei is the builder payment (default derived).
	MEVValueGwei uint64 `yaml:"mev_value_gwei"`
}

// LoadScenario reads a YAML scenario file.
func LoadScenario(path string) (*Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(raw)
}

// ParseScenario decodes a YAML scenario, rejecting unknown fields.
func ParseScenario(raw []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	return &s, nil
}

// compiled is a validated scenario with parsed fields.
type compiled struct {
	Scenario
	participationPPM uint64
	missPPM          uint64
	latePPM          uint64
	mevPPM           uint64
	protocol         map[phase0.ValidatorIndex]*protoValidator
	protoOrder       []phase0.ValidatorIndex // ascending
	forced           map[phase0.Slot]*forcedProposal
}

type protoValidator struct {
	index             phase0.ValidatorIndex
	pubkey            phase0.BLSPubKey
	participationPPM  uint64
	feeRecipient      [20]byte
	mevFeeRecipient   [20]byte
	withdrawalAddress [20]byte
	activationEpoch   phase0.Epoch
	exitEpoch         phase0.Epoch
	withdrawableEpoch phase0.Epoch
	slashedEpoch      phase0.Epoch // FarFuture if never
}

type forcedProposal struct {
	proposer     phase0.ValidatorIndex
	mev          bool
	feeRecipient [20]byte
	valueGwei    uint64
}

func ratePPM(name string, r float64) (uint64, error) {
	if math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("scenario: %s %v is not within [0, 1]", name, r)
	}
	return uint64(math.Round(r * ppmScale)), nil
}

func parseHex(name string, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return nil, fmt.Errorf("scenario: %s %q: %w", name, s, err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("scenario: %s %q has %d bytes, want %d", name, s, len(b), n)
	}
	return b, nil
}

const farFuture = phase0.Epoch(math.MaxUint64)

func compile(in *Scenario) (*compiled, error) {
	if in == nil {
		return nil, errors.New("scenario: missing")
	}
	c := &compiled{Scenario: *in}
	if c.SecondsPerSlot == 0 {
		c.SecondsPerSlot = 12
	}
	if c.SlotsPerEpoch == 0 {
		c.SlotsPerEpoch = 32
	}
	if c.SlotsPerEpoch > 8192 {
		return nil, fmt.Errorf("scenario: slots per epoch %d above 8192", c.SlotsPerEpoch)
	}
	if c.Fork == "" {
		c.Fork = ForkElectra
	}
	if c.Fork != ForkElectra && c.Fork != ForkDeneb {
		return nil, fmt.Errorf("scenario: unknown fork %q (want electra or deneb)", c.Fork)
	}
	if c.Fork == ForkDeneb && c.ElectraForkEpoch != 0 {
		return nil, errors.New("scenario: electra_fork_epoch needs fork electra")
	}
	if c.BuilderCount == 0 {
		c.BuilderCount = 3
	}
	if c.ChainID == 0 {
		c.ChainID = 1
	}
	if c.ValidatorCount == 0 {
		return nil, errors.New("scenario: validator count is zero")
	}
	if c.ValidatorCount > 1<<31 {
		return nil, fmt.Errorf("scenario: validator count %d too large", c.ValidatorCount)
	}
	if uint64(len(c.ProtocolValidators)) > c.ValidatorCount {
		return nil, errors.New("scenario: more protocol validators than validators")
	}
	var err error
	part := 0.97
	if c.Participation != nil {
		part = *c.Participation
	}
	if c.participationPPM, err = ratePPM("participation", part); err != nil {
		return nil, err
	}
	if c.missPPM, err = ratePPM("missed_slot_rate", c.MissedSlotRate); err != nil {
		return nil, err
	}
	if c.missPPM == ppmScale {
		return nil, errors.New("scenario: missed_slot_rate 1 leaves no blocks")
	}
	if c.latePPM, err = ratePPM("late_inclusion_rate", c.LateInclusionRate); err != nil {
		return nil, err
	}
	if c.mevPPM, err = ratePPM("mev_rate", c.MEVRate); err != nil {
		return nil, err
	}

	c.protocol = make(map[phase0.ValidatorIndex]*protoValidator, len(c.ProtocolValidators))
	c.forced = make(map[phase0.Slot]*forcedProposal)
	pubkeys := make(map[phase0.BLSPubKey]bool)
	// Pinned indices first, then the rest spread over the registry.
	var unpinned []int
	for i := range c.ProtocolValidators {
		pv := &c.ProtocolValidators[i]
		if pv.Index == nil {
			unpinned = append(unpinned, i)
			continue
		}
		if *pv.Index >= c.ValidatorCount {
			return nil, fmt.Errorf("scenario: protocol validator %d index %d beyond validator count", i, *pv.Index)
		}
		if _, dup := c.protocol[phase0.ValidatorIndex(*pv.Index)]; dup {
			return nil, fmt.Errorf("scenario: protocol validator %d reuses index %d", i, *pv.Index)
		}
		c.protocol[phase0.ValidatorIndex(*pv.Index)] = nil
	}
	assigned := make([]phase0.ValidatorIndex, len(c.ProtocolValidators))
	for i := range c.ProtocolValidators {
		if idx := c.ProtocolValidators[i].Index; idx != nil {
			assigned[i] = phase0.ValidatorIndex(*idx)
		}
	}
	for k, i := range unpinned {
		cand := (uint64(k) + 1) * c.ValidatorCount / (uint64(len(unpinned)) + 1)
		for {
			if _, used := c.protocol[phase0.ValidatorIndex(cand)]; !used {
				break
			}
			cand = (cand + 1) % c.ValidatorCount
		}
		c.protocol[phase0.ValidatorIndex(cand)] = nil
		assigned[i] = phase0.ValidatorIndex(cand)
	}
	for i := range c.ProtocolValidators {
		pv := &c.ProtocolValidators[i]
		v := &protoValidator{index: assigned[i], exitEpoch: farFuture, withdrawableEpoch: farFuture, slashedEpoch: farFuture}
		pk, err := parseHex(fmt.Sprintf("protocol validator %d pubkey", i), pv.Pubkey, 48)
		if err != nil {
			return nil, err
		}
		copy(v.pubkey[:], pk)
		if pubkeys[v.pubkey] {
			return nil, fmt.Errorf("scenario: protocol validator %d repeats pubkey %s", i, pv.Pubkey)
		}
		pubkeys[v.pubkey] = true
		v.participationPPM = c.participationPPM
		if pv.Participation != nil {
			if v.participationPPM, err = ratePPM(fmt.Sprintf("protocol validator %d participation", i), *pv.Participation); err != nil {
				return nil, err
			}
		}
		v.feeRecipient = derivedAddress(c.Seed, purposeFeeRecipient, uint64(v.index))
		if pv.FeeRecipient != "" {
			b, err := parseHex(fmt.Sprintf("protocol validator %d fee_recipient", i), pv.FeeRecipient, 20)
			if err != nil {
				return nil, err
			}
			copy(v.feeRecipient[:], b)
		}
		v.mevFeeRecipient = v.feeRecipient
		if pv.MEVFeeRecipient != "" {
			b, err := parseHex(fmt.Sprintf("protocol validator %d mev_fee_recipient", i), pv.MEVFeeRecipient, 20)
			if err != nil {
				return nil, err
			}
			copy(v.mevFeeRecipient[:], b)
		}
		v.withdrawalAddress = v.feeRecipient
		if pv.WithdrawalAddress != "" {
			b, err := parseHex(fmt.Sprintf("protocol validator %d withdrawal_address", i), pv.WithdrawalAddress, 20)
			if err != nil {
				return nil, err
			}
			copy(v.withdrawalAddress[:], b)
		}
		v.activationEpoch = phase0.Epoch(pv.ActivationEpoch)
		if pv.SlashedEpoch != nil {
			v.slashedEpoch = phase0.Epoch(*pv.SlashedEpoch)
			if pv.ExitEpoch == nil {
				v.exitEpoch = v.slashedEpoch + 5
				v.withdrawableEpoch = v.slashedEpoch + 8192
			}
		}
		if pv.ExitEpoch != nil {
			v.exitEpoch = phase0.Epoch(*pv.ExitEpoch)
			v.withdrawableEpoch = v.exitEpoch + 256
		}
		if pv.WithdrawableEpoch != nil {
			if v.exitEpoch == farFuture {
				return nil, fmt.Errorf("scenario: protocol validator %d has a withdrawable epoch but no exit", i)
			}
			v.withdrawableEpoch = phase0.Epoch(*pv.WithdrawableEpoch)
		}
		if v.exitEpoch != farFuture && (v.exitEpoch <= v.activationEpoch || v.withdrawableEpoch < v.exitEpoch) {
			return nil, fmt.Errorf("scenario: protocol validator %d: need activation < exit <= withdrawable epoch", i)
		}
		c.protocol[v.index] = v
		c.protoOrder = append(c.protoOrder, v.index)
		for j, p := range pv.Proposals {
			fp := &forcedProposal{proposer: v.index, feeRecipient: v.feeRecipient, valueGwei: p.MEVValueGwei}
			switch p.Kind {
			case "", ProposalLocal:
			case ProposalMEV:
				fp.mev = true
				fp.feeRecipient = v.mevFeeRecipient
			default:
				return nil, fmt.Errorf("scenario: protocol validator %d proposal %d: unknown kind %q", i, j, p.Kind)
			}
			if p.FeeRecipient != "" {
				b, err := parseHex(fmt.Sprintf("protocol validator %d proposal %d fee_recipient", i, j), p.FeeRecipient, 20)
				if err != nil {
					return nil, err
				}
				copy(fp.feeRecipient[:], b)
			}
			if p.Slot == 0 {
				return nil, fmt.Errorf("scenario: protocol validator %d proposal %d at genesis slot", i, j)
			}
			ep := phase0.Epoch(p.Slot / c.SlotsPerEpoch)
			if ep < v.activationEpoch || ep >= v.exitEpoch || ep >= v.slashedEpoch {
				return nil, fmt.Errorf("scenario: protocol validator %d proposal at slot %d while not active", i, p.Slot)
			}
			if _, dup := c.forced[phase0.Slot(p.Slot)]; dup {
				return nil, fmt.Errorf("scenario: two forced proposals at slot %d", p.Slot)
			}
			c.forced[phase0.Slot(p.Slot)] = fp
		}
	}
	sortIndices(c.protoOrder)
	return c, nil
}

func derivedAddress(seed, purpose, a uint64) [20]byte {
	h := hash32(seed, purpose, a)
	var out [20]byte
	copy(out[:], h[:20])
	return out
}
