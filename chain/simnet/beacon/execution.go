package beacon

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

const (
	maxWithdrawalsPerPayload = 16
	gweiPerEth               = 1_000_000_000
	gasLimit                 = 36_000_000
)

type builder struct {
	key     *ecdsa.PrivateKey
	address common.Address
}

func makeBuilders(sc *compiled) ([]*builder, error) {
	out := make([]*builder, sc.BuilderCount)
	for i := range out {
		h := hash32(sc.Seed, purposeBuilder, uint64(i))
		key, err := crypto.ToECDSA(h[:])
		if err != nil {
			return nil, fmt.Errorf("derive builder %d key: %w", i, err)
		}
		out[i] = &builder{key: key, address: crypto.PubkeyToAddress(key.PublicKey)}
	}
	return out, nil
}

// BuilderAddresses are the fee recipients of MEV-style payloads.
func (c *Chain) BuilderAddresses() [][20]byte {
	out := make([][20]byte, len(c.builders))
	for i, b := range c.builders {
		out[i] = b.address
	}
	return out
}

// Missed reports whether the model leaves slot s without a block, regardless
// of the head (for an EL that produces blocks ahead of the served head).
func (c *Chain) Missed(s phase0.Slot) bool { return c.missed(s) }

// FeeRecipient of validator v for locally built blocks.
func (c *Chain) FeeRecipient(v phase0.ValidatorIndex) [20]byte {
	if pv := c.sc.protocol[v]; pv != nil {
		return pv.feeRecipient
	}
	return derivedAddress(c.sc.Seed, purposeFeeRecipient, uint64(v))
}

func (c *Chain) mevFeeRecipient(v phase0.ValidatorIndex) [20]byte {
	if pv := c.sc.protocol[v]; pv != nil {
		return pv.mevFeeRecipient
	}
	return c.FeeRecipient(v)
}

// withdrawalAddress of validator v (0x01 credentials).
func (c *Chain) withdrawalAddress(v phase0.ValidatorIndex) [20]byte {
	if pv := c.sc.protocol[v]; pv != nil {
		return pv.withdrawalAddress
	}
	return c.FeeRecipient(v)
}

// BlockProposal describes who built block s and who gets paid.
type BlockProposal struct {
	Proposer phase0.ValidatorIndex
	// MEV is true for builder blocks: the payload fee recipient is the builder,
	// and the last transaction pays ProposerFeeRecipient ValueWei.
	MEV                  bool
	Builder              [20]byte
	ProposerFeeRecipient [20]byte
	ValueWei             *big.Int
}

// Proposal returns the proposal facts of slot s (which must have a block).
func (c *Chain) Proposal(s phase0.Slot) (*BlockProposal, error) {
	prop, err := c.Proposer(s)
	if err != nil {
		return nil, err
	}
	bp := &BlockProposal{Proposer: prop, ProposerFeeRecipient: c.FeeRecipient(prop)}
	valueGwei := uint64(0)
	if fp, ok := c.sc.forced[s]; ok {
		bp.MEV = fp.mev
		bp.ProposerFeeRecipient = fp.feeRecipient
		valueGwei = fp.valueGwei
	} else if s != 0 && chance(c.sc.Seed, purposeMEV, uint64(s), 0, c.sc.mevPPM) {
		bp.MEV = true
		bp.ProposerFeeRecipient = c.mevFeeRecipient(prop)
	}
	if bp.MEV {
		b := c.builders[draw(c.sc.Seed, purposeBuilder, uint64(s), 0)%uint64(len(c.builders))]
		bp.Builder = b.address
		if valueGwei == 0 {
			// 0.01 .. 0.2 ETH
			valueGwei = 10_000_000 + draw(c.sc.Seed, purposeMEVValue, uint64(s), 0)%190_000_000
		}
		bp.ValueWei = new(big.Int).Mul(new(big.Int).SetUint64(valueGwei), big.NewInt(gweiPerEth))
	}
	return bp, nil
}

func (c *Chain) elHash(s phase0.Slot) [32]byte { return hash32(c.sc.Seed, purposeELHash, uint64(s)) }

// ELBlockNumber of the payload in the block at slot s (s at most a few epochs
// past the head: block counts are cached per epoch up to s).
func (c *Chain) ELBlockNumber(s phase0.Slot) uint64 {
	if s == 0 {
		return c.sc.ELGenesisBlock
	}
	return c.sc.ELGenesisBlock + c.blockOrdinal(s)
}

// SlotOfELBlock is the slot whose payload carries EL block number n (without
// an ExecutionProvider renumbering blocks), or false before genesis or after the head.
func (c *Chain) SlotOfELBlock(n uint64) (phase0.Slot, bool) {
	switch {
	case n < c.sc.ELGenesisBlock:
		return 0, false
	case n == c.sc.ELGenesisBlock:
		return 0, true
	case n > c.ELBlockNumber(c.prevBlockSlot(c.HeadSlot())):
		return 0, false // not produced yet
	}
	return c.slotOfOrdinal(n - c.sc.ELGenesisBlock), true
}

// executionBlock generates (and lets the hook reshape) the EL block of slot s.
func (c *Chain) executionBlock(ctx context.Context, s phase0.Slot, bp *BlockProposal) (*ExecutionBlock, error) {
	eb := &ExecutionBlock{
		Number:        c.ELBlockNumber(s),
		Timestamp:     c.sc.GenesisTime + uint64(s)*c.sc.SecondsPerSlot,
		FeeRecipient:  bp.ProposerFeeRecipient,
		Hash:          c.elHash(s),
		GasLimit:      gasLimit,
		Withdrawals:   c.Withdrawals(s),
		StateRoot:     hash32(c.sc.Seed, purposeELHash, uint64(s)^1<<62),
		ReceiptsRoot:  hash32(c.sc.Seed, purposeELHash, uint64(s)^2<<62),
		BaseFeePerGas: big.NewInt(gweiPerEth),
	}
	if s > 0 {
		eb.ParentHash = c.elHash(c.prevBlockSlot(s - 1))
	}
	if bp.MEV {
		eb.FeeRecipient = bp.Builder
		var b *builder
		for _, x := range c.builders {
			if x.address == bp.Builder {
				b = x
			}
		}
		signer := types.LatestSignerForChainID(new(big.Int).SetUint64(c.sc.ChainID))
		to := common.Address(bp.ProposerFeeRecipient)
		filler := common.Address(derivedAddress(c.sc.Seed, purposeBuilder, uint64(s)))
		for i, tx := range []*types.DynamicFeeTx{
			{Nonce: 2 * eb.Number, To: &filler, Value: big.NewInt(0), Gas: 21000},
			{Nonce: 2*eb.Number + 1, To: &to, Value: bp.ValueWei, Gas: 21000},
		} {
			tx.ChainID = new(big.Int).SetUint64(c.sc.ChainID)
			tx.GasTipCap = big.NewInt(1)
			tx.GasFeeCap = big.NewInt(2 * gweiPerEth)
			signed, err := types.SignNewTx(b.key, signer, tx)
			if err != nil {
				return nil, fmt.Errorf("sign builder transaction %d of slot %d: %w", i, s, err)
			}
			raw, err := signed.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("encode builder transaction %d of slot %d: %w", i, s, err)
			}
			eb.Transactions = append(eb.Transactions, raw)
			eb.GasUsed += 21000
		}
	}
	if c.exec != nil {
		out, err := c.exec.ExecutionBlock(ctx, s, bp, eb)
		if err != nil {
			return nil, fmt.Errorf("execution provider for slot %d: %w", s, err)
		}
		if out == nil {
			return nil, fmt.Errorf("execution provider for slot %d returned no block", s)
		}
		eb = out
	}
	return eb, nil
}

// Withdrawals of the payload at slot s: a simplified sweep. Block ordinal k
// visits sweep positions w = (k-1)*16 .. (k-1)*16+15, validator w mod N.
// Active validators get a partial (skim) withdrawal; a validator past its
// withdrawable epoch gets one full withdrawal at its first visit, then none.
func (c *Chain) Withdrawals(s phase0.Slot) []*capella.Withdrawal {
	out := make([]*capella.Withdrawal, 0, maxWithdrawalsPerPayload)
	if s == 0 {
		return out
	}
	n := c.sc.ValidatorCount
	k := c.blockOrdinal(s)
	e := c.epochOf(s)
	for j := range uint64(maxWithdrawalsPerPayload) {
		w := (k-1)*maxWithdrawalsPerPayload + j
		v := phase0.ValidatorIndex(w % n)
		var amount uint64
		skim := 1_000_000 + draw(c.sc.Seed, purposeSkim, w, 0)%20_000_000
		pv := c.sc.protocol[v]
		switch {
		case pv == nil:
			amount = skim
		case e < pv.activationEpoch:
		case pv.withdrawableEpoch <= e:
			first := w < n
			if !first {
				prev := c.slotOfOrdinal((w-n)/maxWithdrawalsPerPayload + 1)
				first = c.epochOf(prev) < pv.withdrawableEpoch
			}
			if first {
				amount = 32*gweiPerEth + skim
			}
		case pv.exitEpoch <= e:
		default:
			amount = skim
		}
		if amount == 0 {
			continue
		}
		out = append(out, &capella.Withdrawal{
			Index:          capella.WithdrawalIndex(w),
			ValidatorIndex: v,
			Address:        bellatrix.ExecutionAddress(c.withdrawalAddress(v)),
			Amount:         phase0.Gwei(amount),
		})
	}
	return out
}

func (c *Chain) payload(eb *ExecutionBlock, s phase0.Slot) (*deneb.ExecutionPayload, error) {
	txs := make([]bellatrix.Transaction, len(eb.Transactions))
	for i, t := range eb.Transactions {
		txs[i] = bellatrix.Transaction(t)
	}
	baseFee := uint256.NewInt(gweiPerEth)
	if eb.BaseFeePerGas != nil {
		var overflow bool
		if baseFee, overflow = uint256.FromBig(eb.BaseFeePerGas); overflow || eb.BaseFeePerGas.Sign() < 0 {
			return nil, fmt.Errorf("payload of slot %d: base fee %s out of range", s, eb.BaseFeePerGas)
		}
	}
	ws := eb.Withdrawals
	if ws == nil {
		ws = []*capella.Withdrawal{}
	}
	if len(ws) > maxWithdrawalsPerPayload {
		return nil, fmt.Errorf("payload of slot %d: %d withdrawals, at most %d", s, len(ws), maxWithdrawalsPerPayload)
	}
	return &deneb.ExecutionPayload{
		ParentHash:    phase0.Hash32(eb.ParentHash),
		FeeRecipient:  bellatrix.ExecutionAddress(eb.FeeRecipient),
		StateRoot:     phase0.Root(eb.StateRoot),
		ReceiptsRoot:  phase0.Root(eb.ReceiptsRoot),
		LogsBloom:     eb.LogsBloom,
		PrevRandao:    c.mix(c.epochOf(s)),
		BlockNumber:   eb.Number,
		GasLimit:      eb.GasLimit,
		GasUsed:       eb.GasUsed,
		Timestamp:     eb.Timestamp,
		ExtraData:     []byte("simnet"),
		BaseFeePerGas: baseFee,
		BlockHash:     phase0.Hash32(eb.Hash),
		Transactions:  txs,
		Withdrawals:   ws,
	}, nil
}
