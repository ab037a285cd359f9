// Package megapool is the oDAO's megapool overdue-exit watcher (duties §5.3, §5.4, §6.1).
//
// Each round (one per epoch) it reads every megapool validator from RocketMegapoolManager (batched through
// Multicall3 aggregate3, all at one EL block), reads their beacon status at one beacon state, and selects
// the validators whose exit notification is overdue:
//
//	staked && !exiting && !exited && !locked && W != FAR_FUTURE && currentEpoch > W − notify.threshold
//
// with W the validator's withdrawable_epoch and currentEpoch the epoch of the beacon state used; this is
// the same inequality as the contract's late-notify fine (a notify proving epoch W − threshold is still on
// time, so that epoch is never challenged). The selection is ordered by global validator index, cut into
// challengeExit transactions of at most 50 ids (the contract's limit) grouped by megapool, and each oDAO
// member takes a different batch (its position among the members modulo the number of batches), so members
// reading the same state do not duplicate work. A member that was the last challenger skips the round (the
// contract would revert). Every lock seen on chain is tracked until it is resolved (notifyExit or
// notifyNotExit), with metrics and log alerts for locks unresolved after N epochs or past their withdrawable
// epoch. In report-only mode nothing is sent.
package megapool
