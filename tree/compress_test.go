package tree

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/odaowatch/watchtower/internal/testutil"
)

func TestCompressRoundTrip(t *testing.T) {
	canonical := testutil.ReadShared(t, "canonical/rp-rewards-testnet-149.json.gz")
	inputs := map[string][]byte{
		"empty":     {},
		"one byte":  {0x42},
		"canonical": canonical,
		"zeros 3MB": make([]byte, 3<<20),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			z, err := Compress(in)
			if err != nil {
				t.Fatalf("Compress: %v", err)
			}
			if !IsZstd(z) {
				t.Fatalf("output does not start with the zstd magic: % x", z[:min(4, len(z))])
			}
			out, err := Decompress(z, len(in)+1)
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("round trip changed the data (%d → %d bytes)", len(in), len(out))
			}
			// A limit of exactly the size is allowed.
			if len(in) > 0 {
				if _, err := Decompress(z, len(in)); err != nil {
					t.Fatalf("limit = size: %v", err)
				}
			}
		})
	}
	// JSON compresses well at this level; a 35 kB tree must shrink below a quarter.
	z, _ := Compress(canonical)
	if len(z)*4 > len(canonical) {
		t.Errorf("compressed %d → %d bytes: compression not effective", len(canonical), len(z))
	}
	// The same input compresses to the same bytes (one library version).
	z2, _ := Compress(canonical)
	if !bytes.Equal(z, z2) {
		t.Error("Compress is not deterministic")
	}
}

func TestDecompressCorrupt(t *testing.T) {
	in := testutil.ReadShared(t, "canonical/rp-rewards-testnet-149.json.gz")
	z, err := Compress(in)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(z)
	flipped[len(flipped)/2] ^= 0xff
	cases := map[string][]byte{
		"nil":        nil,
		"not zstd":   []byte(`{"json": true}`),
		"magic only": zstdMagic,
		"truncated":  z[:len(z)/2],
		"flipped":    flipped,
		"trailing":   append(bytes.Clone(z), 0x01, 0x02, 0x03, 0x04, 0x05),
		"bad header": append(bytes.Clone(zstdMagic), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
	for name, data := range cases {
		if _, err := Decompress(data, 10<<20); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
	if _, err := Decompress(z, 0); err == nil {
		t.Error("zero limit: expected an error")
	}
}

func TestDecompressOverLimit(t *testing.T) {
	in := bytes.Repeat([]byte("rocket pool "), 100_000) // 1,200,000 bytes
	// Frame with a declared content size (EncodeAll writes it).
	z, err := Compress(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress(z, len(in)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("declared size over limit: got %v, want ErrTooLarge", err)
	}
	// Streamed frame without a declared size: the limit is enforced while decoding.
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var hdr zstd.Header
	if err := hdr.Decode(buf.Bytes()); err != nil || hdr.HasFCS {
		t.Fatalf("test setup: want a frame without content size (err %v, HasFCS %v)", err, hdr.HasFCS)
	}
	if _, err := Decompress(buf.Bytes(), 1000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("streamed frame over limit: got %v, want ErrTooLarge", err)
	}
	out, err := Decompress(buf.Bytes(), len(in))
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("streamed frame within limit: err %v, equal %v", err, bytes.Equal(out, in))
	}
}

func TestIsZstd(t *testing.T) {
	if !IsZstd([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00}) {
		t.Error("magic not recognised")
	}
	for _, b := range [][]byte{nil, {0x28, 0xb5, 0x2f}, {0xfd, 0x2f, 0xb5, 0x28}, []byte("RPRT")} {
		if IsZstd(b) {
			t.Errorf("% x recognised as zstd", b)
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	in := testutil.ReadShared(t, "canonical/rp-rewards-testnet-139.json.gz")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			z, err := Compress(in)
			if err != nil {
				errs <- err
				return
			}
			out, err := Decompress(z, len(in))
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(out, in) {
				errs <- errors.New("round trip mismatch")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkCompress(b *testing.B) {
	in := testutil.ReadShared(b, "canonical/rp-rewards-mainnet-51.json.gz")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Compress(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecompress(b *testing.B) {
	in := testutil.ReadShared(b, "canonical/rp-rewards-mainnet-51.json.gz")
	z, _ := Compress(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decompress(z, 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}
