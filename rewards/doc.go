// Package rewards is the pure rewards engine: from a Snapshot (the protocol
// state at the interval's snapshot block) and a DutyRecord (every attestation
// duty of every protocol validator in the interval, and the withdrawals they
// received) it computes each node's collateral RPL, Oracle DAO RPL, Smoothing
// Pool ETH and voter-share ETH exactly as canonical rulesets 8, 10 and 11 do.
//
// The package does no I/O, reads no clock and uses integer arithmetic only
// (math/big), multiplying before dividing exactly as the reference does.
// Inputs may list entries in any order: everything is put in canonical order
// first, so equal inputs give equal results and byte-identical files.
//
//	snap, _ := rewards.DecodeSnapshot(r1)
//	duties, _ := rewards.DecodeDutyRecord(r2)
//	res, err := rewards.Compute(snap, duties)   // ruleset from network + index
//	files, err := res.Files()                   // tree.RewardsFile (sealed) + performance file
//
// The JSON encodings of Snapshot and DutyRecord, field by field, are in
// README.md beside this file. Snapshot.Digest and DutyRecord.Digest are the
// sha256 of the canonical encodings, for comparing inputs in one line.
//
// Quirks of the reference (rewards-rules.md §8, Q1–Q11) are reproduced; each
// has a test named after it (TestQ1…, TestQ11…).
package rewards
