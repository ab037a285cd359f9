package tree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdMagic starts every standard zstd frame (RFC 8878 §3.1.1, 0xFD2FB528 little-endian).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxZstdWindow bounds the window a frame may ask for when decompressing, so a
// hostile header cannot make the decoder reserve a huge buffer. The encoder
// below never uses more than 8 MiB.
const maxZstdWindow = 128 << 20

// maxDecompressPrealloc caps the buffer reserved up front from a frame's
// declared content size.
const maxDecompressPrealloc = 16 << 20

var (
	encOnce sync.Once
	encoder *zstd.Encoder
	encErr  error

	// decoders is a pool of single-goroutine streaming decoders; Decompress
	// Resets one per call, so concurrent calls never share a decoder.
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow),
		)
		if err != nil {
			return err
		}
		return d
	}}
)

func sharedEncoder() (*zstd.Encoder, error) {
	encOnce.Do(func() {
		// Same settings as the reference writes its .zst copies with:
		// SpeedBestCompression, one-shot EncodeAll (formats.md §5). The output
		// is not guaranteed to be byte-stable across library versions.
		encoder, encErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1),
		)
	})
	return encoder, encErr
}

// Compress returns data compressed as one zstd frame at SpeedBestCompression,
// the way the reference writes the .zst copies of rewards and performance
// files. It is safe for concurrent use.
func Compress(data []byte) ([]byte, error) {
	enc, err := sharedEncoder()
	if err != nil {
		return nil, fmt.Errorf("create zstd encoder: %w", err)
	}
	// EncodeAll is safe for concurrent use on a shared encoder.
	return enc.EncodeAll(data, make([]byte, 0, len(data)/4+64)), nil
}

// ErrTooLarge is returned (wrapped) by Decompress when the decompressed data
// would exceed the caller's limit.
var ErrTooLarge = errors.New("decompressed data exceeds the size limit")

// Decompress decodes zstd data (one or more frames) and returns at most
// maxSize bytes: larger output gives an error wrapping ErrTooLarge, and
// corrupt or truncated input gives an error. It is safe for concurrent use.
func Decompress(data []byte, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		return nil, fmt.Errorf("decompress: size limit must be positive, got %d", maxSize)
	}
	if !IsZstd(data) {
		return nil, errors.New("decompress: input does not start with the zstd magic number")
	}
	var hdr zstd.Header
	if err := hdr.Decode(data); err != nil {
		return nil, fmt.Errorf("decompress: read zstd frame header: %w", err)
	}
	if hdr.HasFCS && hdr.FrameContentSize > uint64(maxSize) {
		return nil, fmt.Errorf("decompress: frame declares %d bytes, limit %d: %w",
			hdr.FrameContentSize, maxSize, ErrTooLarge)
	}

	pooled := decoders.Get()
	dec, ok := pooled.(*zstd.Decoder)
	if !ok {
		return nil, fmt.Errorf("create zstd decoder: %v", pooled)
	}
	defer decoders.Put(dec)
	if err := dec.Reset(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}

	var out bytes.Buffer
	if hdr.HasFCS {
		// Pre-size from the declared size, but never trust a header for more
		// than a modest allocation; larger outputs grow as they are decoded.
		out.Grow(int(min(hdr.FrameContentSize, maxDecompressPrealloc)))
	}
	// Read one byte past the limit to tell "exactly maxSize" from "more".
	n, err := io.Copy(&out, io.LimitReader(dec, int64(maxSize)+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if n > int64(maxSize) {
		return nil, fmt.Errorf("decompress: more than %d bytes: %w", maxSize, ErrTooLarge)
	}
	return out.Bytes(), nil
}

// IsZstd reports whether data starts with the magic number of a standard
// zstd frame (skippable frames are not recognised).
func IsZstd(data []byte) bool {
	return bytes.HasPrefix(data, zstdMagic)
}
