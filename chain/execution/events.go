package execution

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"gopkg.in/yaml.v3"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
	"github.com/odaowatch/watchtower/tree"
)

// ErrEventNotFound: the interval has no RewardSnapshot event (not executed yet, or beyond the search bounds and
// no local event file).
var ErrEventNotFound = errors.New("reward snapshot event not found")

// RewardEvent is the RewardSnapshot event of one executed interval: the winning submission and the interval
// times the contract logged.
type RewardEvent struct {
	Index             uint64      `yaml:"index"`
	ExecutionBlock    uint64      `yaml:"executionBlock"`
	ConsensusBlock    uint64      `yaml:"consensusBlock"`
	MerkleRoot        common.Hash `yaml:"merkleRoot"`
	IntervalsPassed   uint64      `yaml:"intervalsPassed"`
	SmoothingPoolETH  *big.Int    `yaml:"smoothingPoolEth"`
	TreasuryRPL       *big.Int    `yaml:"treasuryRpl"`
	TreasuryETH       *big.Int    `yaml:"treasuryEth"`
	UserETH           *big.Int    `yaml:"userEth"`
	TrustedNodeRPL    []*big.Int  `yaml:"trustedNodeRpl"`
	NodeRPL           []*big.Int  `yaml:"nodeRpl"`
	NodeETH           []*big.Int  `yaml:"nodeEth"`
	IntervalStartTime uint64      `yaml:"intervalStartTime"`
	IntervalEndTime   uint64      `yaml:"intervalEndTime"`
	Time              uint64      `yaml:"time"`
	// LogBlock is the EL block of the log (0 when read from a file).
	LogBlock uint64 `yaml:"logBlock"`
}

var rewardSnapshotEvent = rewardsPoolABI.Events["RewardSnapshot"]

// legacyRewardSnapshotEvent is the pre-Saturn (v1.3.x) event, whose submission carries merkleTreeCID and no ETH
// split fields: (rewardIndex, executionBlock, consensusBlock, merkleRoot, merkleTreeCID, intervalsPassed,
// treasuryRPL, trustedNodeRPL[], nodeRPL[], nodeETH[], userETH) (watchtower-duties §3.4).
var legacyRewardSnapshotEvent = mustEvent(`[{"anonymous":false,"inputs":[
 {"indexed":true,"name":"rewardIndex","type":"uint256"},
 {"indexed":false,"name":"submission","type":"tuple","components":[
  {"name":"rewardIndex","type":"uint256"},{"name":"executionBlock","type":"uint256"},{"name":"consensusBlock","type":"uint256"},
  {"name":"merkleRoot","type":"bytes32"},{"name":"merkleTreeCID","type":"string"},{"name":"intervalsPassed","type":"uint256"},
  {"name":"treasuryRPL","type":"uint256"},{"name":"trustedNodeRPL","type":"uint256[]"},{"name":"nodeRPL","type":"uint256[]"},
  {"name":"nodeETH","type":"uint256[]"},{"name":"userETH","type":"uint256"}]},
 {"indexed":false,"name":"intervalStartTime","type":"uint256"},
 {"indexed":false,"name":"intervalEndTime","type":"uint256"},
 {"indexed":false,"name":"time","type":"uint256"}],"name":"RewardSnapshot","type":"event"}]`, "RewardSnapshot")

// legacySubmission mirrors the pre-Saturn RewardSubmission struct.
type legacySubmission struct {
	RewardIndex     *big.Int
	ExecutionBlock  *big.Int
	ConsensusBlock  *big.Int
	MerkleRoot      [32]byte
	MerkleTreeCID   string
	IntervalsPassed *big.Int
	TreasuryRPL     *big.Int
	TrustedNodeRPL  []*big.Int
	NodeRPL         []*big.Int
	NodeETH         []*big.Int
	UserETH         *big.Int
}

func mustEvent(js, name string) abi.Event {
	a, err := abi.JSON(strings.NewReader(js))
	if err != nil {
		panic(fmt.Sprintf("parse event ABI: %v", err)) // compiled-in constant
	}
	return a.Events[name]
}

// EventFileName is rp-rewards-event-<network>-<index>.yaml.
func EventFileName(network string, index uint64) string {
	return fmt.Sprintf("rp-rewards-event-%s-%d.yaml", network, index)
}

// RewardSnapshotEvent finds the RewardSnapshot event of interval index: first in the EL logs (at the block the
// rewards pool recorded with getClaimIntervalExecutionBlock, else searching back from the head in windows), then
// in the local event file of WithEventsDir. ErrEventNotFound when neither has it.
func (s *Service) RewardSnapshotEvent(ctx context.Context, index uint64) (*RewardEvent, error) {
	ev, logErr := s.eventFromLogs(ctx, index)
	if logErr == nil {
		return ev, nil
	}
	if s.p.eventsDir != "" {
		ev, err := ReadEventFile(filepath.Join(s.p.eventsDir, EventFileName(s.p.network, index)))
		if err == nil {
			if ev.Index != index {
				return nil, fmt.Errorf("event file for interval %d holds interval %d", index, ev.Index)
			}
			s.log.Info().Uint64("index", index).Err(logErr).Msg("RewardSnapshot event taken from the local event file")
			return ev, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return nil, logErr
}

func (s *Service) eventFromLogs(ctx context.Context, index uint64) (*RewardEvent, error) {
	head, err := s.Header(ctx, nil)
	if err != nil {
		return nil, err
	}
	hn := head.Number.Uint64()
	a, err := s.Addresses(ctx, hn, nameRewardsPool)
	if err != nil {
		return nil, err
	}
	rp := a[nameRewardsPool]
	var current, execBlock uint64
	err = s.multicall(ctx, hn, []call{
		{to: rp, abi: rewardsPoolABI, method: "getRewardIndex", out: toUint64(&current)},
		{to: rp, abi: rewardsPoolABI, method: "getClaimIntervalExecutionBlock", args: []any{new(big.Int).SetUint64(index)}, out: toUint64(&execBlock)},
	})
	if err != nil {
		return nil, fmt.Errorf("read rewards pool at head: %w", err)
	}
	if index >= current {
		return nil, fmt.Errorf("%w: interval %d is not executed yet (current index %d)", ErrEventNotFound, index, current)
	}
	topic := common.BigToHash(new(big.Int).SetUint64(index))
	query := func(from, to uint64) (*RewardEvent, error) {
		qctx, cancel := context.WithTimeout(ctx, s.p.timeout)
		defer cancel()
		logs, err := s.p.client.FilterLogs(qctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
			Addresses: []common.Address{rp}, Topics: [][]common.Hash{{rewardSnapshotEvent.ID, legacyRewardSnapshotEvent.ID}, {topic}},
		})
		if err != nil {
			return nil, fmt.Errorf("read RewardSnapshot logs %d..%d: %w", from, to, err)
		}
		for i := len(logs) - 1; i >= 0; i-- {
			if logs[i].Removed {
				continue
			}
			return decodeRewardEvent(logs[i])
		}
		return nil, nil
	}
	if execBlock > 0 && execBlock <= hn {
		ev, err := query(execBlock, execBlock)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			return ev, nil
		}
		return nil, fmt.Errorf("%w: no RewardSnapshot log for interval %d in its execution block %d (history expired?)", ErrEventNotFound, index, execBlock)
	}
	var lowest uint64
	if hn > s.p.maxLookback {
		lowest = hn - s.p.maxLookback
	}
	for to := hn; ; {
		from := lowest
		if to-lowest >= s.p.logWindow {
			from = to - s.p.logWindow + 1
		}
		ev, err := query(from, to)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			return ev, nil
		}
		if from == lowest {
			break
		}
		to = from - 1
	}
	return nil, fmt.Errorf("%w: no RewardSnapshot log for interval %d in blocks %d..%d", ErrEventNotFound, index, lowest, hn)
}

func decodeRewardEvent(l types.Log) (*RewardEvent, error) {
	if len(l.Topics) != 2 || (l.Topics[0] != rewardSnapshotEvent.ID && l.Topics[0] != legacyRewardSnapshotEvent.ID) {
		return nil, fmt.Errorf("decode RewardSnapshot log in block %d: unexpected topics", l.BlockNumber)
	}
	legacy := l.Topics[0] == legacyRewardSnapshotEvent.ID
	ev := rewardSnapshotEvent
	if legacy {
		ev = legacyRewardSnapshotEvent
	}
	vals, err := ev.Inputs.NonIndexed().Unpack(l.Data)
	if err != nil || len(vals) != 4 {
		return nil, fmt.Errorf("decode RewardSnapshot log in block %d: %v", l.BlockNumber, err)
	}
	var sub bindings.RewardSubmission
	if legacy {
		var ls legacySubmission
		if err := convert(vals[0], &ls); err != nil {
			return nil, fmt.Errorf("decode legacy RewardSnapshot submission: %w", err)
		}
		sub = bindings.RewardSubmission{RewardIndex: ls.RewardIndex, ExecutionBlock: ls.ExecutionBlock, ConsensusBlock: ls.ConsensusBlock,
			MerkleRoot: ls.MerkleRoot, IntervalsPassed: ls.IntervalsPassed, TreasuryRPL: ls.TreasuryRPL, TreasuryETH: new(big.Int),
			UserETH: ls.UserETH, TrustedNodeRPL: ls.TrustedNodeRPL, NodeRPL: ls.NodeRPL, NodeETH: ls.NodeETH}
	} else if err := convert(vals[0], &sub); err != nil {
		return nil, fmt.Errorf("decode RewardSnapshot submission: %w", err)
	}
	u := func(v any, what string) (uint64, error) {
		x, err := asUint64(v)
		if err != nil {
			return 0, fmt.Errorf("decode RewardSnapshot %s: %w", what, err)
		}
		return x, nil
	}
	out := &RewardEvent{MerkleRoot: sub.MerkleRoot, SmoothingPoolETH: sub.SmoothingPoolETH, TreasuryRPL: sub.TreasuryRPL,
		TreasuryETH: sub.TreasuryETH, UserETH: sub.UserETH, TrustedNodeRPL: sub.TrustedNodeRPL, NodeRPL: sub.NodeRPL,
		NodeETH: sub.NodeETH, LogBlock: l.BlockNumber}
	fields := []struct {
		dst  *uint64
		v    any
		what string
	}{
		{&out.Index, sub.RewardIndex, "rewardIndex"}, {&out.ExecutionBlock, sub.ExecutionBlock, "executionBlock"},
		{&out.ConsensusBlock, sub.ConsensusBlock, "consensusBlock"}, {&out.IntervalsPassed, sub.IntervalsPassed, "intervalsPassed"},
		{&out.IntervalStartTime, vals[1], "intervalStartTime"}, {&out.IntervalEndTime, vals[2], "intervalEndTime"}, {&out.Time, vals[3], "time"},
	}
	for _, f := range fields {
		if *f.dst, err = u(f.v, f.what); err != nil {
			return nil, err
		}
	}
	if idx := new(big.Int).SetBytes(l.Topics[1].Bytes()); !idx.IsUint64() || idx.Uint64() != out.Index {
		return nil, fmt.Errorf("decode RewardSnapshot log in block %d: indexed index %s differs from the submission's %d", l.BlockNumber, idx, out.Index)
	}
	return out, nil
}

// eventYAML is the file form: amounts as decimal strings.
type eventYAML struct {
	Index             uint64   `yaml:"index"`
	ExecutionBlock    uint64   `yaml:"executionBlock"`
	ConsensusBlock    uint64   `yaml:"consensusBlock"`
	MerkleRoot        string   `yaml:"merkleRoot"`
	IntervalsPassed   uint64   `yaml:"intervalsPassed"`
	SmoothingPoolETH  string   `yaml:"smoothingPoolEth"`
	TreasuryRPL       string   `yaml:"treasuryRpl"`
	TreasuryETH       string   `yaml:"treasuryEth"`
	UserETH           string   `yaml:"userEth"`
	TrustedNodeRPL    []string `yaml:"trustedNodeRpl"`
	NodeRPL           []string `yaml:"nodeRpl"`
	NodeETH           []string `yaml:"nodeEth"`
	IntervalStartTime uint64   `yaml:"intervalStartTime"`
	IntervalEndTime   uint64   `yaml:"intervalEndTime"`
	Time              uint64   `yaml:"time"`
	LogBlock          uint64   `yaml:"logBlock"`
}

func decStr(x *big.Int) string {
	if x == nil {
		return "0"
	}
	return x.String()
}

func decStrs(xs []*big.Int) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = decStr(x)
	}
	return out
}

func parseDec(s, what string) (*big.Int, error) {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || x.Sign() < 0 {
		return nil, fmt.Errorf("%s: %q is not a non-negative decimal integer", what, s)
	}
	return x, nil
}

// WriteEventFile writes the event as YAML (atomically).
func WriteEventFile(path string, ev *RewardEvent) error {
	y := eventYAML{Index: ev.Index, ExecutionBlock: ev.ExecutionBlock, ConsensusBlock: ev.ConsensusBlock,
		MerkleRoot: ev.MerkleRoot.Hex(), IntervalsPassed: ev.IntervalsPassed, SmoothingPoolETH: decStr(ev.SmoothingPoolETH),
		TreasuryRPL: decStr(ev.TreasuryRPL), TreasuryETH: decStr(ev.TreasuryETH), UserETH: decStr(ev.UserETH),
		TrustedNodeRPL: decStrs(ev.TrustedNodeRPL), NodeRPL: decStrs(ev.NodeRPL), NodeETH: decStrs(ev.NodeETH),
		IntervalStartTime: ev.IntervalStartTime, IntervalEndTime: ev.IntervalEndTime, Time: ev.Time, LogBlock: ev.LogBlock}
	b, err := yaml.Marshal(&y)
	if err != nil {
		return fmt.Errorf("encode event file: %w", err)
	}
	if err := tree.WriteFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("write event file: %w", err)
	}
	return nil
}

// ReadEventFile reads an event file written by WriteEventFile (strict: unknown fields are errors).
func ReadEventFile(path string) (*RewardEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open event file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var y eventYAML
	if err := dec.Decode(&y); err != nil {
		return nil, fmt.Errorf("decode event file %s: %w", path, err)
	}
	root, herr := hex.DecodeString(strings.TrimPrefix(y.MerkleRoot, "0x"))
	if herr != nil || len(root) != 32 {
		return nil, fmt.Errorf("event file %s: merkleRoot %q is not 32 bytes of hex", path, y.MerkleRoot)
	}
	ev := &RewardEvent{Index: y.Index, ExecutionBlock: y.ExecutionBlock, ConsensusBlock: y.ConsensusBlock,
		MerkleRoot: common.BytesToHash(root), IntervalsPassed: y.IntervalsPassed, IntervalStartTime: y.IntervalStartTime,
		IntervalEndTime: y.IntervalEndTime, Time: y.Time, LogBlock: y.LogBlock}
	for _, p := range []struct {
		dst  **big.Int
		s    string
		what string
	}{{&ev.SmoothingPoolETH, y.SmoothingPoolETH, "smoothingPoolEth"}, {&ev.TreasuryRPL, y.TreasuryRPL, "treasuryRpl"},
		{&ev.TreasuryETH, y.TreasuryETH, "treasuryEth"}, {&ev.UserETH, y.UserETH, "userEth"}} {
		if *p.dst, err = parseDec(p.s, p.what); err != nil {
			return nil, fmt.Errorf("event file %s: %w", path, err)
		}
	}
	for _, p := range []struct {
		dst  *[]*big.Int
		s    []string
		what string
	}{{&ev.TrustedNodeRPL, y.TrustedNodeRPL, "trustedNodeRpl"}, {&ev.NodeRPL, y.NodeRPL, "nodeRpl"}, {&ev.NodeETH, y.NodeETH, "nodeEth"}} {
		for i, s := range p.s {
			x, err := parseDec(s, fmt.Sprintf("%s[%d]", p.what, i))
			if err != nil {
				return nil, fmt.Errorf("event file %s: %w", path, err)
			}
			*p.dst = append(*p.dst, x)
		}
	}
	return ev, nil
}
