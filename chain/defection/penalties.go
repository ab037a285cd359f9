package defection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/watchtower/txmgr"
)

// PenaltyDuty is the tx manager duty (queue) penalty votes are sent under.
const PenaltyDuty = "defection-penalty"

// TxSender sends one transaction and waits for its receipt (*txmgr.Manager implements it).
type TxSender interface {
	Submit(ctx context.Context, duty string, req txmgr.Request) (*types.Receipt, *txmgr.Pending, error)
	Address() common.Address
}

// Voter sends penalty votes for defections, at most once per (validator, slot): a journal file records each
// vote before it is broadcast (OnSigned), and the contracts' per-member duplicate keys are checked first, so a
// restart — even between signing and mining — never sends a second vote.
type Voter struct {
	sender   TxSender
	client   Caller
	storage  common.Address
	minipool common.Address // RocketNetworkPenalties
	megapool common.Address // RocketMegapoolPenalties
	amount   *big.Int       // megapool penalty when the evidence carries no amount
	journal  string
	log      zerolog.Logger

	mu    sync.Mutex
	voted map[string]string // "<validator>/<slot>" → tx hash
}

// VoterConfig configures a Voter.
type VoterConfig struct {
	Sender  TxSender
	Client  Caller
	Storage common.Address
	// Journal is the file recording votes (required; survives restarts).
	Journal string
	// MegapoolAmount is the penalty (wei) voted for a megapool defection whose last transaction pays no
	// identifiable amount; when the builder paid a non-legal recipient, that payment's value is used.
	MegapoolAmount *big.Int
	Log            zerolog.Logger
}

// NewVoter resolves the penalty contracts and loads the journal.
func NewVoter(ctx context.Context, cfg VoterConfig) (*Voter, error) {
	if cfg.Sender == nil || cfg.Client == nil {
		return nil, errors.New("penalty voter: sender and execution client are required")
	}
	if cfg.Journal == "" {
		return nil, errors.New("penalty voter: journal file required (votes must be idempotent across restarts)")
	}
	if cfg.MegapoolAmount == nil || cfg.MegapoolAmount.Sign() <= 0 {
		return nil, errors.New("penalty voter: megapool penalty amount must be positive")
	}
	v := &Voter{sender: cfg.Sender, client: cfg.Client, storage: cfg.Storage, journal: cfg.Journal,
		amount: new(big.Int).Set(cfg.MegapoolAmount), log: cfg.Log.With().Str("service", "defection-penalty").Logger(), voted: map[string]string{}}
	var err error
	if v.minipool, err = ContractAddress(ctx, cfg.Client, cfg.Storage, "rocketNetworkPenalties"); err != nil {
		return nil, err
	}
	if v.megapool, err = ContractAddress(ctx, cfg.Client, cfg.Storage, "rocketMegapoolPenalties"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(cfg.Journal)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("penalty voter: read journal: %w", err)
	default:
		if err := json.Unmarshal(data, &v.voted); err != nil {
			return nil, fmt.Errorf("penalty voter: journal %s is corrupt: %w", cfg.Journal, err)
		}
	}
	return v, nil
}

func voteKey(r Record) string {
	return strconv.FormatUint(r.Validator, 10) + "/" + strconv.FormatUint(r.Slot, 10)
}

// Amount is the megapool penalty voted for r.
func (v *Voter) Amount(r Record) *big.Int {
	if r.Payment != nil && r.Payment.From == r.Actual && r.Payment.Value != nil && r.Payment.Value.Sign() > 0 {
		return new(big.Int).Set(r.Payment.Value)
	}
	return new(big.Int).Set(v.amount)
}

// Voted reports whether a vote for r is in the journal.
func (v *Voter) Voted(r Record) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.voted[voteKey(r)]
	return ok
}

// Vote sends the penalty vote for a defection unless it was already sent. The penalty's block is the
// proposal's EL block number. It returns whether a transaction was sent.
func (v *Voter) Vote(ctx context.Context, r Record) (bool, error) {
	if r.Verdict != Defection {
		return false, fmt.Errorf("penalty vote for slot %d: verdict %q is not a defection", r.Slot, r.Verdict)
	}
	if v.Voted(r) {
		return false, nil
	}
	me := v.sender.Address()
	block := new(big.Int).SetUint64(r.BlockNumber)
	var to common.Address
	var data []byte
	var key common.Hash
	var err error
	switch r.Kind {
	case KindMinipool:
		to = v.minipool
		data, err = penaltiesABI.Pack("submitPenalty", r.Minipool, block)
		key = crypto.Keccak256Hash([]byte("network.penalties.submitted.node"), me.Bytes(), r.Minipool.Bytes(), math.U256Bytes(new(big.Int).Set(block)))
	case KindMegapool:
		amount := v.Amount(r)
		to = v.megapool
		data, err = mpPenaltiesABI.Pack("penalise", r.Megapool, block, amount)
		key = crypto.Keccak256Hash([]byte("megapool.penalty.submission.node"), me.Bytes(), r.Megapool.Bytes(), math.U256Bytes(new(big.Int).Set(block)), math.U256Bytes(new(big.Int).Set(amount)))
	default:
		return false, fmt.Errorf("penalty vote for slot %d: unknown kind %q", r.Slot, r.Kind)
	}
	if err != nil {
		return false, fmt.Errorf("encode penalty vote for slot %d: %w", r.Slot, err)
	}
	out, err := call(ctx, v.client, v.storage, storageABI, nil, "getBool", key)
	if err != nil {
		return false, fmt.Errorf("check earlier penalty vote for slot %d: %w", r.Slot, err)
	}
	if done, _ := out[0].(bool); done {
		if err := v.record(r, "on-chain"); err != nil {
			return false, err
		}
		return false, nil
	}
	rcpt, _, err := v.sender.Submit(ctx, PenaltyDuty, txmgr.Request{To: to, Data: data, OnSigned: func(tx *types.Transaction) error {
		return v.record(r, tx.Hash().Hex())
	}})
	if err != nil {
		// A timed-out vote may still be mined: keep it journalled. Otherwise (not sent, reverted) forget it so a
		// later call retries; the on-chain duplicate key still guards against a second vote.
		if !errors.Is(err, txmgr.ErrTimeout) {
			if uerr := v.unrecord(r); uerr != nil {
				v.log.Error().Err(uerr).Msg("Cannot remove failed vote from the journal")
			}
		}
		return rcpt != nil, fmt.Errorf("penalty vote for validator %d slot %d: %w", r.Validator, r.Slot, err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		if uerr := v.unrecord(r); uerr != nil {
			v.log.Error().Err(uerr).Msg("Cannot remove failed vote from the journal")
		}
		return true, fmt.Errorf("penalty vote for validator %d slot %d: transaction %s reverted", r.Validator, r.Slot, rcpt.TxHash.Hex())
	}
	v.log.Info().Uint64("slot", r.Slot).Uint64("validator", r.Validator).Str("kind", string(r.Kind)).Str("tx", rcpt.TxHash.Hex()).Msg("Penalty vote sent")
	return true, nil
}

// record adds r to the journal and rewrites the file (sorted keys, temp file + rename).
func (v *Voter) record(r Record, hash string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.voted[voteKey(r)]; ok {
		return nil // a replacement of the same vote
	}
	v.voted[voteKey(r)] = hash
	return v.flush()
}

func (v *Voter) unrecord(r Record) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.voted, voteKey(r))
	return v.flush()
}

// flush rewrites the journal; encoding/json writes map keys sorted, so the file is deterministic. Callers hold mu.
func (v *Voter) flush() error {
	data, err := json.MarshalIndent(v.voted, "", "  ")
	if err != nil {
		return fmt.Errorf("encode penalty journal: %w", err)
	}
	if err := writeAtomic(v.journal, append(data, '\n')); err != nil {
		return fmt.Errorf("write penalty journal: %w", err)
	}
	return nil
}
