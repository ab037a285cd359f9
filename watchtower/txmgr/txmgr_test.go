package txmgr

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/rs/zerolog"
)

type simChain struct {
	be  *simulated.Backend
	key *ecdsa.PrivateKey
}

func newSim(t *testing.T) *simChain {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	be := simulated.NewBackend(types.GenesisAlloc{addr: {Balance: new(big.Int).Mul(ether, big.NewInt(100))}})
	t.Cleanup(func() { _ = be.Close() })
	return &simChain{be: be, key: key}
}

// mineEvery commits a block every d until the test's context ends.
func (s *simChain) mineEvery(ctx context.Context, d time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(d)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				s.be.Commit()
			}
		}
	}()
	return &wg
}

func TestNewRejectsMissingBackendAndBadSettings(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx); err == nil || !strings.Contains(err.Error(), "no backend") {
		t.Fatalf("want missing backend error, got %v", err)
	}
	s := newSim(t)
	if _, err := New(ctx, WithBackend(s.be.Client()), WithBumpPercent(5)); err == nil {
		t.Fatal("bump percent 5 accepted")
	}
	if _, err := New(ctx, WithBackend(s.be.Client()), WithFromAddress("nothex")); err == nil {
		t.Fatal("bad from address accepted")
	}
}

// TestUnderpricedReplacedWhileOtherDutyProceeds is the acceptance test: a transaction deliberately sent with
// a fee cap far below the base fee is replaced and mined, and another duty sends meanwhile without waiting.
func TestUnderpricedReplacedWhileOtherDutyProceeds(t *testing.T) {
	s := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signer, _ := NewKeySigner(s.key)
	var logs bytes.Buffer
	m, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithLogger(zerolog.New(&logs)),
		WithBumpAfterBlocks(2), WithPollInterval(10*time.Millisecond), WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.be.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Genesis base fee is 1 gwei; 1e6 wei (the pool's minimum tip) is 1000× below it, so only a
	// replacement can get this nonce mined within the few blocks the test runs.
	low := big.NewInt(1_000_000)
	if head.BaseFee.Cmp(new(big.Int).Mul(low, big.NewInt(100))) < 0 {
		t.Fatalf("base fee %s too low for the test", head.BaseFee)
	}
	stuck, err := m.Send(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1), InitialFeeCap: low, InitialTipCap: low})
	if err != nil {
		t.Fatal(err)
	}
	// Two blocks pass: the underpriced transaction is not mined.
	s.be.Commit()
	s.be.Commit()
	if r, _ := s.be.Client().TransactionReceipt(ctx, stuck.Latest().Hash()); r != nil {
		t.Fatal("underpriced transaction was mined")
	}

	var aMined atomic.Bool
	var aRec *types.Receipt
	var aErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		aRec, aErr = m.Wait(ctx, stuck)
		aMined.Store(true)
	}()
	// The other duty sends while "rewards" is stuck; Send must not wait for that receipt.
	other, err := m.Send(ctx, "megapool", Request{To: common.HexToAddress("0x2222"), Value: big.NewInt(2)})
	if err != nil {
		t.Fatal(err)
	}
	if aMined.Load() {
		t.Fatal("rewards transaction finished before the other duty sent: the test proves nothing")
	}
	if other.Nonce != stuck.Nonce+1 {
		t.Fatalf("other duty nonce %d, want %d", other.Nonce, stuck.Nonce+1)
	}
	wg := s.mineEvery(ctx, 20*time.Millisecond)
	bRec, err := m.Wait(ctx, other)
	if err != nil {
		t.Fatalf("other duty: %v", err)
	}
	<-done
	cancel()
	wg.Wait()
	if aErr != nil {
		t.Fatalf("rewards duty: %v", aErr)
	}
	if stuck.Replacements() < 1 {
		t.Fatal("underpriced transaction was not replaced")
	}
	if aRec.TxHash == stuck.Hashes()[0] {
		t.Fatal("the original underpriced version was mined")
	}
	if aRec.Status != types.ReceiptStatusSuccessful || bRec.Status != types.ReceiptStatusSuccessful {
		t.Fatal("a transaction failed")
	}
	if !strings.Contains(logs.String(), "transaction replaced with higher fees") {
		t.Fatal("replacement not logged")
	}
}

func TestDryRunBuildsAndNeverSends(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	addr := crypto.PubkeyToAddress(s.key.PublicKey)
	var logs bytes.Buffer
	m, err := New(ctx, WithBackend(s.be.Client()), WithFromAddress(addr.Hex()), WithLogger(zerolog.New(&logs)))
	if err != nil {
		t.Fatal(err)
	}
	if !m.DryRun() {
		t.Fatal("no signer but not dry-run")
	}
	_, p, err := m.Submit(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1)})
	if !errors.Is(err, ErrDryRun) {
		t.Fatalf("want ErrDryRun, got %v", err)
	}
	// Estimate 21000 (plain transfer) + 50 % margin = 31500.
	if g := p.Latest().Gas(); g != 31500 {
		t.Fatalf("gas %d, want 31500", g)
	}
	s.be.Commit()
	n, err := s.be.Client().NonceAt(ctx, addr, nil)
	if err != nil || n != 0 {
		t.Fatalf("nonce %d err %v: something was sent", n, err)
	}
	if !strings.Contains(logs.String(), "dry run") {
		t.Fatal("dry run not logged")
	}
}

func TestFeesFromBaseFeeUnderCap(t *testing.T) {
	m := &Manager{p: &parameters{maxFeeCap: big.NewInt(100)}}
	// 2×30 + 5 = 65 < 100.
	fee, tip := m.fees(big.NewInt(30), big.NewInt(5))
	if fee.Int64() != 65 || tip.Int64() != 5 {
		t.Fatalf("fee %s tip %s, want 65 5", fee, tip)
	}
	// 2×60 + 5 = 125 capped at 100.
	fee, _ = m.fees(big.NewInt(60), big.NewInt(5))
	if fee.Int64() != 100 {
		t.Fatalf("fee %s, want 100", fee)
	}
	// tip above the cap is lowered to it.
	_, tip = m.fees(big.NewInt(0), big.NewInt(500))
	if tip.Int64() != 100 {
		t.Fatalf("tip %s, want 100", tip)
	}
}

func TestTimeout(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	signer, _ := NewKeySigner(s.key)
	low := big.NewInt(1_000_000)
	// Cap at the low fee: no replacement is possible, and no block is mined, so Wait must time out.
	m, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithMaxFeeCap(low), WithTipBounds(low, low),
		WithPollInterval(5*time.Millisecond), WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Submit(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1)})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
}

func TestResumeAfterRestartFindsMinedTransaction(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	signer, _ := NewKeySigner(s.key)
	var saved []*types.Transaction
	m1, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m1.Send(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1),
		OnSigned: func(tx *types.Transaction) error { saved = append(saved, tx); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].Hash() != p.Latest().Hash() {
		t.Fatal("OnSigned did not see the broadcast transaction")
	}
	s.be.Commit()
	// A new manager (after a restart) resumes from the saved transaction and finds its receipt.
	m2, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithPollInterval(5*time.Millisecond), WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := m2.Resume(ctx, "rewards", saved, Request{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := m2.Wait(ctx, p2)
	if err != nil || r.TxHash != saved[0].Hash() {
		t.Fatalf("resume: %v", err)
	}
	// The next send continues after the used nonce.
	p3, err := m2.Send(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1)})
	if err != nil || p3.Nonce != 1 {
		t.Fatalf("next nonce %v err %v", p3, err)
	}
}

func TestNonceConsumedElsewhere(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	signer, _ := NewKeySigner(s.key)
	m, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithPollInterval(5*time.Millisecond), WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// A transaction at nonce 0 that never reached the pool (e.g. built before a crash), then an unrelated
	// transaction from the same key takes nonce 0.
	ghost, _ := signer.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: m.chainID, Nonce: 0, GasTipCap: big.NewInt(1e9),
		GasFeeCap: big.NewInt(1e10), Gas: 21000, To: &common.Address{1}, Value: big.NewInt(5)}), m.chainID)
	other, _ := signer.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: m.chainID, Nonce: 0, GasTipCap: big.NewInt(2e9),
		GasFeeCap: big.NewInt(2e10), Gas: 21000, To: &common.Address{2}, Value: big.NewInt(6)}), m.chainID)
	if err := s.be.Client().SendTransaction(ctx, other); err != nil {
		t.Fatal(err)
	}
	s.be.Commit()
	p, _ := m.Resume(ctx, "rewards", []*types.Transaction{ghost}, Request{})
	if _, err := m.Wait(ctx, p); !errors.Is(err, ErrNonceConsumed) {
		t.Fatalf("want ErrNonceConsumed, got %v", err)
	}
}

// TestSecretsNeverLogged loads a keystore with a password file, sends, replaces and fails a transaction, and
// scans everything logged (and the signer's formatting) for the password and the private key.
func TestSecretsNeverLogged(t *testing.T) {
	s := newSim(t)
	dir := t.TempDir()
	const password = "correct-horse-battery-staple-7d1e"
	key := &keystore.Key{Address: crypto.PubkeyToAddress(s.key.PublicKey), PrivateKey: s.key}
	ks, err := keystore.EncryptKey(key, password, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	ksFile, pwFile := filepath.Join(dir, "key.json"), filepath.Join(dir, "password")
	if err := os.WriteFile(ksFile, ks, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lg := zerolog.New(&logs).Level(zerolog.TraceLevel)
	signer, err := LoadKeystoreSigner(ksFile, pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Address() != key.Address {
		t.Fatal("wrong address from keystore")
	}
	_, err = LoadKeystoreSigner(ksFile, filepath.Join(dir, "missing"))
	lg.Error().Err(err).Msg("expected failure")
	wrong := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrong, []byte("nope"), 0o600)
	_, err = LoadKeystoreSigner(ksFile, wrong)
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	lg.Error().Err(err).Msg("expected failure")
	lg.Info().Interface("signer", signer).Str("fmt", fmt.Sprintf("%v %+v %#v", signer, signer, signer)).Msg("formatting")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := New(ctx, WithBackend(s.be.Client()), WithSigner(signer), WithLogger(lg), WithBumpAfterBlocks(1),
		WithPollInterval(5*time.Millisecond), WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	wg := s.mineEvery(ctx, 10*time.Millisecond)
	low := big.NewInt(1_000_000)
	if _, _, err := m.Submit(ctx, "rewards", Request{To: common.HexToAddress("0x1111"), Value: big.NewInt(1), InitialFeeCap: low, InitialTipCap: low}); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()

	out := logs.String()
	if !strings.Contains(out, "transaction mined") {
		t.Fatal("logs were not captured")
	}
	hexKey := fmt.Sprintf("%x", crypto.FromECDSA(s.key))
	for name, secret := range map[string]string{"password": password, "private key": hexKey, "private key D": s.key.D.String()} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
			t.Fatalf("%s appears in the logs", name)
		}
	}
}
