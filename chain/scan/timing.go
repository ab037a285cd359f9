package scan

import (
	"errors"
	"fmt"
)

// Interval timing (rewards-rules.md §2), pure integer functions. Times are
// Unix seconds; slots and epochs are plain integers.

// IntervalsPassed is floor((stateTime - startTime) / intervalTime), 0 when
// stateTime is before startTime.
func IntervalsPassed(stateTime, startTime, intervalTime uint64) (uint64, error) {
	if intervalTime == 0 {
		return 0, errors.New("intervals passed: interval time is zero")
	}
	if stateTime < startTime {
		return 0, nil
	}
	return (stateTime - startTime) / intervalTime, nil
}

// IntervalEndTime is startTime + intervalTime * intervalsPassed.
func IntervalEndTime(startTime, intervalTime, intervalsPassed uint64) uint64 {
	return startTime + intervalTime*intervalsPassed
}

// SlotTime is genesisTime + slot * secondsPerSlot.
func SlotTime(genesisTime, secondsPerSlot, slot uint64) uint64 {
	return genesisTime + slot*secondsPerSlot
}

// TargetSlot is ceil((endTime - genesisTime) / secondsPerSlot).
func TargetSlot(endTime, genesisTime, secondsPerSlot uint64) (uint64, error) {
	if secondsPerSlot == 0 {
		return 0, errors.New("target slot: seconds per slot is zero")
	}
	if endTime < genesisTime {
		return 0, fmt.Errorf("target slot: end time %d before genesis %d", endTime, genesisTime)
	}
	d := endTime - genesisTime
	return (d + secondsPerSlot - 1) / secondsPerSlot, nil
}

// SnapshotSlot is the last slot of the target slot's epoch.
func SnapshotSlot(targetSlot, slotsPerEpoch uint64) uint64 {
	return targetSlot/slotsPerEpoch*slotsPerEpoch + slotsPerEpoch - 1
}

// FinalizedEnough reports whether the epoch after the target epoch is
// finalized (finalizedEpoch >= targetEpoch + 1), the wait before generation.
func FinalizedEnough(finalizedEpoch, targetSlot, slotsPerEpoch uint64) bool {
	return finalizedEpoch >= targetSlot/slotsPerEpoch+1
}

// ConsensusStartSlot is the first slot of the epoch after the previous
// interval's consensus (snapshot) block.
func ConsensusStartSlot(previousConsensusBlock, slotsPerEpoch uint64) uint64 {
	return (previousConsensusBlock/slotsPerEpoch + 1) * slotsPerEpoch
}

// EpochRange gives the scan's epochs: duties in epochs startEpoch..endEpoch,
// blocks of epochs startEpoch..lastBlockEpoch (= endEpoch + 1).
func EpochRange(consensusStartBlock, consensusEndBlock, slotsPerEpoch uint64) (startEpoch, endEpoch, lastBlockEpoch uint64, err error) {
	if slotsPerEpoch == 0 {
		return 0, 0, 0, errors.New("epoch range: slots per epoch is zero")
	}
	if consensusEndBlock < consensusStartBlock {
		return 0, 0, 0, fmt.Errorf("epoch range: end block %d before start block %d", consensusEndBlock, consensusStartBlock)
	}
	startEpoch, endEpoch = consensusStartBlock/slotsPerEpoch, consensusEndBlock/slotsPerEpoch
	return startEpoch, endEpoch, endEpoch + 1, nil
}
