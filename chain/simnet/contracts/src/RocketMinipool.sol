// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";

/// @notice Mainnet MinipoolStatus order: Initialised, Prelaunch, Staking, Withdrawable, Dissolved.
enum MinipoolStatus {
    Initialised,
    Prelaunch,
    Staking,
    Withdrawable,
    Dissolved
}

/// @notice A legacy minipool: status, fee and bonds (getter ABI of the mainnet minipool delegate).
contract RocketMinipool is RocketBase {
    event StatusUpdated(uint8 indexed status, uint256 time);
    event BondUpdated(uint256 nodeDepositBalance, uint256 userDepositBalance, uint256 nodeFee, uint256 time);

    address private immutable nodeAddress;
    MinipoolStatus private status;
    uint256 private statusTime;
    uint256 private statusBlock;
    uint256 private nodeFee;
    uint256 private nodeDepositBalance;
    uint256 private userDepositBalance;
    bool private finalised;

    constructor(RocketStorage _rocketStorage, address _nodeAddress) RocketBase(_rocketStorage) {
        nodeAddress = _nodeAddress;
    }

    modifier onlySimController() {
        require(
            isGuardian(msg.sender) || msg.sender == getContractAddress("rocketMinipoolManager") ||
                msg.sender == getContractAddress("rocketMinipoolBondReducer"),
            "Only the minipool manager, bond reducer or guardian"
        );
        _;
    }

    receive() external payable {}

    function getNodeAddress() external view returns (address) { return nodeAddress; }
    function getStatus() external view returns (MinipoolStatus) { return status; }
    function getStatusTime() external view returns (uint256) { return statusTime; }
    function getStatusBlock() external view returns (uint256) { return statusBlock; }
    function getNodeFee() external view returns (uint256) { return nodeFee; }
    function getNodeDepositBalance() external view returns (uint256) { return nodeDepositBalance; }
    function getUserDepositBalance() external view returns (uint256) { return userDepositBalance; }
    function getFinalised() external view returns (bool) { return finalised; }

    /// @notice Simnet: set the status with an explicit status time.
    function simSetStatus(MinipoolStatus _status, uint256 _statusTime) external onlySimController {
        status = _status;
        statusTime = _statusTime;
        statusBlock = block.number;
        emit StatusUpdated(uint8(_status), _statusTime);
    }

    /// @notice Simnet: set bonds and fee.
    function simSetBond(uint256 _nodeDepositBalance, uint256 _userDepositBalance, uint256 _nodeFee) external onlySimController {
        require(_nodeFee <= 1 ether, "Invalid node fee");
        nodeDepositBalance = _nodeDepositBalance;
        userDepositBalance = _userDepositBalance;
        nodeFee = _nodeFee;
        emit BondUpdated(_nodeDepositBalance, _userDepositBalance, _nodeFee, block.timestamp);
    }

    /// @notice Simnet: mark the minipool finalised.
    function simSetFinalised(bool _finalised) external onlySimController {
        finalised = _finalised;
    }
}

/// @notice Minipool registry: enumeration per network and per node, pubkey lookups.
contract RocketMinipoolManager is RocketBase {
    event MinipoolCreated(address indexed minipool, address indexed node, uint256 time);

    address[] private minipools;
    mapping(address => address[]) private nodeMinipools;
    mapping(address => bool) private exists;
    mapping(address => bytes) private pubkeys;
    mapping(bytes32 => address) private byPubkey;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getMinipoolCount() external view returns (uint256) { return minipools.length; }

    function getMinipoolAt(uint256 _index) external view returns (address) {
        require(_index < minipools.length, "Minipool index out of range");
        return minipools[_index];
    }

    function getNodeMinipoolCount(address _nodeAddress) external view returns (uint256) { return nodeMinipools[_nodeAddress].length; }

    function getNodeMinipoolAt(address _nodeAddress, uint256 _index) external view returns (address) {
        require(_index < nodeMinipools[_nodeAddress].length, "Minipool index out of range");
        return nodeMinipools[_nodeAddress][_index];
    }

    function getMinipoolExists(address _minipoolAddress) external view returns (bool) { return exists[_minipoolAddress]; }
    function getMinipoolPubkey(address _minipoolAddress) external view returns (bytes memory) { return pubkeys[_minipoolAddress]; }
    function getMinipoolByPubkey(bytes calldata _pubkey) external view returns (address) { return byPubkey[keccak256(_pubkey)]; }

    /// @notice Simnet: create a minipool for a registered node with its validator pubkey, status, fee and bonds.
    function simCreateMinipool(
        address _nodeAddress,
        bytes calldata _pubkey,
        MinipoolStatus _status,
        uint256 _statusTime,
        uint256 _nodeFee,
        uint256 _nodeDepositBalance,
        uint256 _userDepositBalance
    ) external onlyGuardian returns (address) {
        require(RocketNodeManagerView(getContractAddress("rocketNodeManager")).getNodeExists(_nodeAddress), "The node is not registered in the network");
        require(_pubkey.length == 48, "Invalid validator pubkey length");
        require(byPubkey[keccak256(_pubkey)] == address(0), "Validator pubkey is in use");
        RocketMinipool mp = new RocketMinipool(rocketStorage, _nodeAddress);
        address a = address(mp);
        minipools.push(a);
        nodeMinipools[_nodeAddress].push(a);
        exists[a] = true;
        pubkeys[a] = _pubkey;
        byPubkey[keccak256(_pubkey)] = a;
        mp.simSetStatus(_status, _statusTime);
        mp.simSetBond(_nodeDepositBalance, _userDepositBalance, _nodeFee);
        emit MinipoolCreated(a, _nodeAddress, block.timestamp);
        return a;
    }
}

interface RocketNodeManagerView {
    function getNodeExists(address _nodeAddress) external view returns (bool);
}

/// @notice Bond-reduction history per minipool (last reduction only, like mainnet).
contract RocketMinipoolBondReducer is RocketBase {
    event BondReduced(address indexed minipool, uint256 prevBond, uint256 newBond, uint256 time);

    mapping(address => uint256) private lastTime;
    mapping(address => uint256) private prevValue;
    mapping(address => uint256) private prevNodeFee;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getLastBondReductionTime(address _minipoolAddress) external view returns (uint256) { return lastTime[_minipoolAddress]; }
    function getLastBondReductionPrevValue(address _minipoolAddress) external view returns (uint256) { return prevValue[_minipoolAddress]; }
    function getLastBondReductionPrevNodeFee(address _minipoolAddress) external view returns (uint256) { return prevNodeFee[_minipoolAddress]; }

    /// @notice Simnet: record a bond reduction at `_time` and apply the new bond and fee to the minipool
    /// (user deposit becomes 32 ETH minus the new bond).
    function simReduceBond(address payable _minipoolAddress, uint256 _time, uint256 _newBond, uint256 _newNodeFee) external onlyGuardian {
        RocketMinipool mp = RocketMinipool(_minipoolAddress);
        require(_newBond < 32 ether, "Invalid bond");
        uint256 oldBond = mp.getNodeDepositBalance();
        require(_newBond < oldBond, "Bond must decrease");
        lastTime[_minipoolAddress] = _time;
        prevValue[_minipoolAddress] = oldBond;
        prevNodeFee[_minipoolAddress] = mp.getNodeFee();
        mp.simSetBond(_newBond, 32 ether - _newBond, _newNodeFee);
        emit BondReduced(_minipoolAddress, oldBond, _newBond, _time);
    }
}

/// @notice Minipool penalties: oDAO votes per (minipool, block); the count is kept in RocketStorage under
/// keccak256(abi.encodePacked("network.penalties.penalty", minipool)).
contract RocketNetworkPenalties is RocketBase {
    event PenaltySubmitted(address indexed from, address minipoolAddress, uint256 block, uint256 time);
    event PenaltyUpdated(address indexed minipoolAddress, uint256 penalty, uint256 time);

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getPenaltyCount(address _minipoolAddress) public view returns (uint256) {
        return rocketStorage.getUint(keccak256(abi.encodePacked("network.penalties.penalty", _minipoolAddress)));
    }

    function getSubmissionCount(address _minipoolAddress, uint256 _block) public view returns (uint256) {
        return rocketStorage.getUint(keccak256(abi.encodePacked("network.penalties.submitted.count", _minipoolAddress, _block)));
    }

    function getPenaltyExecuted(address _minipoolAddress, uint256 _block) public view returns (bool) {
        return rocketStorage.getBool(keccak256(abi.encodePacked("network.penalties.executed", _minipoolAddress, _block)));
    }

    function submitPenalty(address _minipoolAddress, uint256 _block) external onlyTrustedNode {
        require(RocketMinipoolManager(getContractAddress("rocketMinipoolManager")).getMinipoolExists(_minipoolAddress), "Invalid minipool");
        require(_block <= block.number, "Penalty block is in the future");
        bytes32 nodeKey = keccak256(abi.encodePacked("network.penalties.submitted.node", msg.sender, _minipoolAddress, _block));
        require(!rocketStorage.getBool(nodeKey), "Duplicate submission from node");
        rocketStorage.setBool(nodeKey, true);
        bytes32 countKey = keccak256(abi.encodePacked("network.penalties.submitted.count", _minipoolAddress, _block));
        uint256 count = rocketStorage.getUint(countKey) + 1;
        rocketStorage.setUint(countKey, count);
        emit PenaltySubmitted(msg.sender, _minipoolAddress, _block, block.timestamp);
        if (!getPenaltyExecuted(_minipoolAddress, _block) && consensusReached(count, _threshold())) {
            _apply(_minipoolAddress, _block);
        }
    }

    function executeUpdatePenalty(address _minipoolAddress, uint256 _block) external {
        require(!getPenaltyExecuted(_minipoolAddress, _block), "Penalty already applied");
        require(consensusReached(getSubmissionCount(_minipoolAddress, _block), _threshold()), "Consensus has not been reached");
        _apply(_minipoolAddress, _block);
    }

    /// @notice Simnet: set a minipool's penalty count directly.
    function simSetPenaltyCount(address _minipoolAddress, uint256 _count) external onlyGuardian {
        rocketStorage.setUint(keccak256(abi.encodePacked("network.penalties.penalty", _minipoolAddress)), _count);
        emit PenaltyUpdated(_minipoolAddress, _count, block.timestamp);
    }

    function _threshold() private view returns (uint256) {
        return RocketSettingsNetworkView(getContractAddress("rocketDAOProtocolSettingsNetwork")).getNodePenaltyThreshold();
    }

    function _apply(address _minipoolAddress, uint256 _block) private {
        rocketStorage.setBool(keccak256(abi.encodePacked("network.penalties.executed", _minipoolAddress, _block)), true);
        bytes32 penaltyKey = keccak256(abi.encodePacked("network.penalties.penalty", _minipoolAddress));
        rocketStorage.addUint(penaltyKey, 1);
        emit PenaltyUpdated(_minipoolAddress, rocketStorage.getUint(penaltyKey), block.timestamp);
    }
}

interface RocketSettingsNetworkView {
    function getNodePenaltyThreshold() external view returns (uint256);
}
