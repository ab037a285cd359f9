// Package txmgr is the watchtower's single transaction manager: every duty sends through it.
//
// Fees are EIP-1559, derived from the head's base fee (2 × base fee + tip) under a configured cap; gas is
// estimated with a margin; nonces are tracked locally on top of the node's pending nonce; a transaction not
// mined within N blocks of its last broadcast is replaced with the same nonce and fees raised by a bump
// percentage; tracking gives up after a timeout. Duties hold their own queue lock: the shared lock guards only
// nonce assignment and broadcast, never a wait for a receipt, so one duty's pending transaction never blocks
// another duty's sending. (On chain the account's nonces are still ordered: a later nonce mines once the
// earlier one does, which the replacement of the stuck one brings about.)
//
// Without a signer the manager is in dry-run mode: it builds, estimates and logs transactions and never
// sends. Keys and passwords are never logged.
package txmgr

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"
)

// Backend is the part of an execution client the manager uses (ethclient.Client and the simulated backend's
// client satisfy it).
type Backend interface {
	ChainID(ctx context.Context) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
}

var (
	// ErrTimeout: the transaction was not mined within the configured timeout (it may still be mined later).
	ErrTimeout = errors.New("transaction not mined before timeout")
	// ErrNonceConsumed: another transaction with the same nonce was mined (sent outside this manager).
	ErrNonceConsumed = errors.New("nonce consumed by a transaction this manager did not send")
	// ErrReverted: the transaction was mined with a failed status.
	ErrReverted = errors.New("transaction reverted")
	// ErrDryRun: the manager is in dry-run mode and sent nothing.
	ErrDryRun = errors.New("dry run: transaction not sent")
)

// Request describes one transaction a duty wants sent.
type Request struct {
	To    common.Address
	Data  []byte
	Value *big.Int
	// GasLimit skips the estimate when non-zero.
	GasLimit uint64
	// MinGas is a floor under the estimate with margin (for calls whose cost depends on other pending
	// transactions, e.g. the vote that reaches consensus also executes the snapshot).
	MinGas uint64
	// InitialFeeCap and InitialTipCap override the first broadcast's fees (manual fee control, tests of
	// underpriced transactions); replacements bump from them as usual.
	InitialFeeCap *big.Int
	InitialTipCap *big.Int
	// OnSigned is called with every signed transaction (first and replacements) before it is broadcast, so
	// a duty can persist it and resume tracking after a crash. An error aborts the broadcast.
	OnSigned func(tx *types.Transaction) error
}

// Pending is a transaction under way: one nonce and every version broadcast for it.
type Pending struct {
	Duty   string
	Nonce  uint64
	DryRun bool

	mu           sync.Mutex
	req          Request
	txs          []*types.Transaction
	lastSendHead uint64
	replacements int
}

// Latest returns the last transaction built (signed unless dry-run).
func (p *Pending) Latest() *types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txs[len(p.txs)-1]
}

// Hashes returns the hashes of every version broadcast, oldest first.
func (p *Pending) Hashes() []common.Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]common.Hash, len(p.txs))
	for i, tx := range p.txs {
		out[i] = tx.Hash()
	}
	return out
}

// Replacements returns how many times the transaction was replaced.
func (p *Pending) Replacements() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replacements
}

// Manager sends and tracks transactions for one account.
type Manager struct {
	p       *parameters
	log     zerolog.Logger
	from    common.Address
	chainID *big.Int

	sendMu    sync.Mutex // nonce assignment and broadcast only
	nextNonce uint64
	haveNonce bool

	dutyMu sync.Mutex
	duties map[string]*sync.Mutex

	hooksMu sync.Mutex
	hooks   []Observer
}

// Observer receives transaction events (metrics).
type Observer interface {
	TxSent(duty string)
	TxReplaced(duty string)
	TxMined(duty string, success bool)
}

// New creates a transaction manager.
func New(ctx context.Context, params ...Parameter) (*Manager, error) {
	p, err := parseAndCheckParameters(params...)
	if err != nil {
		return nil, fmt.Errorf("txmgr parameters: %w", err)
	}
	m := &Manager{p: p, log: p.log.With().Str("module", "txmgr").Logger(), duties: map[string]*sync.Mutex{}}
	switch {
	case p.signer != nil:
		m.from = p.signer.Address()
	case p.from != "":
		if !common.IsHexAddress(p.from) {
			return nil, fmt.Errorf("txmgr parameters: from address %q is not a hex address", p.from)
		}
		m.from = common.HexToAddress(p.from)
	}
	id, err := p.backend.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("read chain id: %w", err)
	}
	m.chainID = id
	if p.dryRun {
		m.log.Warn().Str("from", m.from.Hex()).Msg("dry-run mode: transactions are built and logged, never sent")
	}
	return m, nil
}

// Address is the sending account (zero in dry-run mode without a from address).
func (m *Manager) Address() common.Address { return m.from }

// DryRun reports whether the manager never sends.
func (m *Manager) DryRun() bool { return m.p.dryRun }

// AddObserver registers an observer of transaction events.
func (m *Manager) AddObserver(o Observer) {
	m.hooksMu.Lock()
	defer m.hooksMu.Unlock()
	m.hooks = append(m.hooks, o)
}

func (m *Manager) observe(f func(Observer)) {
	m.hooksMu.Lock()
	hooks := append([]Observer(nil), m.hooks...)
	m.hooksMu.Unlock()
	for _, h := range hooks {
		f(h)
	}
}

func (m *Manager) dutyLock(duty string) *sync.Mutex {
	m.dutyMu.Lock()
	defer m.dutyMu.Unlock()
	l, ok := m.duties[duty]
	if !ok {
		l = &sync.Mutex{}
		m.duties[duty] = l
	}
	return l
}

// Submit sends req for duty and waits for its receipt. Calls for the same duty run one after another (the
// duty's queue); calls for different duties run independently.
func (m *Manager) Submit(ctx context.Context, duty string, req Request) (*types.Receipt, *Pending, error) {
	l := m.dutyLock(duty)
	l.Lock()
	defer l.Unlock()
	p, err := m.Send(ctx, duty, req)
	if err != nil {
		return nil, p, err
	}
	if p.DryRun {
		return nil, p, ErrDryRun
	}
	r, err := m.Wait(ctx, p)
	return r, p, err
}

func (m *Manager) head(ctx context.Context) (*types.Header, error) {
	h, err := m.p.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read head header: %w", err)
	}
	if h.BaseFee == nil {
		return nil, errors.New("head header has no base fee (pre-London chain)")
	}
	return h, nil
}

func (m *Manager) suggestedTip(ctx context.Context) (*big.Int, error) {
	tip, err := m.p.backend.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("suggest tip: %w", err)
	}
	if tip.Cmp(m.p.minTip) < 0 {
		tip = new(big.Int).Set(m.p.minTip)
	}
	if tip.Cmp(m.p.maxTip) > 0 {
		tip = new(big.Int).Set(m.p.maxTip)
	}
	return tip, nil
}

// fees returns (feeCap, tip) = (min(2 × baseFee + tip, cap), min(tip, feeCap)).
func (m *Manager) fees(baseFee, tip *big.Int) (*big.Int, *big.Int) {
	feeCap := new(big.Int).Lsh(baseFee, 1)
	feeCap.Add(feeCap, tip)
	if feeCap.Cmp(m.p.maxFeeCap) > 0 {
		feeCap.Set(m.p.maxFeeCap)
	}
	t := new(big.Int).Set(tip)
	if t.Cmp(feeCap) > 0 {
		t.Set(feeCap)
	}
	return feeCap, t
}

func (m *Manager) gasLimit(ctx context.Context, req Request) (uint64, error) {
	if req.GasLimit != 0 {
		return req.GasLimit, nil
	}
	to := req.To
	est, err := m.p.backend.EstimateGas(ctx, ethereum.CallMsg{From: m.from, To: &to, Value: req.Value, Data: req.Data})
	if err != nil {
		return 0, fmt.Errorf("estimate gas: %w", err)
	}
	g := new(big.Int).SetUint64(est)
	g.Mul(g, new(big.Int).SetUint64(100+m.p.gasMarginPercent))
	g.Div(g, big.NewInt(100))
	if !g.IsUint64() || g.Uint64() > m.p.gasCeiling {
		return m.p.gasCeiling, nil
	}
	if req.MinGas > g.Uint64() {
		return min(req.MinGas, m.p.gasCeiling), nil
	}
	return g.Uint64(), nil
}

// Send builds, signs and broadcasts req for duty and returns without waiting for it to be mined.
func (m *Manager) Send(ctx context.Context, duty string, req Request) (*Pending, error) {
	log := m.log.With().Str("duty", duty).Str("to", req.To.Hex()).Logger()
	gas, err := m.gasLimit(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", duty, err)
	}
	head, err := m.head(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", duty, err)
	}
	tip, err := m.suggestedTip(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", duty, err)
	}
	feeCap, tip := m.fees(head.BaseFee, tip)
	if req.InitialFeeCap != nil {
		feeCap = new(big.Int).Set(req.InitialFeeCap)
	}
	if req.InitialTipCap != nil {
		tip = new(big.Int).Set(req.InitialTipCap)
	}
	if tip.Cmp(feeCap) > 0 {
		tip = new(big.Int).Set(feeCap)
	}
	if feeCap.Cmp(head.BaseFee) < 0 {
		log.Warn().Str("fee_cap", feeCap.String()).Str("base_fee", head.BaseFee.String()).
			Msg("fee cap below the current base fee: the transaction waits for a replacement or a lower base fee")
	}
	value := req.Value
	if value == nil {
		value = new(big.Int)
	}

	m.sendMu.Lock()
	defer m.sendMu.Unlock()
	pendingNonce, err := m.p.backend.PendingNonceAt(ctx, m.from)
	if err != nil {
		return nil, fmt.Errorf("%s: read pending nonce: %w", duty, err)
	}
	nonce := pendingNonce
	if m.haveNonce && m.nextNonce > nonce {
		nonce = m.nextNonce
	}
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: m.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas,
		To: &req.To, Value: value, Data: req.Data,
	})
	ev := log.Info().Uint64("nonce", nonce).Uint64("gas", gas).Str("fee_cap", feeCap.String()).
		Str("tip", tip.String()).Str("base_fee", head.BaseFee.String()).Int("data_bytes", len(req.Data))
	if m.p.dryRun {
		ev.Bool("dry_run", true).Msg("transaction built (dry run, not sent)")
		return &Pending{Duty: duty, Nonce: nonce, DryRun: true, req: req, txs: []*types.Transaction{tx}}, nil
	}
	signed, err := m.p.signer.SignTx(tx, m.chainID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", duty, err)
	}
	if req.OnSigned != nil {
		if err := req.OnSigned(signed); err != nil {
			return nil, fmt.Errorf("%s: record signed transaction: %w", duty, err)
		}
	}
	if err := m.p.backend.SendTransaction(ctx, signed); err != nil {
		return nil, fmt.Errorf("%s: send transaction (nonce %d): %w", duty, nonce, err)
	}
	m.nextNonce, m.haveNonce = nonce+1, true
	ev.Str("hash", signed.Hash().Hex()).Msg("transaction sent")
	m.observe(func(o Observer) { o.TxSent(duty) })
	return &Pending{Duty: duty, Nonce: nonce, req: req, txs: []*types.Transaction{signed}, lastSendHead: head.Number.Uint64()}, nil
}

// Resume tracks already signed versions of one transaction (oldest first, same nonce) after a restart:
// it rebroadcasts the latest (ignoring "already known"/"nonce too low") and returns a Pending for Wait.
func (m *Manager) Resume(ctx context.Context, duty string, txs []*types.Transaction, req Request) (*Pending, error) {
	if len(txs) == 0 {
		return nil, errors.New("resume: no transactions")
	}
	nonce := txs[0].Nonce()
	for _, tx := range txs {
		if tx.Nonce() != nonce {
			return nil, fmt.Errorf("resume: transactions carry different nonces (%d, %d)", nonce, tx.Nonce())
		}
	}
	head, err := m.head(ctx)
	if err != nil {
		return nil, err
	}
	p := &Pending{Duty: duty, Nonce: nonce, req: req, txs: append([]*types.Transaction(nil), txs...), lastSendHead: head.Number.Uint64()}
	m.sendMu.Lock()
	if !m.haveNonce || m.nextNonce <= nonce {
		m.nextNonce, m.haveNonce = nonce+1, true
	}
	m.sendMu.Unlock()
	if err := m.broadcast(ctx, p.Latest()); err != nil {
		m.log.Warn().Err(err).Str("duty", duty).Uint64("nonce", nonce).Msg("rebroadcast on resume failed; tracking anyway")
	}
	return p, nil
}

// broadcast sends tx, treating "already known" as success.
func (m *Manager) broadcast(ctx context.Context, tx *types.Transaction) error {
	err := m.p.backend.SendTransaction(ctx, tx)
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "already known") {
		return nil
	}
	return err
}

// Wait tracks p until one of its versions is mined, replacing it with higher fees whenever it stays unmined
// for the configured number of blocks, and gives up after the timeout.
func (m *Manager) Wait(ctx context.Context, p *Pending) (*types.Receipt, error) {
	if p.DryRun {
		return nil, ErrDryRun
	}
	ctx, cancel := context.WithTimeout(ctx, m.p.timeout)
	defer cancel()
	log := m.log.With().Str("duty", p.Duty).Uint64("nonce", p.Nonce).Logger()
	ticker := time.NewTicker(m.p.pollInterval)
	defer ticker.Stop()
	for {
		r, err := m.findReceipt(ctx, p)
		if err != nil {
			log.Debug().Err(err).Msg("receipt lookup failed; retrying")
		}
		if r != nil {
			return m.mined(log, p, r)
		}
		if err := m.checkAndBump(ctx, log, p); err != nil {
			if errors.Is(err, ErrNonceConsumed) {
				return nil, err
			}
			log.Debug().Err(err).Msg("replacement check failed; retrying")
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s nonce %d after %s: %w", p.Duty, p.Nonce, m.p.timeout, ErrTimeout)
			}
			return nil, ctx.Err()
		case <-ticker.C:
		}
	}
}

func (m *Manager) mined(log zerolog.Logger, p *Pending, r *types.Receipt) (*types.Receipt, error) {
	ok := r.Status == types.ReceiptStatusSuccessful
	m.observe(func(o Observer) { o.TxMined(p.Duty, ok) })
	ev := log.Info()
	if !ok {
		ev = log.Warn()
	}
	ev.Str("hash", r.TxHash.Hex()).Uint64("block", r.BlockNumber.Uint64()).Uint64("gas_used", r.GasUsed).
		Bool("success", ok).Int("replacements", p.Replacements()).Msg("transaction mined")
	if !ok {
		return r, fmt.Errorf("%s tx %s: %w", p.Duty, r.TxHash.Hex(), ErrReverted)
	}
	return r, nil
}

func (m *Manager) findReceipt(ctx context.Context, p *Pending) (*types.Receipt, error) {
	hashes := p.Hashes()
	var lastErr error
	for i := len(hashes) - 1; i >= 0; i-- {
		r, err := m.p.backend.TransactionReceipt(ctx, hashes[i])
		if err == nil && r != nil {
			return r, nil
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) {
			lastErr = err
		}
	}
	return nil, lastErr
}

func (m *Manager) checkAndBump(ctx context.Context, log zerolog.Logger, p *Pending) error {
	mined, err := m.p.backend.NonceAt(ctx, m.from, nil)
	if err != nil {
		return fmt.Errorf("read mined nonce: %w", err)
	}
	if mined > p.Nonce {
		// Mined meanwhile by one of ours (look again) or by someone else.
		if r, err := m.findReceipt(ctx, p); err == nil && r != nil {
			return nil
		}
		return fmt.Errorf("%s nonce %d: %w", p.Duty, p.Nonce, ErrNonceConsumed)
	}
	head, err := m.head(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	due := head.Number.Uint64() >= p.lastSendHead+m.p.bumpAfterBlocks
	old := p.txs[len(p.txs)-1]
	p.mu.Unlock()
	if !due {
		return nil
	}
	tip, err := m.suggestedTip(ctx)
	if err != nil {
		return err
	}
	bump := func(v *big.Int) *big.Int {
		b := new(big.Int).Mul(v, new(big.Int).SetUint64(100+m.p.bumpPercent))
		b.Div(b, big.NewInt(100))
		if b.Cmp(v) <= 0 {
			b.Add(v, big.NewInt(1))
		}
		return b
	}
	newTip := bump(old.GasTipCap())
	if tip.Cmp(newTip) > 0 {
		newTip = tip
	}
	newFee := bump(old.GasFeeCap())
	if floor, _ := m.fees(head.BaseFee, newTip); floor.Cmp(newFee) > 0 {
		newFee = floor
	}
	if newFee.Cmp(m.p.maxFeeCap) > 0 {
		newFee = new(big.Int).Set(m.p.maxFeeCap)
	}
	if newTip.Cmp(newFee) > 0 {
		newTip = new(big.Int).Set(newFee)
	}
	// The pool replaces only when both fees rise by at least 10 %.
	minFee := new(big.Int).Div(new(big.Int).Mul(old.GasFeeCap(), big.NewInt(110)), big.NewInt(100))
	minTip := new(big.Int).Div(new(big.Int).Mul(old.GasTipCap(), big.NewInt(110)), big.NewInt(100))
	if newFee.Cmp(minFee) < 0 || newTip.Cmp(minTip) < 0 {
		log.Warn().Str("fee_cap", old.GasFeeCap().String()).Str("max_fee_cap", m.p.maxFeeCap.String()).
			Str("base_fee", head.BaseFee.String()).Msg("transaction not mined and fees at the cap: rebroadcasting unchanged")
		if err := m.broadcast(ctx, old); err != nil {
			log.Debug().Err(err).Msg("rebroadcast failed")
		}
		p.mu.Lock()
		p.lastSendHead = head.Number.Uint64()
		p.mu.Unlock()
		return nil
	}
	to := old.To()
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: m.chainID, Nonce: p.Nonce, GasTipCap: newTip, GasFeeCap: newFee, Gas: old.Gas(),
		To: to, Value: old.Value(), Data: old.Data(),
	})
	signed, err := m.p.signer.SignTx(tx, m.chainID)
	if err != nil {
		return err
	}
	if p.req.OnSigned != nil {
		if err := p.req.OnSigned(signed); err != nil {
			return fmt.Errorf("record replacement: %w", err)
		}
	}
	if err := m.broadcast(ctx, signed); err != nil {
		return fmt.Errorf("send replacement (nonce %d): %w", p.Nonce, err)
	}
	p.mu.Lock()
	p.txs = append(p.txs, signed)
	p.lastSendHead = head.Number.Uint64()
	p.replacements++
	p.mu.Unlock()
	log.Info().Str("old_hash", old.Hash().Hex()).Str("hash", signed.Hash().Hex()).
		Str("fee_cap", newFee.String()).Str("tip", newTip.String()).Str("base_fee", head.BaseFee.String()).
		Msg("transaction replaced with higher fees")
	m.observe(func(o Observer) { o.TxReplaced(p.Duty) })
	return nil
}
