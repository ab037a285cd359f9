package scan

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/store"
)

// ActivityProvider tells whether a validator is active in an epoch, i.e.
// has an attestation duty in it. A committees source that knows the
// registry implements it; the scanner uses it to decide whether a unit
// scanned for a smaller validator set must be rescanned (a validator that
// joined the protocol after the unit was scanned but was already active:
// a solo migration). Without it every such unit is rescanned.
type ActivityProvider interface {
	ActiveAt(v phase0.ValidatorIndex, epoch phase0.Epoch) bool
}

// ActiveAt implements ActivityProvider from the state's registry; a
// validator the state does not know is not active.
func (l *LocalCommittees) ActiveAt(v phase0.ValidatorIndex, epoch phase0.Epoch) bool {
	if uint64(v) >= uint64(len(l.registry)) {
		return false
	}
	r := l.registry[v]
	return r.ActivationEpoch <= epoch && epoch < r.ExitEpoch
}

// ActiveAt implements ActivityProvider when the primary source does.
func (c *CheckedCommittees) ActiveAt(v phase0.ValidatorIndex, epoch phase0.Epoch) bool {
	if a, ok := c.Primary.(ActivityProvider); ok {
		return a.ActiveAt(v, epoch)
	}
	return true
}

// validatorSet is a sorted, duplicate-free set of validator indices with its
// digest and membership bits.
type validatorSet struct {
	list   []phase0.ValidatorIndex
	bits   bitset
	digest [32]byte
}

func newValidatorSet(sorted []phase0.ValidatorIndex) *validatorSet {
	h := sha256.New()
	h.Write([]byte("odaowatch/scan/set/v1"))
	var buf [8]byte
	for _, v := range sorted {
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	s := &validatorSet{list: sorted, bits: newBitset(sorted)}
	copy(s.digest[:], h.Sum(nil))
	return s
}

func setKey(d [32]byte) string { return "set/" + hex.EncodeToString(d[:]) }

// encode: count | deltas (uvarint).
func (s *validatorSet) encode() []byte {
	out := binary.AppendUvarint(make([]byte, 0, 8+2*len(s.list)), uint64(len(s.list)))
	last := uint64(0)
	for _, v := range s.list {
		out = binary.AppendUvarint(out, uint64(v)-last)
		last = uint64(v)
	}
	return out
}

func decodeValidatorSet(b []byte, want [32]byte) (*validatorSet, error) {
	r := &reader{b: b}
	n := r.count(1)
	list := make([]phase0.ValidatorIndex, 0, n)
	last := uint64(0)
	for i := range n {
		d := r.uvarint()
		if i > 0 && d == 0 {
			r.err = errors.New("validator listed twice")
		}
		last += d
		list = append(list, phase0.ValidatorIndex(last))
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode stored validator set: %w", r.err)
	}
	s := newValidatorSet(list)
	if s.digest != want {
		return nil, fmt.Errorf("stored validator set %x has digest %x", want[:8], s.digest[:8])
	}
	return s, nil
}

// BlobStore is implemented by stores that keep named values per run
// (chain/store.Store and the in-memory store); the scanner keeps the
// validator sets its units were scanned for there.
type BlobStore interface {
	PutBlob(run, key string, value []byte) error
	Blob(run, key string) ([]byte, bool, error)
}

// ReplacingStore can overwrite a stored epoch (a rescan).
type ReplacingStore interface {
	ReplaceEpoch(run string, epoch uint64, result []byte) error
}

var (
	_ BlobStore      = (*store.Store)(nil)
	_ ReplacingStore = (*store.Store)(nil)
)

// unitPlan is what a scan has to do over block epochs first..last.
type unitPlan struct {
	pending []uint64        // units to scan, ascending
	replace map[uint64]bool // pending units that replace a stored unit
	kept    int
}

// planUnits decides, for block epochs first..last, which units are missing
// and which stored units were scanned for a set lacking a validator of set
// that had a duty the unit covers (duty epochs b-1 when b > start, and b
// when b <= dutyEnd). Such units are rescanned for set.
func (s *Scanner) planUnits(ctx context.Context, run string, start, first, last, dutyEnd uint64, set *validatorSet) (*unitPlan, error) {
	bs, _ := s.p.store.(BlobStore)
	activity, _ := s.p.committees.(ActivityProvider)
	missingOf := map[[32]byte][]phase0.ValidatorIndex{set.digest: nil}
	stored := map[uint64]bool{}
	p := &unitPlan{replace: map[uint64]bool{}}
	err := s.p.store.Epochs(run, func(e store.Epoch) error {
		if e.Epoch < first || e.Epoch > last {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := unitSet(e.Result)
		if err != nil {
			return fmt.Errorf("epoch %d: %w", e.Epoch, err)
		}
		missing, ok := missingOf[d]
		if !ok {
			var old *validatorSet
			if bs != nil {
				raw, found, err := bs.Blob(run, setKey(d))
				if err != nil {
					return err
				}
				if found {
					if old, err = decodeValidatorSet(raw, d); err != nil {
						return err
					}
				}
			}
			if old == nil {
				// Unknown set: treat every validator as missing.
				missing = set.list
			} else {
				for _, v := range set.list {
					if !old.bits.has(v) {
						missing = append(missing, v)
					}
				}
			}
			missingOf[d] = missing
		}
		stored[e.Epoch] = true
		if needsRescan(missing, activity, start, e.Epoch, dutyEnd) {
			p.replace[e.Epoch] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan units: %w", err)
	}
	for b := first; b <= last; b++ {
		if !stored[b] || p.replace[b] {
			p.pending = append(p.pending, b)
		} else {
			p.kept++
		}
	}
	if len(p.replace) > 0 {
		if _, ok := s.p.store.(ReplacingStore); !ok {
			return nil, errors.New("plan units: stored units need a rescan for new validators but the store cannot replace epochs")
		}
	}
	return p, nil
}

// needsRescan: some missing validator has a duty in a duty epoch unit b covers.
func needsRescan(missing []phase0.ValidatorIndex, activity ActivityProvider, start, b, dutyEnd uint64) bool {
	if len(missing) == 0 {
		return false
	}
	if activity == nil {
		return true
	}
	for _, v := range missing {
		if b > start && b-1 <= dutyEnd && activity.ActiveAt(v, phase0.Epoch(b-1)) {
			return true
		}
		if b <= dutyEnd && activity.ActiveAt(v, phase0.Epoch(b)) {
			return true
		}
	}
	return false
}

// saveSet stores the set under its digest (once per run and set).
func (s *Scanner) saveSet(run string, set *validatorSet) error {
	bs, ok := s.p.store.(BlobStore)
	if !ok {
		return nil
	}
	if _, found, err := bs.Blob(run, setKey(set.digest)); err != nil || found {
		return err
	}
	return bs.PutBlob(run, setKey(set.digest), set.encode())
}
