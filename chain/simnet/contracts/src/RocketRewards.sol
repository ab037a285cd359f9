// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";
import "./RewardSubmission.sol";
import "./RocketDAO.sol";
import "./RocketTokens.sol";

/// @notice Rewards pool: interval timing, pending RPL and voter share, oDAO snapshot votes and execution.
contract RocketRewardsPool is RocketBase {
    event RewardSnapshotSubmitted(address indexed from, uint256 indexed rewardIndex, RewardSubmission submission, uint256 time);
    event RewardSnapshot(uint256 indexed rewardIndex, RewardSubmission submission, uint256 intervalStartTime, uint256 intervalEndTime, uint256 time);
    event VoterShareDeposited(address indexed from, uint256 amount, uint256 time);

    uint256 private rewardIndex;
    uint256 private claimIntervalTimeStart;
    uint256 private claimIntervalTime;
    uint256 private pendingRPL;
    uint256 private pendingVoterShare;
    uint256 private relayTreeVersion;
    mapping(bytes32 => uint256) private claimingPerc;
    mapping(uint256 => uint256) private executionBlock;
    mapping(uint256 => address) private executionAddress;

    constructor(RocketStorage _rocketStorage, uint256 _intervalStart, uint256 _intervalTime) RocketBase(_rocketStorage) {
        require(_intervalTime > 0, "Invalid interval time");
        claimIntervalTimeStart = _intervalStart;
        claimIntervalTime = _intervalTime;
        relayTreeVersion = 1;
        claimingPerc[keccak256(bytes("rocketClaimNode"))] = 0.7 ether;
        claimingPerc[keccak256(bytes("rocketClaimTrustedNode"))] = 0.025 ether;
        claimingPerc[keccak256(bytes("rocketClaimDAO"))] = 0.275 ether;
    }

    /// @notice ETH sent here (other than the Smoothing Pool's payout during execution) is megapool voter share
    /// waiting in the vault.
    receive() external payable {
        if (msg.sender == getContractAddress("rocketSmoothingPool")) {
            return;
        }
        pendingVoterShare += msg.value;
        emit VoterShareDeposited(msg.sender, msg.value, block.timestamp);
    }

    // ---- views ----

    function getRewardIndex() public view returns (uint256) { return rewardIndex; }
    function getClaimIntervalTimeStart() external view returns (uint256) { return claimIntervalTimeStart; }
    function getClaimIntervalTime() external view returns (uint256) { return claimIntervalTime; }

    function getClaimIntervalsPassed() external view returns (uint256) {
        if (block.timestamp < claimIntervalTimeStart) {
            return 0;
        }
        return (block.timestamp - claimIntervalTimeStart) / claimIntervalTime;
    }

    function getPendingRPLRewards() public view returns (uint256) { return pendingRPL; }
    function getPendingETHRewards() public view returns (uint256) { return getContractAddress("rocketSmoothingPool").balance; }
    function getPendingVoterShare() public view returns (uint256) { return pendingVoterShare; }
    function getClaimingContractPerc(string memory _claimingContract) public view returns (uint256) { return claimingPerc[keccak256(bytes(_claimingContract))]; }

    function getClaimingContractsPerc(string[] memory _claimingContracts) external view returns (uint256[] memory out) {
        out = new uint256[](_claimingContracts.length);
        for (uint256 i = 0; i < _claimingContracts.length; i++) {
            out[i] = getClaimingContractPerc(_claimingContracts[i]);
        }
    }

    function getClaimIntervalExecutionBlock(uint256 _interval) external view returns (uint256) { return executionBlock[_interval]; }
    function getClaimIntervalExecutionAddress(uint256 _interval) external view returns (address) { return executionAddress[_interval]; }
    function getRelayTreeVersion() external view returns (uint256) { return relayTreeVersion; }

    function getTrustedNodeSubmitted(address _trustedNodeAddress, uint256 _rewardIndex) external view returns (bool) {
        return rocketStorage.getBool(keccak256(abi.encode("rewards.snapshot.submitted.node", _trustedNodeAddress, _rewardIndex)));
    }

    function getTrustedNodeSubmittedSpecificRewards(address _trustedNodeAddress, RewardSubmission calldata _submission) external view returns (bool) {
        return rocketStorage.getBool(keccak256(abi.encode("rewards.snapshot.submitted.node.key", _trustedNodeAddress, _submission)));
    }

    function getSubmissionCount(RewardSubmission calldata _submission) public view returns (uint256) {
        return rocketStorage.getUint(keccak256(abi.encode("rewards.snapshot.submitted.count", _submission)));
    }

    // ---- oDAO votes ----

    function submitRewardSnapshot(RewardSubmission calldata _submission) external onlyTrustedNode {
        require(_settings().getSubmitRewardsEnabled(), "Submitting rewards is currently disabled");
        require(_submission.rewardIndex <= rewardIndex, "Can only submit snapshot for periods up to next");
        require(_submission.intervalsPassed > 0, "Invalid number of intervals passed");
        require(
            _submission.nodeRPL.length == _submission.trustedNodeRPL.length && _submission.trustedNodeRPL.length == _submission.nodeETH.length,
            "Invalid array length"
        );
        (uint256 nodeRPLTotal, uint256 nodeETHTotal) = _networkTotals(_submission);
        require(nodeRPLTotal + _submission.treasuryRPL <= getPendingRPLRewards(), "Invalid RPL rewards");
        uint256 spBalance = getPendingETHRewards();
        require(nodeETHTotal + _submission.userETH + _submission.treasuryETH <= spBalance + pendingVoterShare, "Invalid ETH rewards");
        require(_submission.smoothingPoolETH <= spBalance, "Invalid smoothing pool ETH");

        bytes32 nodeSubmissionKey = keccak256(abi.encode("rewards.snapshot.submitted.node.key", msg.sender, _submission));
        require(!rocketStorage.getBool(nodeSubmissionKey), "Duplicate submission from node");
        rocketStorage.setBool(nodeSubmissionKey, true);
        rocketStorage.setBool(keccak256(abi.encode("rewards.snapshot.submitted.node", msg.sender, _submission.rewardIndex)), true);

        bytes32 countKey = keccak256(abi.encode("rewards.snapshot.submitted.count", _submission));
        uint256 count = rocketStorage.getUint(countKey) + 1;
        rocketStorage.setUint(countKey, count);

        emit RewardSnapshotSubmitted(msg.sender, _submission.rewardIndex, _submission, block.timestamp);

        if (_submission.rewardIndex == rewardIndex && consensusReached(count, _settings().getNodeConsensusThreshold())) {
            _execute(_submission);
        }
    }

    function executeRewardSnapshot(RewardSubmission calldata _submission) external {
        require(_settings().getSubmitRewardsEnabled(), "Submitting rewards is currently disabled");
        require(_submission.rewardIndex == rewardIndex, "Can only execute snapshot for periods up to next");
        require(consensusReached(getSubmissionCount(_submission), _settings().getNodeConsensusThreshold()), "Consensus has not been reached");
        _execute(_submission);
    }

    // ---- simnet seeding ----

    /// @notice Simnet: set the reward index and interval timing (e.g. to start a scenario at interval N).
    function simSetInterval(uint256 _rewardIndex, uint256 _intervalStart, uint256 _intervalTime) external onlyGuardian {
        require(_intervalTime > 0, "Invalid interval time");
        rewardIndex = _rewardIndex;
        claimIntervalTimeStart = _intervalStart;
        claimIntervalTime = _intervalTime;
    }

    /// @notice Simnet: set the RPL inflation waiting to be distributed.
    function simSetPendingRPLRewards(uint256 _amount) external onlyGuardian { pendingRPL = _amount; }

    /// @notice Simnet: set a claiming contract percentage (1e18 = 100 %).
    function simSetClaimingContractPerc(string calldata _claimingContract, uint256 _perc) external onlyGuardian {
        require(_perc <= 1 ether, "Invalid percentage");
        claimingPerc[keccak256(bytes(_claimingContract))] = _perc;
    }

    /// @notice Simnet: tree version passed to the distributor for newly executed intervals (1 on Saturn).
    function simSetRelayTreeVersion(uint256 _treeVersion) external onlyGuardian {
        require(_treeVersion <= 1, "Invalid tree version");
        relayTreeVersion = _treeVersion;
    }

    // ---- internals ----

    function _settings() private view returns (RocketDAOProtocolSettingsNetwork) {
        return RocketDAOProtocolSettingsNetwork(getContractAddress("rocketDAOProtocolSettingsNetwork"));
    }

    function _networkTotals(RewardSubmission calldata _s) private pure returns (uint256 rpl, uint256 eth) {
        for (uint256 i = 0; i < _s.nodeRPL.length; i++) {
            rpl += _s.nodeRPL[i] + _s.trustedNodeRPL[i];
            eth += _s.nodeETH[i];
        }
    }

    function _execute(RewardSubmission calldata _s) private {
        uint256 index = rewardIndex;
        rewardIndex = index + 1;
        uint256 start = claimIntervalTimeStart;
        uint256 end = start + claimIntervalTime * _s.intervalsPassed;
        claimIntervalTimeStart = end;
        executionBlock[index] = block.number;
        executionAddress[index] = address(this);
        emit RewardSnapshot(index, _s, start, end, block.timestamp);

        (uint256 nodeRPLTotal, uint256 nodeETHTotal) = _networkTotals(_s);

        // RPL: mint what is distributed out of the pending inflation.
        uint256 rplTotal = nodeRPLTotal + _s.treasuryRPL;
        require(rplTotal <= pendingRPL, "Invalid RPL rewards");
        pendingRPL -= rplTotal;
        RocketTokenRPL rpl = RocketTokenRPL(getContractAddress("rocketTokenRPL"));
        if (_s.treasuryRPL > 0) {
            rpl.mint(getContractAddress("rocketClaimDAO"), _s.treasuryRPL);
        }
        address distributor = getContractAddress("rocketMerkleDistributorMainnet");
        if (nodeRPLTotal > 0) {
            rpl.mint(distributor, nodeRPLTotal);
        }

        // ETH: the Smoothing Pool pays up to smoothingPoolETH, the voter-share vault the rest.
        uint256 ethTotal = nodeETHTotal + _s.userETH + _s.treasuryETH;
        uint256 fromSP = _s.smoothingPoolETH < ethTotal ? _s.smoothingPoolETH : ethTotal;
        uint256 fromVault = ethTotal - fromSP;
        require(fromVault <= pendingVoterShare, "Insufficient voter share");
        pendingVoterShare -= fromVault;
        if (fromSP > 0) {
            RocketSmoothingPool(payable(getContractAddress("rocketSmoothingPool"))).withdrawEther(address(this), fromSP);
        }
        if (_s.userETH > 0) {
            _send(getContractAddress("rocketTokenRETH"), _s.userETH);
        }
        if (_s.treasuryETH > 0) {
            _send(getContractAddress("rocketClaimDAO"), _s.treasuryETH);
        }
        RocketMerkleDistributorMainnet(payable(distributor)).relayRewards{value: nodeETHTotal}(index, relayTreeVersion, _s.merkleRoot, nodeRPLTotal, nodeETHTotal);
    }

    function _send(address _to, uint256 _amount) private {
        (bool ok, ) = _to.call{value: _amount}("");
        require(ok, "ETH transfer failed");
    }
}

/// @notice Merkle distributor for reward network 0. Tree version 0 uses the 116-byte leaf
/// (node, network, RPL, SP ETH); tree version 1 the 148-byte leaf (+ voter ETH).
/// Proofs use sorted-pair keccak256 hashing.
contract RocketMerkleDistributorMainnet is RocketBase {
    event RewardsRelayed(uint256 indexed intervalIndex, uint256 treeVersion, bytes32 merkleRoot, uint256 rewardsRPL, uint256 rewardsETH);
    event RewardsClaimed(address indexed claimer, Claim[] claims);

    struct Claim {
        uint256 rewardIndex;
        uint256 amountRPL;
        uint256 amountSmoothingPoolETH;
        uint256 amountVoterETH;
        bytes32[] merkleProof;
    }

    struct Interval {
        bool exists;
        uint8 treeVersion;
        bytes32 merkleRoot;
    }

    mapping(uint256 => Interval) private intervals;
    mapping(uint256 => mapping(address => bool)) private claimed;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    receive() external payable {}

    function getMerkleRoot(uint256 _intervalIndex) external view returns (bytes32) { return intervals[_intervalIndex].merkleRoot; }
    function getTreeVersion(uint256 _intervalIndex) external view returns (uint256) { return intervals[_intervalIndex].treeVersion; }
    function isClaimed(uint256 _intervalIndex, address _claimer) external view returns (bool) { return claimed[_intervalIndex][_claimer]; }

    function relayRewards(uint256 _intervalIndex, uint256 _treeVersion, bytes32 _merkleRoot, uint256 _rewardsRPL, uint256 _rewardsETH) external payable {
        require(msg.sender == getContractAddress("rocketRewardsPool") || isGuardian(msg.sender), "Only the rewards pool can relay");
        require(msg.value == _rewardsETH, "Incorrect ETH value");
        require(_treeVersion <= 1, "Invalid tree version");
        require(!intervals[_intervalIndex].exists, "Interval already relayed");
        intervals[_intervalIndex] = Interval(true, uint8(_treeVersion), _merkleRoot);
        emit RewardsRelayed(_intervalIndex, _treeVersion, _merkleRoot, _rewardsRPL, _rewardsETH);
    }

    /// @notice Claim rewards for `_nodeAddress`; paid to the node's withdrawal address. Callable by the node or
    /// its withdrawal address.
    function claim(address _nodeAddress, Claim[] calldata _claims) external {
        address withdrawalAddress = rocketStorage.getNodeWithdrawalAddress(_nodeAddress);
        require(msg.sender == _nodeAddress || msg.sender == withdrawalAddress, "Can only claim from node or withdrawal address");
        uint256 totalRPL;
        uint256 totalETH;
        for (uint256 i = 0; i < _claims.length; i++) {
            Claim calldata c = _claims[i];
            Interval storage iv = intervals[c.rewardIndex];
            require(iv.exists, "Interval not relayed");
            require(!claimed[c.rewardIndex][_nodeAddress], "Already claimed");
            bytes32 leaf;
            if (iv.treeVersion == 0) {
                require(c.amountVoterETH == 0, "Voter ETH not supported by tree version 0");
                leaf = keccak256(abi.encodePacked(_nodeAddress, uint256(0), c.amountRPL, c.amountSmoothingPoolETH));
            } else {
                leaf = keccak256(abi.encodePacked(_nodeAddress, uint256(0), c.amountRPL, c.amountSmoothingPoolETH, c.amountVoterETH));
            }
            require(_verify(c.merkleProof, iv.merkleRoot, leaf), "Invalid proof");
            claimed[c.rewardIndex][_nodeAddress] = true;
            totalRPL += c.amountRPL;
            totalETH += c.amountSmoothingPoolETH + c.amountVoterETH;
        }
        emit RewardsClaimed(_nodeAddress, _claims);
        if (totalRPL > 0) {
            require(RocketTokenRPL(getContractAddress("rocketTokenRPL")).transfer(withdrawalAddress, totalRPL), "RPL transfer failed");
        }
        if (totalETH > 0) {
            (bool ok, ) = withdrawalAddress.call{value: totalETH}("");
            require(ok, "ETH transfer failed");
        }
    }

    function _verify(bytes32[] calldata _proof, bytes32 _root, bytes32 _leaf) private pure returns (bool) {
        bytes32 h = _leaf;
        for (uint256 i = 0; i < _proof.length; i++) {
            bytes32 p = _proof[i];
            h = h <= p ? keccak256(abi.encodePacked(h, p)) : keccak256(abi.encodePacked(p, h));
        }
        return h == _root;
    }
}
