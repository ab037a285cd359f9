// Package store is the scanner's crash-safe, embedded store (bbolt).
//
// Results are kept per run (one scan of one interval with one set of
// parameters) and per epoch. Every epoch result is written together with its
// digest and the run's watermark in ONE transaction: either all of it is on
// disk or none of it. The watermark is the first epoch that is not yet
// stored with every epoch before it stored; epochs above the watermark may
// also be stored (workers finish out of order) and are reused on resume.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// Bucket layout:
//
//	runs/<runID>/meta        -> caller's run metadata (opaque)
//	runs/<runID>/first       -> first epoch of the run (8 bytes BE)
//	runs/<runID>/watermark   -> first unfinished epoch (8 bytes BE)
//	runs/<runID>/epochs/<e>  -> digest (32 bytes) || result
//	runs/<runID>/blobs/<key> -> caller's named values (e.g. validator sets)
var (
	bucketRuns   = []byte("runs")
	bucketEpochs = []byte("epochs")
	bucketBlobs  = []byte("blobs")
	keyMeta      = []byte("meta")
	keyFirst     = []byte("first")
	keyWatermark = []byte("watermark")
)

// ErrRunMismatch is returned when a run exists with different metadata.
var ErrRunMismatch = errors.New("stored run has different metadata")

// Store is a bbolt-backed store. It is safe for concurrent use.
type Store struct {
	log  zerolog.Logger
	db   *bolt.DB
	hook func(run string, epoch uint64) error
}

type parameters struct {
	log         zerolog.Logger
	path        string
	lockTimeout time.Duration
	hook        func(run string, epoch uint64) error
	noSync      bool
}

// Parameter configures New.
type Parameter interface{ apply(*parameters) }

type parameterFunc func(*parameters)

func (f parameterFunc) apply(p *parameters) { f(p) }

// WithLogger sets the parent logger.
func WithLogger(l zerolog.Logger) Parameter { return parameterFunc(func(p *parameters) { p.log = l }) }

// WithPath sets the database file (required).
func WithPath(path string) Parameter { return parameterFunc(func(p *parameters) { p.path = path }) }

// WithLockTimeout bounds the wait for the file lock held by another process (default 5 s).
func WithLockTimeout(d time.Duration) Parameter {
	return parameterFunc(func(p *parameters) { p.lockTimeout = d })
}

// WithCommitHook installs a function called inside every PutEpoch
// transaction just before commit; an error aborts (rolls back) the
// transaction. Tests use it to simulate a crash at a chosen epoch.
func WithCommitHook(h func(run string, epoch uint64) error) Parameter {
	return parameterFunc(func(p *parameters) { p.hook = h })
}

// WithNoSync skips fsync on commit (tests and benchmarks only: a power loss
// may then lose committed epochs, never corrupt the watermark ordering).
func WithNoSync(v bool) Parameter { return parameterFunc(func(p *parameters) { p.noSync = v }) }

// New opens (creating if needed) the store.
func New(ctx context.Context, params ...Parameter) (*Store, error) {
	p := &parameters{log: zerolog.Nop(), lockTimeout: 5 * time.Second}
	for _, x := range params {
		if x != nil {
			x.apply(p)
		}
	}
	if p.path == "" {
		return nil, errors.New("problem with parameters: no path specified")
	}
	if p.lockTimeout <= 0 {
		return nil, errors.New("problem with parameters: lock timeout must be positive")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := bolt.Open(p.path, 0o600, &bolt.Options{Timeout: p.lockTimeout, NoSync: p.noSync})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", p.path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRuns)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise store %s: %w", p.path, err)
	}
	return &Store{log: p.log.With().Str("service", "store").Logger(), db: db, hook: p.hook}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func runBucket(tx *bolt.Tx, run string) *bolt.Bucket {
	return tx.Bucket(bucketRuns).Bucket([]byte(run))
}

// OpenRun starts or resumes run whose epochs begin at first. meta identifies
// the run's parameters; if the run exists with other metadata or another
// first epoch, ErrRunMismatch is returned (the caller chooses another run id
// or calls DeleteRun). It returns the watermark.
func (s *Store) OpenRun(run string, first uint64, meta []byte) (uint64, error) {
	if run == "" {
		return 0, errors.New("open run: empty run id")
	}
	var wm uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb != nil {
			if !bytes.Equal(rb.Get(keyMeta), meta) || !bytes.Equal(rb.Get(keyFirst), be64(first)) {
				return fmt.Errorf("run %s: %w", run, ErrRunMismatch)
			}
			w := rb.Get(keyWatermark)
			if len(w) != 8 {
				return fmt.Errorf("run %s: corrupt watermark (%d bytes)", run, len(w))
			}
			wm = binary.BigEndian.Uint64(w)
			return nil
		}
		rb, err := tx.Bucket(bucketRuns).CreateBucket([]byte(run))
		if err != nil {
			return err
		}
		if _, err := rb.CreateBucket(bucketEpochs); err != nil {
			return err
		}
		if err := rb.Put(keyMeta, append([]byte{}, meta...)); err != nil {
			return err
		}
		if err := rb.Put(keyFirst, be64(first)); err != nil {
			return err
		}
		wm = first
		return rb.Put(keyWatermark, be64(first))
	})
	if err != nil {
		return 0, fmt.Errorf("open run: %w", err)
	}
	return wm, nil
}

// DeleteRun removes a run and all its epochs.
func (s *Store) DeleteRun(run string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if runBucket(tx, run) == nil {
			return nil
		}
		return tx.Bucket(bucketRuns).DeleteBucket([]byte(run))
	})
	if err != nil {
		return fmt.Errorf("delete run %s: %w", run, err)
	}
	return nil
}

// PutEpoch stores an epoch's result with its digest (sha256 of result) and
// advances the watermark over every contiguous stored epoch, all in one
// transaction. Storing an epoch twice with the same bytes is a no-op; with
// different bytes it is an error (results are deterministic).
func (s *Store) PutEpoch(run string, epoch uint64, result []byte) error {
	return s.putEpoch(run, epoch, result, false)
}

// ReplaceEpoch stores an epoch's result like PutEpoch, overwriting a result
// already stored for it (a rescan of the epoch for more validators). The
// old result stays until the new one is committed.
func (s *Store) ReplaceEpoch(run string, epoch uint64, result []byte) error {
	return s.putEpoch(run, epoch, result, true)
}

func (s *Store) putEpoch(run string, epoch uint64, result []byte, replace bool) error {
	digest := sha256.Sum256(result)
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb == nil {
			return fmt.Errorf("run %s not opened", run)
		}
		eb := rb.Bucket(bucketEpochs)
		first := binary.BigEndian.Uint64(rb.Get(keyFirst))
		if epoch < first {
			return fmt.Errorf("epoch %d before the run's first epoch %d", epoch, first)
		}
		key := be64(epoch)
		if old := eb.Get(key); old != nil {
			if bytes.Equal(old[:32], digest[:]) {
				return nil
			}
			if !replace {
				return fmt.Errorf("epoch %d already stored with digest %x, new result has %x", epoch, old[:32], digest)
			}
		}
		val := make([]byte, 32+len(result))
		copy(val, digest[:])
		copy(val[32:], result)
		if err := eb.Put(key, val); err != nil {
			return err
		}
		wm := binary.BigEndian.Uint64(rb.Get(keyWatermark))
		for eb.Get(be64(wm)) != nil {
			wm++
		}
		if err := rb.Put(keyWatermark, be64(wm)); err != nil {
			return err
		}
		if s.hook != nil {
			if err := s.hook(run, epoch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store epoch %d: %w", epoch, err)
	}
	return nil
}

// PutBlob stores value under key in run (overwriting), in one transaction.
func (s *Store) PutBlob(run, key string, value []byte) error {
	if key == "" {
		return errors.New("store blob: empty key")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb == nil {
			return fmt.Errorf("run %s not opened", run)
		}
		bb, err := rb.CreateBucketIfNotExists(bucketBlobs)
		if err != nil {
			return err
		}
		return bb.Put([]byte(key), append([]byte{}, value...))
	})
	if err != nil {
		return fmt.Errorf("store blob %s: %w", key, err)
	}
	return nil
}

// Blob reads the value stored under key in run; ok is false when there is none.
func (s *Store) Blob(run, key string) (value []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb == nil {
			return fmt.Errorf("run %s not found", run)
		}
		bb := rb.Bucket(bucketBlobs)
		if bb == nil {
			return nil
		}
		if v := bb.Get([]byte(key)); v != nil {
			value, ok = append([]byte{}, v...), true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read blob %s: %w", key, err)
	}
	return value, ok, nil
}

// Watermark is the first epoch of run not stored with all earlier epochs stored.
func (s *Store) Watermark(run string) (uint64, error) {
	var wm uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb == nil {
			return fmt.Errorf("run %s not found", run)
		}
		wm = binary.BigEndian.Uint64(rb.Get(keyWatermark))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read watermark: %w", err)
	}
	return wm, nil
}

// Epoch is one stored epoch.
type Epoch struct {
	Epoch  uint64
	Digest [32]byte
	Result []byte
}

// Epochs calls fn for every stored epoch of run in ascending order; the
// digest is re-checked against the stored bytes.
func (s *Store) Epochs(run string, fn func(Epoch) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := runBucket(tx, run)
		if rb == nil {
			return fmt.Errorf("run %s not found", run)
		}
		return rb.Bucket(bucketEpochs).ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < 32 {
				return fmt.Errorf("corrupt epoch entry (key %d bytes, value %d bytes)", len(k), len(v))
			}
			e := Epoch{Epoch: binary.BigEndian.Uint64(k), Result: append([]byte(nil), v[32:]...)}
			copy(e.Digest[:], v[:32])
			if sha256.Sum256(e.Result) != e.Digest {
				return fmt.Errorf("epoch %d: stored digest does not match stored result", e.Epoch)
			}
			return fn(e)
		})
	})
	if err != nil {
		return fmt.Errorf("read epochs: %w", err)
	}
	return nil
}

// Runs lists the stored run ids, sorted.
func (s *Store) Runs() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	sort.Strings(out)
	return out, nil
}
