package tree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// SSZ rewards file layouts (formats.md §3). Integers are little-endian;
// current files also write every uint256 little-endian, while the RPIP-52
// sample file writes them big-endian (see ByteOrder).
var (
	MagicV3 = [4]byte{'R', 'P', 'R', 'T'} // rewards file version 3
	MagicV4 = [4]byte{'R', 'P', 'R', 'U'} // rewards file version 4
)

const (
	sszHeaderSize      = 92                   // magic … intervals_passed
	sszFixedV3         = 92 + 32 + 7*32 + 2*4 // 356
	sszFixedV4         = 92 + 32 + 9*32 + 2*4 // 420
	sszNetworkElemSize = 8 + 3*32             // 104
	sszNodeElemV3      = 20 + 8 + 3*32        // 124
	sszNodeElemV4      = 20 + 8 + 4*32        // 156
	sszMaxNetworks     = 128
)

// ByteOrder of uint256 values in an SSZ rewards file.
type ByteOrder int

const (
	// LittleEndian is what the reference writes (and the SSZ spec says).
	LittleEndian ByteOrder = iota
	// BigEndian is the layout of the RPIP-52 sample file.
	BigEndian
)

func (o ByteOrder) String() string {
	if o == BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

// IsSSZRewards reports whether data starts with an SSZ rewards file magic.
func IsSSZRewards(data []byte) bool {
	return len(data) >= 4 && (bytes.Equal(data[:4], MagicV3[:]) || bytes.Equal(data[:4], MagicV4[:]))
}

// MarshalSSZ encodes the file as SSZ version 3 or 4 with little-endian
// uint256 values. Only versions 3 and 4 have an SSZ form; the JSON-only
// totals (totalProtocolDaoEth, totalPdaoShareEth) and the proofs are not part
// of the layout.
func (f *RewardsFile) MarshalSSZ() ([]byte, error) {
	var magic [4]byte
	var fixed, nodeSize, nTotals int
	switch f.RewardsFileVersion {
	case 3:
		magic, fixed, nodeSize, nTotals = MagicV3, sszFixedV3, sszNodeElemV3, 7
	case 4:
		magic, fixed, nodeSize, nTotals = MagicV4, sszFixedV4, sszNodeElemV4, 9
	default:
		return nil, fmt.Errorf("encode SSZ: rewards file version %d has no SSZ form (only 3 and 4)", f.RewardsFileVersion)
	}
	chainID, err := f.ChainID()
	if err != nil {
		return nil, fmt.Errorf("encode SSZ: %w", err)
	}
	if len(f.NetworkRewards) > sszMaxNetworks {
		return nil, fmt.Errorf("encode SSZ: %d network entries exceed the limit of %d", len(f.NetworkRewards), sszMaxNetworks)
	}
	if err := f.checkSorted(); err != nil {
		return nil, fmt.Errorf("encode SSZ: %w", err)
	}
	totals := []*BigInt{&f.TotalRewards.ProtocolDaoRpl, &f.TotalRewards.TotalCollateralRpl, &f.TotalRewards.TotalOracleDaoRpl,
		&f.TotalRewards.TotalSmoothingPoolEth, &f.TotalRewards.PoolStakerSmoothingPoolEth, &f.TotalRewards.NodeOperatorSmoothingPoolEth,
		f.TotalRewards.TotalNodeWeight}
	if nTotals == 9 {
		totals = append(totals, f.TotalRewards.TotalVoterShareEth, f.TotalRewards.SmoothingPoolVoterShareEth)
	}
	size := fixed + len(f.NetworkRewards)*sszNetworkElemSize + len(f.NodeRewards)*nodeSize
	out := make([]byte, 0, size)
	out = append(out, magic[:]...)
	for _, v := range []uint64{f.RewardsFileVersion, f.RulesetVersion, chainID, f.Index,
		uint64(f.StartTime.Unix()), uint64(f.EndTime.Unix()), f.ConsensusStartBlock, f.ConsensusEndBlock,
		f.ExecutionStartBlock, f.ExecutionEndBlock, f.IntervalsPassed} {
		out = binary.LittleEndian.AppendUint64(out, v)
	}
	out = append(out, f.MerkleRoot[:]...)
	for _, t := range totals {
		var x *big.Int
		if t != nil {
			x = t.Ref()
		}
		if out, err = appendUint256LE(out, x); err != nil {
			return nil, fmt.Errorf("encode SSZ totals: %w", err)
		}
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(fixed))
	out = binary.LittleEndian.AppendUint32(out, uint32(fixed+len(f.NetworkRewards)*sszNetworkElemSize))
	for _, n := range f.NetworkRewards {
		out = binary.LittleEndian.AppendUint64(out, n.Network)
		for _, x := range []*BigInt{&n.CollateralRpl, &n.OracleDaoRpl, &n.SmoothingPoolEth} {
			if out, err = appendUint256LE(out, x.Ref()); err != nil {
				return nil, fmt.Errorf("encode SSZ network %d: %w", n.Network, err)
			}
		}
	}
	for i := range f.NodeRewards {
		n := &f.NodeRewards[i]
		out = append(out, n.Address[:]...)
		out = binary.LittleEndian.AppendUint64(out, n.RewardNetwork)
		vals := []*BigInt{&n.CollateralRpl, &n.OracleDaoRpl, &n.SmoothingPoolEth}
		if nodeSize == sszNodeElemV4 {
			vals = append(vals, &n.VoterShareEth)
		} else if n.VoterShareEth.Ref().Sign() != 0 {
			return nil, fmt.Errorf("encode SSZ: node %s has a voter share, which version 3 cannot hold", n.Address.Hex())
		}
		for _, x := range vals {
			if out, err = appendUint256LE(out, x.Ref()); err != nil {
				return nil, fmt.Errorf("encode SSZ node %s: %w", n.Address.Hex(), err)
			}
		}
	}
	return out, nil
}

func appendUint256LE(out []byte, x *big.Int) ([]byte, error) {
	var buf [32]byte
	if x != nil {
		if x.Sign() < 0 || x.BitLen() > 256 {
			return nil, ErrAmountTooLarge
		}
		x.FillBytes(buf[:])
	}
	for i := 31; i >= 0; i-- {
		out = append(out, buf[i])
	}
	return out, nil
}

func readUint256(b []byte, o ByteOrder) BigInt {
	var buf [32]byte
	copy(buf[:], b[:32])
	if o == LittleEndian {
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			buf[i], buf[j] = buf[j], buf[i]
		}
	}
	var v BigInt
	v.v.SetBytes(buf[:])
	return v
}

func (f *RewardsFile) checkSorted() error {
	for i := 1; i < len(f.NodeRewards); i++ {
		if bytes.Compare(f.NodeRewards[i-1].Address[:], f.NodeRewards[i].Address[:]) >= 0 {
			return fmt.Errorf("node entries not sorted and unique at %s", f.NodeRewards[i].Address.Hex())
		}
	}
	for i := 1; i < len(f.NetworkRewards); i++ {
		if f.NetworkRewards[i-1].Network >= f.NetworkRewards[i].Network {
			return fmt.Errorf("network entries not sorted and unique at network %d", f.NetworkRewards[i].Network)
		}
	}
	return nil
}

// ErrBadSSZ wraps every structural SSZ decoding error.
var ErrBadSSZ = errors.New("malformed SSZ rewards file")

// ParseRewardsSSZ decodes an SSZ rewards file. uint256 values are read
// little-endian; if the rebuilt Merkle root does not match that way but does
// when read big-endian (the RPIP-52 sample layout), the big-endian reading is
// returned. The byte order used is returned too.
func ParseRewardsSSZ(data []byte) (*RewardsFile, ByteOrder, error) {
	f, err := decodeSSZ(data, LittleEndian)
	if err != nil {
		return nil, LittleEndian, err
	}
	if t, err := f.BuildTree(); err == nil && t.Root() == f.MerkleRoot {
		return f, LittleEndian, nil
	}
	if g, err := decodeSSZ(data, BigEndian); err == nil {
		if t, err := g.BuildTree(); err == nil && t.Root() == g.MerkleRoot {
			return g, BigEndian, nil
		}
	}
	// Neither order verifies: return the standard reading; verification will
	// report the root mismatch.
	return f, LittleEndian, nil
}

func decodeSSZ(data []byte, order ByteOrder) (*RewardsFile, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSSZ, fmt.Sprintf(format, a...))
	}
	if len(data) < 4 {
		return nil, bad("%d bytes is too short for a magic", len(data))
	}
	var fixed, nodeSize, nTotals int
	var wantVersion uint64
	switch {
	case bytes.Equal(data[:4], MagicV3[:]):
		fixed, nodeSize, nTotals, wantVersion = sszFixedV3, sszNodeElemV3, 7, 3
	case bytes.Equal(data[:4], MagicV4[:]):
		fixed, nodeSize, nTotals, wantVersion = sszFixedV4, sszNodeElemV4, 9, 4
	default:
		return nil, bad("unknown magic %x (want RPRT or RPRU)", data[:4])
	}
	if len(data) < fixed {
		return nil, bad("%d bytes is shorter than the %d-byte fixed part", len(data), fixed)
	}
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(data[off : off+8]) }
	f := &RewardsFile{
		RewardsFileVersion:  u64(4),
		RulesetVersion:      u64(12),
		HasRulesetVersion:   true,
		Index:               u64(28),
		StartTime:           time.Unix(int64(u64(36)), 0).UTC(),
		EndTime:             time.Unix(int64(u64(44)), 0).UTC(),
		ConsensusStartBlock: u64(52),
		ConsensusEndBlock:   u64(60),
		ExecutionStartBlock: u64(68),
		ExecutionEndBlock:   u64(76),
		IntervalsPassed:     u64(84),
	}
	if f.RewardsFileVersion != wantVersion {
		return nil, bad("magic %q says version %d but the header says %d", data[:4], wantVersion, f.RewardsFileVersion)
	}
	f.Network = NetworkForChainID(u64(20))
	copy(f.MerkleRoot[:], data[92:124])
	totals := make([]BigInt, nTotals)
	for i := range totals {
		totals[i] = readUint256(data[124+32*i:], order)
	}
	weight := totals[6]
	f.TotalRewards = TotalRewards{ProtocolDaoRpl: totals[0], TotalCollateralRpl: totals[1], TotalOracleDaoRpl: totals[2],
		TotalSmoothingPoolEth: totals[3], PoolStakerSmoothingPoolEth: totals[4], NodeOperatorSmoothingPoolEth: totals[5],
		TotalNodeWeight: &weight}
	if nTotals == 9 {
		v, s := totals[7], totals[8]
		f.TotalRewards.TotalVoterShareEth, f.TotalRewards.SmoothingPoolVoterShareEth = &v, &s
		// Not in the SSZ layout: written as "null" in JSON.
		pdao := NullBigInt()
		f.TotalRewards.TotalPdaoShareEth = &pdao
	}
	offNet := int(binary.LittleEndian.Uint32(data[fixed-8:]))
	offNode := int(binary.LittleEndian.Uint32(data[fixed-4:]))
	if offNet != fixed {
		return nil, bad("network_rewards offset %d, want %d", offNet, fixed)
	}
	if offNode < offNet || offNode > len(data) {
		return nil, bad("node_rewards offset %d outside [%d, %d]", offNode, offNet, len(data))
	}
	if (offNode-offNet)%sszNetworkElemSize != 0 {
		return nil, bad("network_rewards is %d bytes, not a multiple of %d", offNode-offNet, sszNetworkElemSize)
	}
	if (len(data)-offNode)%nodeSize != 0 {
		return nil, bad("node_rewards is %d bytes, not a multiple of %d", len(data)-offNode, nodeSize)
	}
	nNet := (offNode - offNet) / sszNetworkElemSize
	if nNet > sszMaxNetworks {
		return nil, bad("%d network entries exceed the limit of %d", nNet, sszMaxNetworks)
	}
	for i := 0; i < nNet; i++ {
		e := data[offNet+i*sszNetworkElemSize:]
		f.NetworkRewards = append(f.NetworkRewards, NetworkReward{Network: binary.LittleEndian.Uint64(e),
			CollateralRpl: readUint256(e[8:], order), OracleDaoRpl: readUint256(e[40:], order), SmoothingPoolEth: readUint256(e[72:], order)})
	}
	nNode := (len(data) - offNode) / nodeSize
	f.NodeRewards = make([]NodeReward, nNode)
	for i := 0; i < nNode; i++ {
		e := data[offNode+i*nodeSize:]
		n := &f.NodeRewards[i]
		n.Address = common.BytesToAddress(e[:20])
		n.RewardNetwork = binary.LittleEndian.Uint64(e[20:])
		n.CollateralRpl = readUint256(e[28:], order)
		n.OracleDaoRpl = readUint256(e[60:], order)
		n.SmoothingPoolEth = readUint256(e[92:], order)
		if nodeSize == sszNodeElemV4 {
			n.VoterShareEth = readUint256(e[124:], order)
		}
	}
	if err := f.checkSorted(); err != nil {
		return nil, bad("%v", err)
	}
	return f, nil
}
