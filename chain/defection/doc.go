// Package defection detects protocol validators whose block proposals do not pay a legal fee recipient
// (duties §8, issue 8), MEV-aware.
//
// For each proposal by a protocol validator the expected recipient is derived from the node's Smoothing Pool
// state at the proposal's EL block: opted in → the Smoothing Pool; opted out → the node's fee distributor
// (minipools) or the megapool (megapool validators). Timing guard (the proposer lookahead): a state change after
// the start of the previous epoch does not count yet — a recent opt-out still owes the Smoothing Pool, and a recent
// opt-in may still pay the old recipient. The Smoothing Pool and rETH are always legal.
//
// When the payload's fee recipient is not legal, the full block is fetched (only for those slots) and the block
// is legal iff its last transaction is sent by the payload's fee recipient to a legal recipient with a non-zero
// value: an MEV builder paying the proposer. Everything else is a defection.
//
// Output: rp-defections-<network>-<index>.json (sorted by slot), Prometheus metrics, and optional penalty votes
// (RocketNetworkPenalties.submitPenalty for minipools, RocketMegapoolPenalties.penalise for megapools), off by
// default and idempotent per (validator, slot) through a journal file and the contracts' own duplicate-vote keys.
// The defection report never changes a rewards root by itself: the rulesets keep their on-chain rule (a penalty
// count ≥ 3 excludes the node); penalties reach the tree only through that count.
package defection
