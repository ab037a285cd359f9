// Package shuffle implements the consensus-layer committee computation:
// the "swap-or-not" shuffle (compute_shuffled_index and a whole-list
// variant), active validator indices, attester seeds from randao mixes and
// beacon committees per slot.
//
// The attestation scanner uses it to derive every committee of an interval
// from a single beacon state instead of asking a node once per epoch.
package shuffle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// MaxShuffleListSize is the largest list the shuffle accepts (2^40, as the spec).
const MaxShuffleListSize = uint64(1) << 40

// ErrListTooLarge is returned for a list size at or beyond 2^40.
var ErrListTooLarge = errors.New("shuffle list too large")

// ComputeShuffledIndex returns the position that index moves to in the
// spec's compute_shuffled_index(index, count, seed) with the given number
// of rounds (SHUFFLE_ROUND_COUNT; 90 on mainnet).
func ComputeShuffledIndex(index, count uint64, seed [32]byte, rounds uint8) (uint64, error) {
	if count == 0 {
		return 0, errors.New("compute shuffled index: count is zero")
	}
	if count >= MaxShuffleListSize {
		return 0, fmt.Errorf("compute shuffled index: %w: %d", ErrListTooLarge, count)
	}
	if index >= count {
		return 0, fmt.Errorf("compute shuffled index: index %d out of range for count %d", index, count)
	}
	var buf [32 + 1 + 4]byte
	copy(buf[:32], seed[:])
	for r := uint8(0); r < rounds; r++ {
		buf[32] = r
		pivot := pivotOf(buf[:33], count)
		flip := (pivot + count - index) % count
		pos := max(index, flip)
		binary.LittleEndian.PutUint32(buf[33:], uint32(pos>>8))
		src := sha256.Sum256(buf[:])
		if (src[(pos&0xff)>>3]>>(pos&7))&1 == 1 {
			index = flip
		}
	}
	return index, nil
}

func pivotOf(seedRound []byte, count uint64) uint64 {
	h := sha256.Sum256(seedRound)
	return binary.LittleEndian.Uint64(h[:8]) % count
}

// ShuffleList returns out with out[i] = list[compute_shuffled_index(i, len(list), seed)],
// i.e. the order in which compute_committee reads the active indices: the
// committee k of c is out[n*k/c : n*(k+1)/c]. The input is not modified.
// Cost: rounds * (n/2 swaps + n/256 hashes).
func ShuffleList[T any](list []T, seed [32]byte, rounds uint8) ([]T, error) {
	out := make([]T, len(list))
	copy(out, list)
	if err := ShuffleListInPlace(out, seed, rounds); err != nil {
		return nil, err
	}
	return out, nil
}

// ShuffleListInPlace is ShuffleList working on list itself.
//
// compute_shuffled_index is the composition f_{R-1}(...f_0(i)) of involutions
// f_r (each swaps the pair (i, flip) when the bit at max(i, flip) is set), so
// out[i] = list[perm(i)] is reached by applying the pair swaps of rounds R-1
// down to 0 to the list.
func ShuffleListInPlace[T any](list []T, seed [32]byte, rounds uint8) error {
	n := uint64(len(list))
	if n >= MaxShuffleListSize {
		return fmt.Errorf("shuffle list: %w: %d", ErrListTooLarge, n)
	}
	if n <= 1 {
		return nil
	}
	var buf [32 + 1 + 4]byte
	copy(buf[:32], seed[:])
	for ri := int(rounds) - 1; ri >= 0; ri-- {
		buf[32] = uint8(ri)
		pivot := pivotOf(buf[:33], n)
		// Pairs (i, pivot-i) with i < pivot-i: position is pivot-i (descending).
		// Pairs (i, pivot+n-i) with pivot < i < pivot+n-i: position is pivot+n-i.
		if u, ok := any(list).([]uint64); ok {
			swapPairsU64(u, &buf, 0, pivot)
			swapPairsU64(u, &buf, pivot+1, pivot+n-(pivot+1))
		} else if u, ok := any(list).([]phase0.ValidatorIndex); ok {
			swapPairsU64(u, &buf, 0, pivot)
			swapPairsU64(u, &buf, pivot+1, pivot+n-(pivot+1))
		} else {
			swapPairs(list, &buf, 0, pivot)
			swapPairs(list, &buf, pivot+1, pivot+n-(pivot+1))
		}
	}
	return nil
}

// swapPairs walks i up from i0 and flip down from flip0 while i < flip,
// swapping list[i] and list[flip] when the round's bit at position flip is set.
// buf holds seed ‖ round; the hash source is recomputed once per 256 positions.
func swapPairs[T any](list []T, buf *[37]byte, i0, flip0 uint64) {
	i, flip := i0, flip0
	if i >= flip {
		return
	}
	binary.LittleEndian.PutUint32(buf[33:], uint32(flip>>8))
	src := sha256.Sum256(buf[:])
	for {
		if (src[(flip&0xff)>>3]>>(flip&7))&1 == 1 {
			list[i], list[flip] = list[flip], list[i]
		}
		i++
		flip--
		if i >= flip {
			return
		}
		if flip&0xff == 0xff {
			binary.LittleEndian.PutUint32(buf[33:], uint32(flip>>8))
			src = sha256.Sum256(buf[:])
		}
	}
}

// swapPairsU64 is swapPairs without a data-dependent branch (the bits are
// random, so a branch mispredicts half the time), eight pairs per hash byte
// with the byte's swap masks from a table (1.1M validators: 87 -> 56 ms).
func swapPairsU64[T ~uint32 | ~uint64](list []T, buf *[37]byte, i0, flip0 uint64) {
	i, flip := i0, flip0
	if i >= flip {
		return
	}
	binary.LittleEndian.PutUint32(buf[33:], uint32(flip>>8))
	src := sha256.Sum256(buf[:])
	for {
		// Eight pairs per bit byte when flip is the top position of a byte
		// and all eight pairs are left (i+7 < flip-7).
		for flip&7 == 7 && i+14 < flip {
			bits := T(src[(flip&0xff)>>3])
			lo := list[i : i+8 : i+8]
			hi := list[flip-7 : flip+1 : flip+1]
			_, _ = lo[7], hi[7]
			m := &byteMasks[bits&0xff]
			x0 := (lo[0] ^ hi[7]) & T(m[0])
			lo[0], hi[7] = lo[0]^x0, hi[7]^x0
			x1 := (lo[1] ^ hi[6]) & T(m[1])
			lo[1], hi[6] = lo[1]^x1, hi[6]^x1
			x2 := (lo[2] ^ hi[5]) & T(m[2])
			lo[2], hi[5] = lo[2]^x2, hi[5]^x2
			x3 := (lo[3] ^ hi[4]) & T(m[3])
			lo[3], hi[4] = lo[3]^x3, hi[4]^x3
			x4 := (lo[4] ^ hi[3]) & T(m[4])
			lo[4], hi[3] = lo[4]^x4, hi[3]^x4
			x5 := (lo[5] ^ hi[2]) & T(m[5])
			lo[5], hi[2] = lo[5]^x5, hi[2]^x5
			x6 := (lo[6] ^ hi[1]) & T(m[6])
			lo[6], hi[1] = lo[6]^x6, hi[1]^x6
			x7 := (lo[7] ^ hi[0]) & T(m[7])
			lo[7], hi[0] = lo[7]^x7, hi[0]^x7
			i += 8
			flip -= 8
			if flip&0xff == 0xff {
				binary.LittleEndian.PutUint32(buf[33:], uint32(flip>>8))
				src = sha256.Sum256(buf[:])
			}
		}
		if i >= flip {
			return
		}
		mask := -T((src[(flip&0xff)>>3] >> (flip & 7)) & 1)
		a, b := list[i], list[flip]
		x := (a ^ b) & mask
		list[i], list[flip] = a^x, b^x
		i++
		flip--
		if i >= flip {
			return
		}
		if flip&0xff == 0xff {
			binary.LittleEndian.PutUint32(buf[33:], uint32(flip>>8))
			src = sha256.Sum256(buf[:])
		}
	}
}

// byteMasks[b][t] is all ones when bit 7-t of b is set.
var byteMasks = func() (m [256][8]uint64) {
	for b := range 256 {
		for t := range 8 {
			if b>>(7-t)&1 == 1 {
				m[b][t] = ^uint64(0)
			}
		}
	}
	return m
}()
