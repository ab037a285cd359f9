package execution

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// call is one contract read of a batch: the method of abi at `to` with args, decoded by out.
type call struct {
	to     common.Address
	abi    *abi.ABI
	method string
	args   []any
	out    func(vals []any) error
}

// batchConcurrency is the number of aggregate3 requests in flight.
const batchConcurrency = 4

var multicallABI = bindings.MustABI(bindings.Multicall3MetaData)

// multicall runs every call at block through Multicall3 aggregate3 (allowFailure = true, so a failing call is
// named), batchSize calls per request. Each call's out runs once with its decoded return values; outs of one
// batch run on one goroutine, outs of different batches may run concurrently (they must write distinct memory).
func (s *Service) multicall(ctx context.Context, block uint64, calls []call) error {
	if len(calls) == 0 {
		return nil
	}
	bn := new(big.Int).SetUint64(block)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, batchConcurrency)
	for lo := 0; lo < len(calls); lo += s.p.batchSize {
		chunk := calls[lo:min(lo+s.p.batchSize, len(calls))]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.aggregate(ctx, bn, chunk); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (s *Service) aggregate(ctx context.Context, block *big.Int, chunk []call) error {
	in := make([]bindings.Multicall3Call3, len(chunk))
	for i, c := range chunk {
		data, err := c.abi.Pack(c.method, c.args...)
		if err != nil {
			return fmt.Errorf("encode call %s on %s: %w", c.method, c.to.Hex(), err)
		}
		in[i] = bindings.Multicall3Call3{Target: c.to, AllowFailure: true, CallData: data}
	}
	data, err := multicallABI.Pack("aggregate3", in)
	if err != nil {
		return fmt.Errorf("encode aggregate3: %w", err)
	}
	mc := s.p.multicall
	rctx, cancel := context.WithTimeout(ctx, s.p.timeout)
	defer cancel()
	raw, err := s.p.client.CallContract(rctx, ethereum.CallMsg{To: &mc, Data: data}, block)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "historical state") || strings.Contains(msg, "missing trie node") {
			return fmt.Errorf("multicall of %d calls at block %s: %w (the execution client no longer has the state of that block: use an archive node)", len(chunk), block, err)
		}
		return fmt.Errorf("multicall of %d calls at block %s: %w", len(chunk), block, err)
	}
	if len(raw) == 0 {
		return fmt.Errorf("multicall at block %s: empty answer (no Multicall3 at %s at that block?)", block, mc.Hex())
	}
	vals, err := multicallABI.Unpack("aggregate3", raw)
	if err != nil || len(vals) != 1 {
		return fmt.Errorf("decode aggregate3 answer at block %s: %v", block, err)
	}
	var results []bindings.Multicall3Result
	if err := convert(vals[0], &results); err != nil {
		return fmt.Errorf("decode aggregate3 results: %w", err)
	}
	if len(results) != len(chunk) {
		return fmt.Errorf("aggregate3 returned %d results for %d calls", len(results), len(chunk))
	}
	for i, r := range results {
		c := chunk[i]
		if !r.Success {
			return fmt.Errorf("call %s on %s at block %s reverted", c.method, c.to.Hex(), block)
		}
		out, err := c.abi.Unpack(c.method, r.ReturnData)
		if err != nil {
			return fmt.Errorf("decode %s on %s: %w", c.method, c.to.Hex(), err)
		}
		if err := c.out(out); err != nil {
			return fmt.Errorf("%s on %s: %w", c.method, c.to.Hex(), err)
		}
	}
	return nil
}

// ---- decoding helpers ----

func one(vals []any) (any, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("want 1 return value, got %d", len(vals))
	}
	return vals[0], nil
}

func toBig(dst **big.Int) func([]any) error {
	return func(vals []any) error {
		v, err := one(vals)
		if err != nil {
			return err
		}
		b, ok := v.(*big.Int)
		if !ok {
			return fmt.Errorf("want uint256, got %T", v)
		}
		*dst = new(big.Int).Set(b)
		return nil
	}
}

func asUint64(v any) (uint64, error) {
	switch x := v.(type) {
	case *big.Int:
		if x.Sign() < 0 || !x.IsUint64() {
			return 0, fmt.Errorf("value %s does not fit 64 bits", x)
		}
		return x.Uint64(), nil
	case uint8:
		return uint64(x), nil
	case uint16:
		return uint64(x), nil
	case uint32:
		return uint64(x), nil
	case uint64:
		return x, nil
	}
	return 0, fmt.Errorf("want an unsigned integer, got %T", v)
}

func toUint64(dst *uint64) func([]any) error {
	return func(vals []any) error {
		v, err := one(vals)
		if err != nil {
			return err
		}
		*dst, err = asUint64(v)
		return err
	}
}

func toBool(dst *bool) func([]any) error {
	return func(vals []any) error {
		v, err := one(vals)
		if err != nil {
			return err
		}
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want bool, got %T", v)
		}
		*dst = b
		return nil
	}
}

func toAddress(dst *common.Address) func([]any) error {
	return func(vals []any) error {
		v, err := one(vals)
		if err != nil {
			return err
		}
		a, ok := v.(common.Address)
		if !ok {
			return fmt.Errorf("want address, got %T", v)
		}
		*dst = a
		return nil
	}
}

func toBytes(dst *[]byte) func([]any) error {
	return func(vals []any) error {
		v, err := one(vals)
		if err != nil {
			return err
		}
		b, ok := v.([]byte)
		if !ok {
			return fmt.Errorf("want bytes, got %T", v)
		}
		*dst = append([]byte(nil), b...)
		return nil
	}
}

// convert copies an ABI-decoded value (anonymous tuple structs) into dst (a pointer to the binding type); the
// library panics on a mismatch, which is turned into an error here.
func convert(in, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("convert %T to %T: %v", in, dst, r)
		}
	}()
	abi.ConvertType(in, dst)
	return nil
}
