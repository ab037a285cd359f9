//go:build tools

// Package tools pins the project's library dependencies so that every package
// author works against the same versions (see reference dependencies.md).
package tools

import (
	_ "github.com/attestantio/go-eth2-client/http"
	_ "github.com/ethereum/go-ethereum/ethclient/simulated"
	_ "github.com/ferranbt/fastssz"
	_ "github.com/holiman/uint256"
	_ "github.com/ipfs/go-cid"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/multiformats/go-multihash"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/rs/zerolog"
	_ "github.com/spf13/cobra"
	_ "github.com/wealdtech/go-merkletree/v2"
	_ "go.etcd.io/bbolt"
	_ "gopkg.in/yaml.v3"
)
