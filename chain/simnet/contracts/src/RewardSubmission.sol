// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Saturn (contracts v1.4) reward submission; field order is ABI-relevant.
struct RewardSubmission {
    uint256 rewardIndex;
    uint256 executionBlock;
    uint256 consensusBlock;
    bytes32 merkleRoot;
    uint256 intervalsPassed;
    uint256 smoothingPoolETH;
    uint256 treasuryRPL;
    uint256 treasuryETH;
    uint256 userETH;
    uint256[] trustedNodeRPL;
    uint256[] nodeRPL;
    uint256[] nodeETH;
}
