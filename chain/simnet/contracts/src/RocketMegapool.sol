// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";
import "./RocketDAO.sol";

/// @notice Saturn megapool validator record (field order of RocketMegapoolStorageLayout.ValidatorInfo).
struct ValidatorInfo {
    uint32 lastAssignmentTime;
    uint32 lastRequestedValue;
    uint32 lastRequestedBond;
    uint32 depositValue;
    bool staked;
    bool exited;
    bool inQueue;
    bool inPrestake;
    bool expressUsed;
    bool dissolved;
    bool exiting;
    bool locked;
    uint64 exitBalance;
    uint64 lockedTime;
}

/// @notice One megapool per node (deployed directly, not behind a proxy), with the getter ABI of the
/// mainnet megapool delegate. State changes other than seeding go through the megapool manager.
contract RocketMegapoolDelegate is RocketBase {
    uint64 private constant FAR_FUTURE_EPOCH = type(uint64).max;

    event MegapoolValidatorEnqueued(uint256 indexed validatorId, uint256 time);
    event MegapoolValidatorLocked(uint256 indexed validatorId, uint256 time);
    event MegapoolValidatorUnlocked(uint256 indexed validatorId, uint256 time);
    event MegapoolValidatorExiting(uint256 indexed validatorId, uint256 time);
    event MegapoolValidatorDissolved(uint256 indexed validatorId, uint256 time);
    event MegapoolDebtIncreased(uint256 amount, uint256 time);
    event MegapoolPenaltyApplied(uint256 amount, uint256 time);

    address private immutable nodeAddress;
    mapping(uint32 => ValidatorInfo) private validators;
    mapping(uint32 => bytes) private pubkeys;
    uint32 private numValidators;
    uint32 private numInactiveValidators;
    uint32 private numLockedValidators;
    uint32 private numExitingValidators;
    uint256 private debt;
    uint256 private refundValue;
    uint256 private nodeBond;
    uint256 private userCapital;
    uint256 private nodeQueuedBond;
    uint256 private userQueuedCapital;
    uint256 private assignedValue;
    uint256 private lastDistributionTime;

    constructor(RocketStorage _rocketStorage, address _nodeAddress) RocketBase(_rocketStorage) {
        nodeAddress = _nodeAddress;
    }

    modifier onlyMegapoolManager() {
        require(msg.sender == getContractAddress("rocketMegapoolManager"), "Only the megapool manager");
        _;
    }

    receive() external payable {}

    function getNodeAddress() external view returns (address) { return nodeAddress; }
    function getValidatorCount() external view returns (uint32) { return numValidators; }
    function getActiveValidatorCount() external view returns (uint32) { return numValidators - numInactiveValidators; }
    function getExitingValidatorCount() external view returns (uint32) { return numExitingValidators; }
    function getLockedValidatorCount() external view returns (uint32) { return numLockedValidators; }
    function getDebt() external view returns (uint256) { return debt; }
    function getRefundValue() external view returns (uint256) { return refundValue; }
    function getNodeBond() external view returns (uint256) { return nodeBond; }
    function getUserCapital() external view returns (uint256) { return userCapital; }
    function getNodeQueuedBond() external view returns (uint256) { return nodeQueuedBond; }
    function getUserQueuedCapital() external view returns (uint256) { return userQueuedCapital; }
    function getAssignedValue() external view returns (uint256) { return assignedValue; }
    function getLastDistributionTime() external view returns (uint256) { return lastDistributionTime; }

    function getWithdrawalCredentials() public view returns (bytes32) {
        return bytes32((uint256(0x01) << 248) | uint256(uint160(address(this))));
    }

    function getValidatorInfo(uint32 _validatorId) public view returns (ValidatorInfo memory) {
        require(_validatorId < numValidators, "Invalid validator ID");
        return validators[_validatorId];
    }

    function getValidatorPubkey(uint32 _validatorId) public view returns (bytes memory) {
        require(_validatorId < numValidators, "Invalid validator ID");
        return pubkeys[_validatorId];
    }

    function getValidatorInfoAndPubkey(uint32 _validatorId) external view returns (ValidatorInfo memory info, bytes memory pubkey) {
        return (getValidatorInfo(_validatorId), getValidatorPubkey(_validatorId));
    }

    // ---- manager-only state changes ----

    function addValidator(bytes calldata _pubkey, ValidatorInfo calldata _info) external onlyMegapoolManager returns (uint32 id) {
        id = numValidators;
        numValidators = id + 1;
        pubkeys[id] = _pubkey;
        validators[id] = _info;
        if (!_info.staked && !_info.inQueue && !_info.inPrestake && !_info.exiting && !_info.exited) {
            numInactiveValidators++;
        }
        if (_info.locked) {
            numLockedValidators++;
        }
        if (_info.exiting) {
            numExitingValidators++;
        }
        emit MegapoolValidatorEnqueued(id, block.timestamp);
    }

    function challengeExit(uint32 _validatorId) external onlyMegapoolManager {
        ValidatorInfo storage v = validators[_validatorId];
        require(_validatorId < numValidators, "Invalid validator ID");
        require(v.staked && !v.exiting && !v.exited, "Validator not staked or already exiting");
        if (!v.locked) {
            v.locked = true;
            numLockedValidators++;
        }
        v.lockedTime = uint64(block.timestamp);
        emit MegapoolValidatorLocked(_validatorId, block.timestamp);
    }

    function notifyExit(uint32 _validatorId, uint64 _withdrawableEpoch, uint64 _recentEpoch) external onlyMegapoolManager {
        ValidatorInfo storage v = validators[_validatorId];
        require(_validatorId < numValidators, "Invalid validator ID");
        require((v.staked || v.dissolved) && !v.exiting && !v.exited, "Validator not staked or already exiting");
        require(_withdrawableEpoch < FAR_FUTURE_EPOCH, "Validator is not exiting");
        v.exiting = true;
        numExitingValidators++;
        if (v.locked) {
            v.locked = false;
            numLockedValidators--;
        }
        uint256 threshold = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getNotifyThreshold();
        // Checked arithmetic: reverts if the withdrawable epoch is below the threshold (as on mainnet).
        if (uint256(_recentEpoch) > uint256(_withdrawableEpoch) - threshold) {
            uint256 fine = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getLateNotifyFine();
            debt += fine;
            emit MegapoolDebtIncreased(fine, block.timestamp);
        }
        emit MegapoolValidatorExiting(_validatorId, block.timestamp);
    }

    function notifyNotExit(uint32 _validatorId, uint256 _slotTimestamp) external onlyMegapoolManager {
        ValidatorInfo storage v = validators[_validatorId];
        require(_validatorId < numValidators, "Invalid validator ID");
        require(v.locked, "Validator not locked");
        require(_slotTimestamp >= v.lockedTime, "Proof is older than challenge");
        v.locked = false;
        numLockedValidators--;
        emit MegapoolValidatorUnlocked(_validatorId, block.timestamp);
    }

    /// @notice Time-based dissolve of a prestaked validator (anyone, after megapool.time.before.dissolve).
    function dissolveValidator(uint32 _validatorId) external {
        ValidatorInfo storage v = validators[_validatorId];
        require(_validatorId < numValidators, "Invalid validator ID");
        require(v.inPrestake, "Validator not prestaked");
        uint256 timeBefore = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getTimeBeforeDissolve();
        require(block.timestamp > uint256(v.lastAssignmentTime) + timeBefore, "Not enough time has passed to dissolve");
        uint256 penalty = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getDissolvePenalty();
        v.inPrestake = false;
        v.dissolved = true;
        v.lastAssignmentTime = 0;
        numInactiveValidators++;
        debt += penalty;
        emit MegapoolDebtIncreased(penalty, block.timestamp);
        emit MegapoolValidatorDissolved(_validatorId, block.timestamp);
    }

    function applyPenalty(uint256 _amount) external {
        require(msg.sender == getContractAddress("rocketMegapoolPenalties"), "Only the megapool penalties contract");
        debt += _amount;
        emit MegapoolPenaltyApplied(_amount, block.timestamp);
    }

    // ---- simnet seeding ----

    /// @notice Simnet: set the capital counters.
    function simSetCapital(uint256 _nodeBond, uint256 _userCapital, uint256 _nodeQueuedBond, uint256 _userQueuedCapital, uint256 _assignedValue, uint256 _refundValue)
        external
        onlyGuardian
    {
        nodeBond = _nodeBond;
        userCapital = _userCapital;
        nodeQueuedBond = _nodeQueuedBond;
        userQueuedCapital = _userQueuedCapital;
        assignedValue = _assignedValue;
        refundValue = _refundValue;
    }

    /// @notice Simnet: overwrite a validator's flags (counters follow the locked/exiting flags).
    function simSetValidatorInfo(uint32 _validatorId, ValidatorInfo calldata _info) external onlyGuardian {
        require(_validatorId < numValidators, "Invalid validator ID");
        ValidatorInfo storage v = validators[_validatorId];
        if (v.locked != _info.locked) {
            if (_info.locked) numLockedValidators++;
            else numLockedValidators--;
        }
        if (v.exiting != _info.exiting) {
            if (_info.exiting) numExitingValidators++;
            else numExitingValidators--;
        }
        validators[_validatorId] = _info;
    }
}

/// @notice Deploys megapools at CREATE2 addresses predictable from the node address.
contract RocketMegapoolFactory is RocketBase {
    event MegapoolDeployed(address indexed node, address megapool, uint256 time);

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getExpectedAddress(address _nodeAddress) public view returns (address) {
        bytes32 initHash = keccak256(abi.encodePacked(type(RocketMegapoolDelegate).creationCode, abi.encode(rocketStorage, _nodeAddress)));
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), bytes32(uint256(uint160(_nodeAddress))), initHash));
        return address(uint160(uint256(h)));
    }

    function getMegapoolDeployed(address _nodeAddress) external view returns (bool) {
        return getExpectedAddress(_nodeAddress).code.length > 0;
    }

    /// @notice Deploy the node's megapool (guardian for seeding, or the node itself).
    function deployContract(address _nodeAddress) external returns (address megapool) {
        require(isGuardian(msg.sender) || msg.sender == _nodeAddress, "Only the node or the guardian");
        require(_nodeAddress != address(0), "Invalid node address");
        megapool = address(new RocketMegapoolDelegate{salt: bytes32(uint256(uint160(_nodeAddress)))}(rocketStorage, _nodeAddress));
        rocketStorage.setBool(keccak256(abi.encodePacked("megapool.exists", megapool)), true);
        emit MegapoolDeployed(_nodeAddress, megapool, block.timestamp);
    }
}

/// @notice Global megapool validator list, oDAO exit challenges and (simulated-proof) exit notifications.
contract RocketMegapoolManager is RocketBase {
    uint256 private constant MAX_CHALLENGES = 50;
    bytes32 private constant LAST_CHALLENGER_KEY = keccak256("last.trusted.node.megapool.challenger");

    struct ExitChallenge {
        address megapool;
        uint32[] validatorIds;
    }

    struct GlobalValidator {
        address megapool;
        uint32 validatorId;
    }

    GlobalValidator[] private globalValidators;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getValidatorCount() external view returns (uint256) { return globalValidators.length; }

    function getValidatorInfo(uint256 _index) external view returns (bytes memory pubkey, ValidatorInfo memory validatorInfo, address megapool, uint32 validatorId) {
        require(_index < globalValidators.length, "Validator index out of range");
        GlobalValidator memory g = globalValidators[_index];
        RocketMegapoolDelegate m = RocketMegapoolDelegate(payable(g.megapool));
        return (m.getValidatorPubkey(g.validatorId), m.getValidatorInfo(g.validatorId), g.megapool, g.validatorId);
    }

    function getLastChallenger() public view returns (address) { return rocketStorage.getAddress(LAST_CHALLENGER_KEY); }

    /// @notice oDAO: lock validators whose exit notification is overdue (the off-chain watcher decides which).
    function challengeExit(ExitChallenge[] calldata _validators) external onlyTrustedNode {
        require(msg.sender != getLastChallenger(), "Member was last to challenge");
        uint256 total;
        for (uint256 i = 0; i < _validators.length; i++) {
            require(_megapoolExists(_validators[i].megapool), "Invalid megapool");
            total += _validators[i].validatorIds.length;
            require(total <= MAX_CHALLENGES, "Too many challenges");
            RocketMegapoolDelegate m = RocketMegapoolDelegate(payable(_validators[i].megapool));
            for (uint256 j = 0; j < _validators[i].validatorIds.length; j++) {
                m.challengeExit(_validators[i].validatorIds[j]);
            }
        }
        rocketStorage.setAddress(LAST_CHALLENGER_KEY, msg.sender);
    }

    /// @notice Simnet exit notification. Mainnet takes beacon-state proofs; here the caller (the node operator or
    /// the guardian) states the validator's withdrawable epoch and the slot of the state it read it from. The late
    /// fine applies iff slot/slotsPerEpoch > withdrawableEpoch - notify.threshold (slotsPerEpoch: sim.slots.per.epoch, 32).
    function notifyExit(address _megapool, uint32 _validatorId, uint64 _withdrawableEpoch, uint64 _slot) external {
        _requireNodeOrGuardian(_megapool);
        uint256 slotsPerEpoch = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getSlotsPerEpoch();
        require(slotsPerEpoch > 0, "Invalid slots per epoch");
        RocketMegapoolDelegate(payable(_megapool)).notifyExit(_validatorId, _withdrawableEpoch, uint64(_slot / slotsPerEpoch));
    }

    /// @notice Simnet counterpart of notifyNotExit (same trust model as notifyExit).
    function notifyNotExit(address _megapool, uint32 _validatorId, uint256 _slotTimestamp) external {
        _requireNodeOrGuardian(_megapool);
        RocketMegapoolDelegate(payable(_megapool)).notifyNotExit(_validatorId, _slotTimestamp);
    }

    /// @notice Simnet: add a validator to a megapool and to the global list.
    function simAddValidator(address _megapool, bytes calldata _pubkey, ValidatorInfo calldata _info) external onlyGuardian returns (uint256 globalIndex, uint32 validatorId) {
        require(_megapoolExists(_megapool), "Invalid megapool");
        require(_pubkey.length == 48, "Invalid validator pubkey length");
        validatorId = RocketMegapoolDelegate(payable(_megapool)).addValidator(_pubkey, _info);
        globalIndex = globalValidators.length;
        globalValidators.push(GlobalValidator(_megapool, validatorId));
    }

    function _megapoolExists(address _megapool) private view returns (bool) {
        return rocketStorage.getBool(keccak256(abi.encodePacked("megapool.exists", _megapool)));
    }

    function _requireNodeOrGuardian(address _megapool) private view {
        require(_megapoolExists(_megapool), "Invalid megapool");
        require(
            isGuardian(msg.sender) || msg.sender == RocketMegapoolDelegate(payable(_megapool)).getNodeAddress(),
            "Only the node operator or the guardian (simulated proof)"
        );
    }
}

/// @notice oDAO megapool penalties (MEV theft): votes per (megapool, block, amount), 51 % threshold,
/// at most maximum.megapool.eth.penalty per rolling 7 days.
contract RocketMegapoolPenalties is RocketBase {
    event PenaltySubmitted(address indexed from, address megapool, uint256 block, uint256 amount, uint256 time);
    event PenaltyApplied(address indexed megapool, uint256 block, uint256 amount, uint256 time);

    uint256 private constant WINDOW = 7 days;

    struct Applied {
        uint256 time;
        uint256 amount;
    }

    Applied[] private applied;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getVoteCount(address _megapool, uint256 _block, uint256 _amount) public view returns (uint256) {
        return rocketStorage.getUint(keccak256(abi.encodePacked("megapool.penalty.submission", _megapool, _block, _amount)));
    }

    function getPenaltyExecuted(address _megapool, uint256 _block) public view returns (bool) {
        return rocketStorage.getBool(keccak256(abi.encodePacked("megapool.penalty.executed", _megapool, _block)));
    }

    /// @notice Penalties applied in the last 7 days (sum).
    function getCurrentPenaltyRunningTotal() public view returns (uint256 total) {
        for (uint256 i = applied.length; i > 0; i--) {
            if (applied[i - 1].time + WINDOW <= block.timestamp) {
                break;
            }
            total += applied[i - 1].amount;
        }
    }

    function penalise(address _megapool, uint256 _block, uint256 _amount) external onlyTrustedNode {
        require(rocketStorage.getBool(keccak256(abi.encodePacked("megapool.exists", _megapool))), "Invalid megapool");
        require(_amount > 0, "Invalid penalty amount");
        require(_block < block.number, "Invalid block");
        bytes32 nodeKey = keccak256(abi.encodePacked("megapool.penalty.submission.node", msg.sender, _megapool, _block, _amount));
        require(!rocketStorage.getBool(nodeKey), "Duplicate submission from node");
        rocketStorage.setBool(nodeKey, true);
        bytes32 countKey = keccak256(abi.encodePacked("megapool.penalty.submission", _megapool, _block, _amount));
        uint256 count = rocketStorage.getUint(countKey) + 1;
        rocketStorage.setUint(countKey, count);
        emit PenaltySubmitted(msg.sender, _megapool, _block, _amount, block.timestamp);
        if (!getPenaltyExecuted(_megapool, _block) && consensusReached(count, _threshold())) {
            _apply(_megapool, _block, _amount);
        }
    }

    function executePenalty(address _megapool, uint256 _block, uint256 _amount) external {
        require(!getPenaltyExecuted(_megapool, _block), "Penalty already applied");
        require(consensusReached(getVoteCount(_megapool, _block, _amount), _threshold()), "Consensus has not been reached");
        _apply(_megapool, _block, _amount);
    }

    function _threshold() private view returns (uint256) {
        return RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getPenaltyThreshold();
    }

    function _apply(address _megapool, uint256 _block, uint256 _amount) private {
        uint256 max = RocketDAOProtocolSettingsMegapool(getContractAddress("rocketDAOProtocolSettingsMegapool")).getMaximumEthPenalty();
        require(getCurrentPenaltyRunningTotal() + _amount <= max, "Max penalty exceeded");
        rocketStorage.setBool(keccak256(abi.encodePacked("megapool.penalty.executed", _megapool, _block)), true);
        applied.push(Applied(block.timestamp, _amount));
        RocketMegapoolDelegate(payable(_megapool)).applyPenalty(_amount);
        emit PenaltyApplied(_megapool, _block, _amount, block.timestamp);
    }
}
