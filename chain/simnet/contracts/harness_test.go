package contracts_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"github.com/ethereum/go-ethereum"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"

	"github.com/odaowatch/watchtower/chain/simnet/contracts"
)

var (
	simChainID = big.NewInt(1337)
	ether      = big.NewInt(params.Ether)
)

func eth(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), ether) }

// env is one simulated chain with the protocol deployed. Account 0 is the guardian (deployer); the other
// accounts are funded EOAs with deterministic keys.
type env struct {
	t        *testing.T
	ctx      context.Context
	sim      *simulated.Backend
	client   simulated.Client
	keys     []*ecdsa.PrivateKey
	guardian *bind.TransactOpts
	d        *contracts.Deployment
}

// testKey derives a deterministic private key for account i.
func testKey(t *testing.T, i int) *ecdsa.PrivateKey {
	t.Helper()
	seed := crypto.Keccak256([]byte("odaowatch simnet contract test key"), big.NewInt(int64(i)).Bytes())
	k, err := crypto.ToECDSA(seed)
	if err != nil {
		t.Fatalf("derive key %d: %v", i, err)
	}
	return k
}

func newEnv(t *testing.T, accounts int) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(cancel)
	keys := make([]*ecdsa.PrivateKey, accounts)
	alloc := types.GenesisAlloc{}
	for i := range keys {
		keys[i] = testKey(t, i)
		alloc[crypto.PubkeyToAddress(keys[i].PublicKey)] = types.Account{Balance: eth(1_000_000)}
	}
	sim := simulated.NewBackend(alloc, simulated.WithBlockGasLimit(1_000_000_000))
	t.Cleanup(func() { _ = sim.Close() })
	e := &env{t: t, ctx: ctx, sim: sim, client: sim.Client(), keys: keys}
	e.guardian = e.opts(0)
	d, err := contracts.Deploy(ctx, e.client, e.guardian, contracts.Params{
		IntervalStart: 1_000,
		IntervalTime:  28 * 24 * 3600,
		Commit:        func() { sim.Commit() },
	})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	e.d = d
	return e
}

func (e *env) addr(i int) common.Address { return crypto.PubkeyToAddress(e.keys[i].PublicKey) }

func (e *env) opts(i int) *bind.TransactOpts {
	e.t.Helper()
	o, err := bind.NewKeyedTransactorWithChainID(e.keys[i], simChainID)
	if err != nil {
		e.t.Fatalf("transactor %d: %v", i, err)
	}
	o.Context = e.ctx
	return o
}

// nonces returns transactors for account i with consecutive explicit nonces, for several transactions in one
// block (the pool's pending nonce is not updated synchronously).
func (e *env) nonces(i int) func() *bind.TransactOpts {
	e.t.Helper()
	n, err := e.client.PendingNonceAt(e.ctx, e.addr(i))
	if err != nil {
		e.t.Fatalf("nonce of account %d: %v", i, err)
	}
	return func() *bind.TransactOpts {
		o := e.opts(i)
		o.Nonce = new(big.Int).SetUint64(n)
		n++
		return o
	}
}

func (e *env) call() *bind.CallOpts { return &bind.CallOpts{Context: e.ctx} }

// mined commits the block and requires every transaction to have succeeded.
func (e *env) mined(txs ...*types.Transaction) []*types.Receipt {
	e.t.Helper()
	e.sim.Commit()
	commits := 1
	out := make([]*types.Receipt, len(txs))
	for i, tx := range txs {
		r, err := e.client.TransactionReceipt(e.ctx, tx.Hash())
		for errors.Is(err, ethereum.NotFound) && commits < 16 {
			// The pool may hand a late transaction to the next block.
			e.sim.Commit()
			commits++
			r, err = e.client.TransactionReceipt(e.ctx, tx.Hash())
		}
		if err != nil {
			e.t.Fatalf("receipt of tx %d: %v", i, err)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			from, _ := types.Sender(types.LatestSignerForChainID(simChainID), tx)
			_, cerr := e.client.CallContract(e.ctx, ethereum.CallMsg{From: from, To: tx.To(), Data: tx.Data(), Value: tx.Value(), Gas: tx.Gas()}, new(big.Int).Sub(r.BlockNumber, big.NewInt(1)))
			e.t.Logf("replayed on the parent block: %v", cerr)
			blk, _ := e.client.BlockByNumber(e.ctx, r.BlockNumber)
			e.t.Logf("block %s has %d txs, ours at %d", r.BlockNumber, len(blk.Transactions()), r.TransactionIndex)
			e.t.Fatalf("tx %d reverted (gas used %d of limit %d)", i, r.GasUsed, tx.Gas())
		}
		out[i] = r
	}
	return out
}

// must sends a transaction (gas estimated, so a revert surfaces as an error), mines it and requires success.
func (e *env) must(tx *types.Transaction, err error) *types.Receipt {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("send: %v", err)
	}
	return e.mined(tx)[0]
}

// pending sends a transaction without mining it.
func (e *env) pending(tx *types.Transaction, err error) *types.Transaction {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("send: %v", err)
	}
	return tx
}

// reverts requires a transaction to be rejected with the given revert reason (gas estimation executes the call).
func (e *env) reverts(reason string) func(tx *types.Transaction, err error) {
	return func(tx *types.Transaction, err error) { e.t.Helper(); e.checkRevert(reason, tx, err) }
}

func (e *env) checkRevert(reason string, tx *types.Transaction, err error) {
	e.t.Helper()
	if err == nil {
		e.sim.Commit()
		r, rerr := e.client.TransactionReceipt(e.ctx, tx.Hash())
		if rerr == nil && r.Status == types.ReceiptStatusSuccessful {
			e.t.Fatalf("expected revert %q, transaction succeeded", reason)
		}
		e.t.Fatalf("expected revert %q at estimation, got a mined failure instead", reason)
	}
	if !strings.Contains(err.Error(), reason) {
		e.t.Fatalf("expected revert %q, got: %v", reason, err)
	}
}

// addMembers seeds oDAO members from accounts [from, from+n) with join time 0.
func (e *env) addMembers(from, n int) {
	e.t.Helper()
	txs := make([]*types.Transaction, 0, n)
	next := e.nonces(0)
	for i := from; i < from+n; i++ {
		txs = append(txs, e.pending(e.d.DAONodeTrusted.SimAddMember(next(), e.addr(i), "member", "https://example.invalid", big.NewInt(0))))
	}
	e.mined(txs...)
	got, err := e.d.DAONodeTrusted.GetMemberCount(e.call())
	if err != nil {
		e.t.Fatalf("member count: %v", err)
	}
	if got.Int64() < int64(n) {
		e.t.Fatalf("member count %d, want >= %d", got, n)
	}
}

// fundSmoothingPool sends ETH from the guardian to the Smoothing Pool.
func (e *env) fundSmoothingPool(amount *big.Int) {
	e.t.Helper()
	o := e.opts(0)
	o.Value = amount
	e.must(e.d.SmoothingPool.Receive(o))
}
