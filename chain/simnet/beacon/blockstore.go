package beacon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/klauspost/compress/zstd"
	"gopkg.in/yaml.v3"
)

// Block store: the chain's blocks generated once ("prepared") into two files
// in a directory, so a server can answer block, blinded-block and header
// requests the way a real node does — from its database — instead of
// generating every block (and shuffling every epoch) on request.
//
//	blocks.dat  zstd frames, per stored slot: full SSZ block, blinded SSZ
//	            block, headers-endpoint JSON (apiv1.BeaconBlockHeader)
//	blocks.idx  magic | fingerprint of the scenario (32) | first slot |
//	            slot count | per slot: offset (8), lengths of the three
//	            frames (3×4), reserved (4); lengths 0 = no block
//
// The index is written last (temporary file + rename), so a directory with an
// index holds a complete store. Opening a store checks the scenario's
// fingerprint and regenerates a few sampled blocks to compare them with the
// stored bytes, so a store from another scenario or an older chain model is
// refused instead of served.

const (
	blockStoreData  = "blocks.dat"
	blockStoreIndex = "blocks.idx"
	blockStoreMagic = "SIMBLK01"
	indexEntrySize  = 24
	indexHeaderSize = 8 + 32 + 8 + 8
)

// BlockStore serves the stored blocks of a slot range. It is safe for
// concurrent use.
type BlockStore struct {
	dir     string
	f       *os.File
	first   phase0.Slot
	entries []storeEntry
	dec     *zstd.Decoder
	// Bytes is the size of the data file.
	Bytes int64
}

type storeEntry struct {
	off                         uint64
	fullLen, blindedLen, hdrLen uint32
}

// Fingerprint identifies the chain a store was prepared from: the compiled
// scenario (defaults applied) and the store format.
func (c *Chain) Fingerprint() ([32]byte, error) {
	raw, err := yaml.Marshal(&c.sc.Scenario)
	if err != nil {
		return [32]byte{}, fmt.Errorf("fingerprint scenario: %w", err)
	}
	return sha256.Sum256(append([]byte(blockStoreMagic), raw...)), nil
}

// storedBlock is one slot's three encodings.
type storedBlock struct {
	full, blinded, header []byte
}

// encodeStored generates the block at s and its blinded form and header.
func (c *Chain) encodeStored(ctx context.Context, s phase0.Slot) (*storedBlock, error) {
	blk, err := c.Block(ctx, s)
	if err != nil {
		return nil, err
	}
	var full []byte
	switch blk.Version {
	case spec.DataVersionDeneb:
		full, err = blk.Deneb.MarshalSSZ()
	default:
		full, err = blk.Electra.MarshalSSZ()
	}
	if err != nil {
		return nil, fmt.Errorf("encode block at slot %d: %w", s, err)
	}
	bl, err := blindedOf(s, blk)
	if err != nil {
		return nil, err
	}
	blinded, err := bl.(interface{ MarshalSSZ() ([]byte, error) }).MarshalSSZ()
	if err != nil {
		return nil, fmt.Errorf("encode blinded block at slot %d: %w", s, err)
	}
	h, err := c.headerOf(s, blk)
	if err != nil {
		return nil, err
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode header at slot %d: %w", s, err)
	}
	return &storedBlock{full: full, blinded: blinded, header: hdr}, nil
}

// PrepareProgress reports slots written so far and the total.
type PrepareProgress func(done, total uint64)

// PrepareBlockStore generates the blocks of slots from..to (inclusive) with
// workers goroutines and writes them to dir (created if needed; an existing
// store there is replaced). Missed slots are recorded as empty.
func PrepareBlockStore(ctx context.Context, c *Chain, dir string, from, to phase0.Slot, workers int, progress PrepareProgress) (err error) {
	switch {
	case c == nil:
		return errors.New("prepare block store: no chain")
	case to < from:
		return fmt.Errorf("prepare block store: slot range %d..%d is empty", from, to)
	case to > c.HeadSlot():
		return fmt.Errorf("prepare block store: slot %d is beyond the head slot %d", to, c.HeadSlot())
	case workers < 1:
		return fmt.Errorf("prepare block store: %d workers", workers)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	// An old index must not describe the new data file while it is written.
	if err := os.Remove(filepath.Join(dir, blockStoreIndex)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("prepare block store: remove old index: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+blockStoreData+".tmp-*")
	if err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	defer enc.Close()

	// Units of one epoch's slots, generated by the workers in any order and
	// written in slot order; at most 2×workers units are held at once.
	spe := phase0.Slot(c.sc.SlotsPerEpoch)
	type unit struct {
		lo, hi phase0.Slot
		blocks []*storedBlock // nil entries: missed slots
		err    error
		done   chan struct{}
	}
	ctx, cancel := context.WithCancel(ctx)
	queue := make(chan *unit, 2*workers)
	work := make(chan *unit)
	go func() {
		defer close(queue)
		defer close(work)
		for lo := from; lo <= to; {
			hi := min((lo/spe+1)*spe-1, to)
			u := &unit{lo: lo, hi: hi, done: make(chan struct{})}
			select {
			case queue <- u:
			case <-ctx.Done():
				return
			}
			select {
			case work <- u:
			case <-ctx.Done():
				return
			}
			if hi == to {
				return
			}
			lo = hi + 1
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				u.blocks = make([]*storedBlock, u.hi-u.lo+1)
				for s := u.lo; s <= u.hi && u.err == nil; s++ {
					if !c.HasBlock(s) {
						continue
					}
					b, err := c.encodeStored(ctx, s)
					if err != nil {
						u.err = err
						break
					}
					b.full = enc.EncodeAll(b.full, nil)
					b.blinded = enc.EncodeAll(b.blinded, nil)
					b.header = enc.EncodeAll(b.header, nil)
					u.blocks[s-u.lo] = b
				}
				close(u.done)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	total := uint64(to-from) + 1
	entries := make([]storeEntry, 0, total)
	w := bufio.NewWriterSize(tmp, 1<<20)
	off := uint64(0)
	for u := range queue {
		select {
		case <-u.done:
		case <-ctx.Done():
			return fmt.Errorf("prepare block store: %w", ctx.Err())
		}
		if u.err != nil {
			return fmt.Errorf("prepare block store: %w", u.err)
		}
		for _, b := range u.blocks {
			if b == nil {
				entries = append(entries, storeEntry{off: off})
				continue
			}
			e := storeEntry{off: off, fullLen: uint32(len(b.full)), blindedLen: uint32(len(b.blinded)), hdrLen: uint32(len(b.header))}
			for _, part := range [][]byte{b.full, b.blinded, b.header} {
				if _, err := w.Write(part); err != nil {
					return fmt.Errorf("prepare block store: write data: %w", err)
				}
			}
			off += uint64(e.fullLen) + uint64(e.blindedLen) + uint64(e.hdrLen)
			entries = append(entries, e)
		}
		if progress != nil {
			progress(uint64(len(entries)), total)
		}
	}
	if uint64(len(entries)) != total {
		return fmt.Errorf("prepare block store: %d of %d slots written", len(entries), total)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("prepare block store: write data: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("prepare block store: sync data: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("prepare block store: close data: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, blockStoreData)); err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	idx := make([]byte, 0, indexHeaderSize+len(entries)*indexEntrySize)
	idx = append(idx, blockStoreMagic...)
	idx = append(idx, fp[:]...)
	idx = binary.LittleEndian.AppendUint64(idx, uint64(from))
	idx = binary.LittleEndian.AppendUint64(idx, total)
	for _, e := range entries {
		idx = binary.LittleEndian.AppendUint64(idx, e.off)
		idx = binary.LittleEndian.AppendUint32(idx, e.fullLen)
		idx = binary.LittleEndian.AppendUint32(idx, e.blindedLen)
		idx = binary.LittleEndian.AppendUint32(idx, e.hdrLen)
		idx = binary.LittleEndian.AppendUint32(idx, 0)
	}
	if err := writeFileAtomic(filepath.Join(dir, blockStoreIndex), idx); err != nil {
		return fmt.Errorf("prepare block store: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in path's directory, syncs
// it and renames it to path.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// OpenBlockStore opens the store in dir for chain c. It fails when the store
// was prepared from another scenario, is truncated, or when any of verify
// sampled blocks (first, last and evenly spaced ones) regenerated by c
// differs from the stored bytes.
func OpenBlockStore(ctx context.Context, c *Chain, dir string, verify int) (*BlockStore, error) {
	if c == nil {
		return nil, errors.New("open block store: no chain")
	}
	idxPath := filepath.Join(dir, blockStoreIndex)
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if len(idx) < indexHeaderSize || string(idx[:8]) != blockStoreMagic {
		return nil, fmt.Errorf("open block store: %s is not a block store index", idxPath)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if !bytes.Equal(idx[8:40], fp[:]) {
		return nil, fmt.Errorf("open block store: %s was prepared from another scenario (fingerprint %x, this chain %x)", dir, idx[8:40], fp)
	}
	first := binary.LittleEndian.Uint64(idx[40:])
	count := binary.LittleEndian.Uint64(idx[48:])
	if uint64(len(idx)-indexHeaderSize) != count*indexEntrySize || count == 0 {
		return nil, fmt.Errorf("open block store: index %s has %d bytes of entries for %d slots", idxPath, len(idx)-indexHeaderSize, count)
	}
	bs := &BlockStore{dir: dir, first: phase0.Slot(first), entries: make([]storeEntry, count)}
	end := uint64(0)
	for i := range bs.entries {
		p := idx[indexHeaderSize+i*indexEntrySize:]
		e := storeEntry{off: binary.LittleEndian.Uint64(p), fullLen: binary.LittleEndian.Uint32(p[8:]),
			blindedLen: binary.LittleEndian.Uint32(p[12:]), hdrLen: binary.LittleEndian.Uint32(p[16:])}
		if e.off != end {
			return nil, fmt.Errorf("open block store: index entry of slot %d at offset %d, expected %d", first+uint64(i), e.off, end)
		}
		end = e.off + uint64(e.fullLen) + uint64(e.blindedLen) + uint64(e.hdrLen)
		bs.entries[i] = e
	}
	if bs.f, err = os.Open(filepath.Join(dir, blockStoreData)); err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	st, err := bs.f.Stat()
	if err != nil {
		_ = bs.f.Close()
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if uint64(st.Size()) != end {
		_ = bs.f.Close()
		return nil, fmt.Errorf("open block store: data file has %d bytes, index expects %d", st.Size(), end)
	}
	bs.Bytes = st.Size()
	if bs.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0)); err != nil {
		_ = bs.f.Close()
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if err := bs.verify(ctx, c, verify); err != nil {
		bs.Close()
		return nil, err
	}
	return bs, nil
}

// verify regenerates n sampled slots' blocks and compares them with the store.
func (bs *BlockStore) verify(ctx context.Context, c *Chain, n int) error {
	count := len(bs.entries)
	for k := range n {
		i := 0
		if n > 1 {
			i = k * (count - 1) / (n - 1)
		}
		// The nearest stored block at or after the sample point.
		for i < count && bs.entries[i].fullLen == 0 {
			i++
		}
		if i == count {
			continue
		}
		s := bs.first + phase0.Slot(i)
		want, err := c.encodeStored(ctx, s)
		if err != nil {
			return fmt.Errorf("open block store: regenerate slot %d: %w", s, err)
		}
		for _, part := range []struct {
			name string
			kind int
			want []byte
		}{{"block", partFull, want.full}, {"blinded block", partBlinded, want.blinded}, {"header", partHeader, want.header}} {
			got, err := bs.read(s, part.kind)
			if err != nil {
				return fmt.Errorf("open block store: %w", err)
			}
			if !bytes.Equal(got, part.want) {
				return fmt.Errorf("open block store: stored %s of slot %d differs from the chain's (store from an older chain model? prepare it again)", part.name, s)
			}
		}
	}
	return nil
}

// Close releases the data file.
func (bs *BlockStore) Close() {
	if bs.dec != nil {
		bs.dec.Close()
	}
	if bs.f != nil {
		_ = bs.f.Close()
	}
}

// Range is the first and last slot the store covers.
func (bs *BlockStore) Range() (first, last phase0.Slot) {
	return bs.first, bs.first + phase0.Slot(len(bs.entries)) - 1
}

const (
	partFull = iota
	partBlinded
	partHeader
)

// has reports whether the store holds a block at s.
func (bs *BlockStore) has(s phase0.Slot) bool {
	return s >= bs.first && uint64(s-bs.first) < uint64(len(bs.entries)) && bs.entries[s-bs.first].fullLen != 0
}

// read returns one decompressed part of the stored block at s.
func (bs *BlockStore) read(s phase0.Slot, part int) ([]byte, error) {
	if !bs.has(s) {
		return nil, fmt.Errorf("block store: no block at slot %d", s)
	}
	e := bs.entries[s-bs.first]
	off, n := e.off, e.fullLen
	switch part {
	case partBlinded:
		off, n = off+uint64(e.fullLen), e.blindedLen
	case partHeader:
		off, n = off+uint64(e.fullLen)+uint64(e.blindedLen), e.hdrLen
	}
	buf := make([]byte, n)
	if got, err := bs.f.ReadAt(buf, int64(off)); got != len(buf) {
		return nil, fmt.Errorf("block store: read slot %d: %w", s, err)
	}
	out, err := bs.dec.DecodeAll(buf, nil)
	if err != nil {
		return nil, fmt.Errorf("block store: decompress slot %d: %w", s, err)
	}
	return out, nil
}
