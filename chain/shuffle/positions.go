package shuffle

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// InversePositions returns, for each active-list position j of js, the
// shuffled position i with compute_shuffled_index(i, n, seed) == j, so that
// ShuffleList(list)[InversePositions(js)[k]] == list[js[k]].
//
// compute_shuffled_index applies the involutions f_0 … f_{R-1}; its inverse
// applies them in the order f_{R-1} … f_0. Each round's hash chunks (one per
// 256 positions) are computed at most once and only when a position needs
// them, so the cost is rounds × (len(js) steps + at most n/512 hashes): for a
// few percent of a large registry this is several times cheaper than
// shuffling the whole list.
func InversePositions(js []uint64, n uint64, seed [32]byte, rounds uint8) ([]uint64, error) {
	if n >= MaxShuffleListSize {
		return nil, fmt.Errorf("inverse positions: %w: %d", ErrListTooLarge, n)
	}
	out := slices.Clone(js)
	for _, j := range out {
		if j >= n {
			return nil, fmt.Errorf("inverse positions: position %d out of range for %d validators", j, n)
		}
	}
	if n <= 1 || len(out) == 0 {
		return out, nil
	}
	chunks := (n + 255) / 256
	cache := make([][32]byte, chunks)
	var buf [32 + 1 + 4]byte
	copy(buf[:32], seed[:])
	hash := func(lo, hi uint64) { // the chunks of positions lo..hi
		for c := lo >> 8; c <= hi>>8; c++ {
			binary.LittleEndian.PutUint32(buf[33:], uint32(c))
			cache[c] = sha256.Sum256(buf[:])
		}
	}
	for ri := int(rounds) - 1; ri >= 0; ri-- {
		buf[32] = uint8(ri)
		pivot := pivotOf(buf[:33], n)
		// The bit is read at max(x, flip): in [ceil(pivot/2), pivot] for
		// x <= pivot, in [ceil((pivot+n)/2), n-1] otherwise. With many
		// positions nearly every chunk of those ranges is needed.
		if len(out) >= int(chunks) {
			hash((pivot+1)/2, pivot)
			if pivot+1 < n {
				hash((pivot+n+1)/2, n-1)
			}
		} else {
			clear(cache)
		}
		for k, x := range out {
			// flip = (pivot + n - x) mod n without branches (the bits and
			// the side of the pivot are random, so branches mispredict).
			d := pivot - x
			flip := d + (n & uint64(int64(d)>>63))
			pos := max(x, flip)
			c := pos >> 8
			if len(out) < int(chunks) && cache[c] == ([32]byte{}) {
				binary.LittleEndian.PutUint32(buf[33:], uint32(c))
				cache[c] = sha256.Sum256(buf[:])
			}
			bit := uint64(cache[c][(pos&0xff)>>3]>>(pos&7)) & 1
			out[k] = x ^ ((x ^ flip) & -bit)
		}
	}
	return out, nil
}

// Member is one selected validator's place in an epoch's committees.
type Member struct {
	Validator phase0.ValidatorIndex
	// Position in the epoch's shuffled order (EpochCommittees.Shuffled).
	Position uint64
}

// EpochMembers is the committee layout of an epoch and the places of some
// of its validators only.
type EpochMembers struct {
	Epoch             phase0.Epoch
	SlotsPerEpoch     uint64
	CommitteesPerSlot uint64
	// Active is the number of active validators (the length of the shuffled list).
	Active uint64
	// Members are the selected active validators, by ascending Position.
	Members []Member
}

// ComputeMembers gives the same places as Compute for the active validators
// that want selects, without shuffling the whole list.
func (s Spec) ComputeMembers(epoch phase0.Epoch, active []phase0.ValidatorIndex, seed [32]byte, want func(phase0.ValidatorIndex) bool) (*EpochMembers, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var js []uint64
	for i, v := range active {
		if i > 0 && v <= active[i-1] {
			return nil, fmt.Errorf("committees of epoch %d: active indices not strictly ascending at position %d", epoch, i)
		}
		if want(v) {
			js = append(js, uint64(i))
		}
	}
	pos, err := InversePositions(js, uint64(len(active)), seed, s.ShuffleRoundCount)
	if err != nil {
		return nil, fmt.Errorf("shuffle epoch %d: %w", epoch, err)
	}
	members := make([]Member, len(js))
	for k, j := range js {
		members[k] = Member{Validator: active[j], Position: pos[k]}
	}
	slices.SortFunc(members, func(a, b Member) int {
		switch {
		case a.Position < b.Position:
			return -1
		case a.Position > b.Position:
			return 1
		}
		return 0
	})
	return &EpochMembers{
		Epoch: epoch, SlotsPerEpoch: s.SlotsPerEpoch, CommitteesPerSlot: s.CommitteesPerSlot(uint64(len(active))),
		Active: uint64(len(active)), Members: members,
	}, nil
}
