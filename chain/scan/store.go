package scan

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"

	"github.com/odaowatch/watchtower/chain/store"
)

// Store keeps per-epoch results (chain/store.Store implements it).
type Store interface {
	OpenRun(run string, first uint64, meta []byte) (uint64, error)
	PutEpoch(run string, epoch uint64, result []byte) error
	Epochs(run string, fn func(store.Epoch) error) error
}

var _ Store = (*store.Store)(nil)

// memStore is the default Store: in memory, nothing survives the process.
type memStore struct {
	mu   sync.Mutex
	runs map[string]map[uint64][]byte
	meta map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{runs: map[string]map[uint64][]byte{}, meta: map[string][]byte{}}
}

func (m *memStore) OpenRun(run string, first uint64, meta []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.meta[run]; ok && !bytes.Equal(old, meta) {
		return 0, fmt.Errorf("run %s: %w", run, store.ErrRunMismatch)
	}
	if _, ok := m.runs[run]; !ok {
		m.runs[run] = map[uint64][]byte{}
		m.meta[run] = slices.Clone(meta)
	}
	wm := first
	for m.runs[run][wm] != nil {
		wm++
	}
	return wm, nil
}

func (m *memStore) PutEpoch(run string, epoch uint64, result []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[run]
	if !ok {
		return fmt.Errorf("run %s not opened", run)
	}
	if old, ok := r[epoch]; ok && !bytes.Equal(old, result) {
		return fmt.Errorf("store epoch %d: different result already stored", epoch)
	}
	r[epoch] = slices.Clone(result)
	return nil
}

func (m *memStore) Epochs(run string, fn func(store.Epoch) error) error {
	m.mu.Lock()
	r := m.runs[run]
	keys := make([]uint64, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		m.mu.Lock()
		v := r[k]
		m.mu.Unlock()
		if err := fn(store.Epoch{Epoch: k, Digest: sha256.Sum256(v), Result: v}); err != nil {
			return err
		}
	}
	return nil
}
