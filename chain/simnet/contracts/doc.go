// Package contracts holds the simulated Rocket Pool protocol used by the simnet: our own Solidity sources (src/),
// the compiled artefacts (artifacts/), abigen bindings (bindings/) and a deploy helper that brings the whole
// protocol up on any EVM backend (go-ethereum's simulated backend in tests, geth --dev in the integration tier).
//
// The contracts are ABI-compatible with the mainnet Rocket Pool v1.4 (Saturn) functions the watchtower and treegen
// call; see README.md for the signature table and the simnet-only seeding functions (prefixed "sim").
//
// Regenerate artefacts and bindings (needs node and npm) with:
//
//	go generate ./chain/simnet/contracts/
package contracts

//go:generate go run gen.go
