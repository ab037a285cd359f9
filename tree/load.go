package tree

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds how much a decompressed rewards or performance file may
// grow to (the largest mainnet rewards file is under 3 MB).
const MaxFileSize = 512 << 20

// Encoding says how a rewards file was stored.
type Encoding struct {
	// Format is "json" or "ssz".
	Format string
	// Compression is "", "gzip" or "zstd".
	Compression string
	// ByteOrder of uint256 values (SSZ only).
	ByteOrder ByteOrder
}

func (e Encoding) String() string {
	s := e.Format
	if e.Format == "ssz" {
		s += " (uint256 " + e.ByteOrder.String() + ")"
	}
	if e.Compression != "" {
		s += ", " + e.Compression + "-compressed"
	}
	return s
}

// Decompressed strips gzip or zstd compression recognised by magic number
// and says which one it was ("" when the data was not compressed).
func Decompressed(data []byte) ([]byte, string, error) {
	switch {
	case len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, "", fmt.Errorf("gunzip: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, MaxFileSize+1))
		if err != nil {
			return nil, "", fmt.Errorf("gunzip: %w", err)
		}
		if len(out) > MaxFileSize {
			return nil, "", fmt.Errorf("gunzip: content exceeds %d bytes", MaxFileSize)
		}
		return out, "gzip", nil
	case IsZstd(data):
		out, err := Decompress(data, MaxFileSize)
		if err != nil {
			return nil, "", err
		}
		return out, "zstd", nil
	}
	return data, "", nil
}

// DecodeRewardsFile recognises a rewards file by content — gzip/zstd
// compression, the SSZ magic (RPRT/RPRU), or a JSON object with
// rewardsFileVersion — and decodes it.
func DecodeRewardsFile(data []byte) (*RewardsFile, Encoding, error) {
	raw, comp, err := Decompressed(data)
	if err != nil {
		return nil, Encoding{}, err
	}
	enc := Encoding{Compression: comp}
	if IsSSZRewards(raw) {
		enc.Format = "ssz"
		f, order, err := ParseRewardsSSZ(raw)
		enc.ByteOrder = order
		return f, enc, err
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, enc, fmt.Errorf("not a rewards file: neither an SSZ magic (RPRT/RPRU) nor a JSON object")
	}
	enc.Format = "json"
	if !bytes.Contains(raw, []byte(`"nodeRewards"`)) && bytes.Contains(raw, []byte(`"minipoolPerformance"`)) {
		return nil, enc, fmt.Errorf("this is a performance file, not a rewards file")
	}
	f, err := ParseRewardsJSON(raw)
	return f, enc, err
}

// ReadRewardsFile reads and decodes a rewards file from disk.
func ReadRewardsFile(path string) (*RewardsFile, Encoding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Encoding{}, fmt.Errorf("read rewards file: %w", err)
	}
	f, enc, err := DecodeRewardsFile(data)
	if err != nil {
		return nil, enc, fmt.Errorf("%s: %w", path, err)
	}
	return f, enc, nil
}
