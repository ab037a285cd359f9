package beacon

import (
	"crypto/sha256"
	"encoding/binary"
)

// Purposes keep the keyed streams apart.
const (
	purposeMiss uint64 = iota + 1
	purposeProposer
	purposeAttest
	purposeLate
	purposeLateDelay
	purposeMEV
	purposeBuilder
	purposeSkim
	purposeBalance
	purposeRandao
	purposeBlockRoot
	purposeStateRoot
	purposeELHash
	purposePubkey
	purposeFeeRecipient
	purposeSignature
	purposeMEVValue
	purposeGVR
	purposeSyncCommittee
)

// ppmScale is the resolution of scenario rates (parts per million).
const ppmScale = 1_000_000

// splitmix64 finaliser: a fast, well-mixed 64-bit permutation.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// draw returns a deterministic 64-bit value for (seed, purpose, a, b).
func draw(seed, purpose, a, b uint64) uint64 {
	return drawKeyed(drawKey(seed, purpose), a, b)
}

// drawKey is the part of draw that depends on (seed, purpose) only, for hot
// loops: draw(seed, purpose, a, b) == drawKeyed(drawKey(seed, purpose), a, b).
func drawKey(seed, purpose uint64) uint64 { return mix64(seed ^ purpose*0x632be59bd9b4e019) }

// drawKeyed finishes draw from its key.
func drawKeyed(key, a, b uint64) uint64 { return mix64(mix64(key^a) ^ b) }

// chance reports whether a draw falls under a rate in ppm.
func chance(seed, purpose, a, b, ppm uint64) bool {
	if ppm >= ppmScale {
		return true
	}
	return draw(seed, purpose, a, b)%ppmScale < ppm
}

// hash32 returns a 32-byte deterministic value for (seed, purpose, a).
func hash32(seed, purpose, a uint64) [32]byte {
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], seed)
	binary.LittleEndian.PutUint64(buf[8:], purpose)
	binary.LittleEndian.PutUint64(buf[16:], a)
	return sha256.Sum256(buf[:])
}

// fill writes deterministic bytes into out.
func fill(out []byte, seed, purpose, a uint64) {
	for off, ctr := 0, uint64(0); off < len(out); ctr++ {
		h := hash32(seed, purpose, a^(ctr<<48))
		off += copy(out[off:], h[:])
	}
}
