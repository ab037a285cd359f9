// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";

/// @notice Oracle-DAO membership with join times. Members are seeded by the guardian.
contract RocketDAONodeTrusted is RocketBase {
    event MemberJoined(address indexed nodeAddress, uint256 time);
    event MemberLeave(address indexed nodeAddress, uint256 time);

    address[] private members;
    mapping(address => uint256) private memberIndexPlusOne;
    mapping(address => uint256) private joinedTime;
    mapping(address => string) private memberID;
    mapping(address => string) private memberURL;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getMemberCount() external view returns (uint256) { return members.length; }

    function getMemberAt(uint256 _index) external view returns (address) {
        require(_index < members.length, "Member index out of range");
        return members[_index];
    }

    function getMemberIsValid(address _nodeAddress) external view returns (bool) { return memberIndexPlusOne[_nodeAddress] != 0; }
    function getMemberJoinedTime(address _nodeAddress) external view returns (uint256) { return joinedTime[_nodeAddress]; }
    function getMemberID(address _nodeAddress) external view returns (string memory) { return memberID[_nodeAddress]; }
    function getMemberUrl(address _nodeAddress) external view returns (string memory) { return memberURL[_nodeAddress]; }
    function getMemberIsChallenged(address) external pure returns (bool) { return false; }

    /// @notice Simnet: add a member with an explicit join time (scenario seeding).
    function simAddMember(address _nodeAddress, string calldata _id, string calldata _url, uint256 _joinedTime) external onlyGuardian {
        require(_nodeAddress != address(0), "Invalid node address");
        require(memberIndexPlusOne[_nodeAddress] == 0, "Member already exists");
        members.push(_nodeAddress);
        memberIndexPlusOne[_nodeAddress] = members.length;
        joinedTime[_nodeAddress] = _joinedTime;
        memberID[_nodeAddress] = _id;
        memberURL[_nodeAddress] = _url;
        emit MemberJoined(_nodeAddress, _joinedTime);
    }

    /// @notice Simnet: remove a member (swap with the last one, like an address set).
    function simRemoveMember(address _nodeAddress) external onlyGuardian {
        uint256 ip1 = memberIndexPlusOne[_nodeAddress];
        require(ip1 != 0, "Not a member");
        address last = members[members.length - 1];
        members[ip1 - 1] = last;
        memberIndexPlusOne[last] = ip1;
        members.pop();
        delete memberIndexPlusOne[_nodeAddress];
        delete joinedTime[_nodeAddress];
        emit MemberLeave(_nodeAddress, block.timestamp);
    }
}

/// @notice Setting storage shared by the settings contracts: values keyed by path, writable by the guardian
/// (stands in for pDAO/oDAO proposals).
abstract contract RocketSettingsBase is RocketBase {
    event SettingUintSet(string path, uint256 value);
    event SettingBoolSet(string path, bool value);

    mapping(bytes32 => uint256) private uintSettings;
    mapping(bytes32 => bool) private boolSettings;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getSettingUint(string memory _settingPath) public view returns (uint256) { return uintSettings[keccak256(bytes(_settingPath))]; }
    function getSettingBool(string memory _settingPath) public view returns (bool) { return boolSettings[keccak256(bytes(_settingPath))]; }

    function setSettingUint(string memory _settingPath, uint256 _value) external onlyGuardian { _setUint(_settingPath, _value); }
    function setSettingBool(string memory _settingPath, bool _value) external onlyGuardian { _setBool(_settingPath, _value); }

    function _setUint(string memory _settingPath, uint256 _value) internal {
        uintSettings[keccak256(bytes(_settingPath))] = _value;
        emit SettingUintSet(_settingPath, _value);
    }

    function _setBool(string memory _settingPath, bool _value) internal {
        boolSettings[keccak256(bytes(_settingPath))] = _value;
        emit SettingBoolSet(_settingPath, _value);
    }
}

/// @notice Protocol network settings used by the oracle duties.
contract RocketDAOProtocolSettingsNetwork is RocketSettingsBase {
    constructor(RocketStorage _rocketStorage) RocketSettingsBase(_rocketStorage) {
        _setUint("network.consensus.threshold", 0.51 ether);
        _setUint("network.penalty.threshold", 0.51 ether);
        _setBool("network.submit.rewards.enabled", true);
    }

    function getNodeConsensusThreshold() external view returns (uint256) { return getSettingUint("network.consensus.threshold"); }
    function getNodePenaltyThreshold() external view returns (uint256) { return getSettingUint("network.penalty.threshold"); }
    function getSubmitRewardsEnabled() external view returns (bool) { return getSettingBool("network.submit.rewards.enabled"); }
}

/// @notice Protocol node settings (minimum RPL stake per minipool; 0 since RPIP-62).
contract RocketDAOProtocolSettingsNode is RocketSettingsBase {
    constructor(RocketStorage _rocketStorage) RocketSettingsBase(_rocketStorage) {
        _setUint("node.per.minipool.stake.minimum", 0);
    }

    function getMinimumPerMinipoolStake() external view returns (uint256) { return getSettingUint("node.per.minipool.stake.minimum"); }
}

/// @notice Megapool settings (defaults from RPIP-72 / contracts v1.4).
contract RocketDAOProtocolSettingsMegapool is RocketSettingsBase {
    constructor(RocketStorage _rocketStorage) RocketSettingsBase(_rocketStorage) {
        _setUint("notify.threshold", 112);
        _setUint("late.notify.fine", 0.05 ether);
        _setUint("user.distribute.delay", 1575);
        _setUint("user.distribute.delay.shortfall", 6750);
        _setUint("megapool.time.before.dissolve", 28 days);
        _setUint("megapool.dissolve.penalty", 0.05 ether);
        _setUint("maximum.megapool.eth.penalty", 612 ether);
        _setUint("megapool.penalty.threshold", 0.51 ether);
        _setUint("sim.slots.per.epoch", 32);
    }

    function getNotifyThreshold() external view returns (uint256) { return getSettingUint("notify.threshold"); }
    function getLateNotifyFine() external view returns (uint256) { return getSettingUint("late.notify.fine"); }
    function getUserDistributeDelay() external view returns (uint256) { return getSettingUint("user.distribute.delay"); }
    function getUserDistributeDelayWithShortfall() external view returns (uint256) { return getSettingUint("user.distribute.delay.shortfall"); }
    function getTimeBeforeDissolve() external view returns (uint256) { return getSettingUint("megapool.time.before.dissolve"); }
    function getDissolvePenalty() external view returns (uint256) { return getSettingUint("megapool.dissolve.penalty"); }
    function getMaximumEthPenalty() external view returns (uint256) { return getSettingUint("maximum.megapool.eth.penalty"); }
    function getPenaltyThreshold() external view returns (uint256) { return getSettingUint("megapool.penalty.threshold"); }
    /// @notice Simnet only: beacon slots per epoch used to turn a proof slot into an epoch (32 on mainnet).
    function getSlotsPerEpoch() external view returns (uint256) { return getSettingUint("sim.slots.per.epoch"); }
}

/// @notice oDAO rewards settings: which reward networks are enabled (network 0 always is).
contract RocketDAONodeTrustedSettingsRewards is RocketSettingsBase {
    constructor(RocketStorage _rocketStorage) RocketSettingsBase(_rocketStorage) {}

    function getNetworkEnabled(uint256 _network) external view returns (bool) {
        if (_network == 0) {
            return true;
        }
        return getSettingBool(string(abi.encodePacked("rewards.network.enabled.", _uintToString(_network))));
    }

    /// @notice Simnet: enable or disable a reward network.
    function simSetNetworkEnabled(uint256 _network, bool _enabled) external onlyGuardian {
        _setBool(string(abi.encodePacked("rewards.network.enabled.", _uintToString(_network))), _enabled);
    }

    function _uintToString(uint256 _v) private pure returns (string memory) {
        if (_v == 0) {
            return "0";
        }
        uint256 digits;
        for (uint256 t = _v; t != 0; t /= 10) {
            digits++;
        }
        bytes memory b = new bytes(digits);
        for (; _v != 0; _v /= 10) {
            digits--;
            b[digits] = bytes1(uint8(48 + (_v % 10)));
        }
        return string(b);
    }
}
