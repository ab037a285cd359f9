// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";

/// @notice Registered nodes, registration times, reward networks and Smoothing Pool registration state.
contract RocketNodeManager is RocketBase {
    event NodeRegistered(address indexed node, uint256 time);
    event NodeRewardNetworkChanged(address indexed node, uint256 network);
    event NodeSmoothingPoolStateChanged(address indexed node, bool state);

    struct Node {
        bool exists;
        bool spRegistered;
        uint256 registrationTime;
        uint256 rewardNetwork;
        uint256 spChangedTime;
        string timezone;
    }

    address[] private nodeList;
    mapping(address => Node) private nodes;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getNodeCount() external view returns (uint256) { return nodeList.length; }

    function getNodeAt(uint256 _index) external view returns (address) {
        require(_index < nodeList.length, "Node index out of range");
        return nodeList[_index];
    }

    function getNodeAddresses(uint256 _offset, uint256 _limit) external view returns (address[] memory out) {
        uint256 n = nodeList.length;
        if (_offset >= n) {
            return new address[](0);
        }
        uint256 end = _limit == 0 || _offset + _limit > n ? n : _offset + _limit;
        out = new address[](end - _offset);
        for (uint256 i = _offset; i < end; i++) {
            out[i - _offset] = nodeList[i];
        }
    }

    function getNodeExists(address _nodeAddress) public view returns (bool) { return nodes[_nodeAddress].exists; }
    function getNodeRegistrationTime(address _nodeAddress) external view returns (uint256) { return nodes[_nodeAddress].registrationTime; }
    function getRewardNetwork(address _nodeAddress) external view returns (uint256) { return nodes[_nodeAddress].rewardNetwork; }
    function getNodeTimezoneLocation(address _nodeAddress) external view returns (string memory) { return nodes[_nodeAddress].timezone; }
    function getSmoothingPoolRegistrationState(address _nodeAddress) external view returns (bool) { return nodes[_nodeAddress].spRegistered; }
    function getSmoothingPoolRegistrationChanged(address _nodeAddress) external view returns (uint256) { return nodes[_nodeAddress].spChangedTime; }
    function getNodeWithdrawalAddress(address _nodeAddress) external view returns (address) { return rocketStorage.getNodeWithdrawalAddress(_nodeAddress); }

    function getFeeDistributorInitialised(address _nodeAddress) external view returns (bool) {
        address proxy = RocketNodeDistributorFactory(payable(getContractAddress("rocketNodeDistributorFactory"))).getProxyAddress(_nodeAddress);
        return proxy.code.length > 0;
    }

    /// @notice Register the calling account as a node (mainnet entry point).
    function registerNode(string calldata _timezoneLocation) external {
        _register(msg.sender, block.timestamp, 0, _timezoneLocation);
    }

    /// @notice Opt the calling node in or out of the Smoothing Pool (mainnet entry point; the mainnet
    /// one-change-per-interval rule is not enforced here).
    function setSmoothingPoolRegistrationState(bool _state) external {
        require(nodes[msg.sender].exists, "The node is not registered in the network");
        require(nodes[msg.sender].spRegistered != _state, "Invalid state change");
        _setSP(msg.sender, _state, block.timestamp);
    }

    /// @notice Simnet: register a node with an explicit registration time and reward network.
    function simRegisterNode(address _nodeAddress, uint256 _registrationTime, uint256 _rewardNetwork, string calldata _timezoneLocation) external onlyGuardian {
        _register(_nodeAddress, _registrationTime, _rewardNetwork, _timezoneLocation);
    }

    /// @notice Simnet: set the Smoothing Pool registration state and its change time.
    function simSetSmoothingPoolRegistration(address _nodeAddress, bool _state, uint256 _changedTime) external onlyGuardian {
        require(nodes[_nodeAddress].exists, "The node is not registered in the network");
        _setSP(_nodeAddress, _state, _changedTime);
    }

    /// @notice Simnet: set the node's reward network.
    function simSetRewardNetwork(address _nodeAddress, uint256 _network) external onlyGuardian {
        require(nodes[_nodeAddress].exists, "The node is not registered in the network");
        nodes[_nodeAddress].rewardNetwork = _network;
        emit NodeRewardNetworkChanged(_nodeAddress, _network);
    }

    function _register(address _nodeAddress, uint256 _time, uint256 _network, string calldata _timezone) private {
        require(_nodeAddress != address(0), "Invalid node address");
        require(!nodes[_nodeAddress].exists, "The node is already registered in the Rocket Pool network");
        Node storage n = nodes[_nodeAddress];
        n.exists = true;
        n.registrationTime = _time;
        n.rewardNetwork = _network;
        n.timezone = _timezone;
        nodeList.push(_nodeAddress);
        emit NodeRegistered(_nodeAddress, _time);
    }

    function _setSP(address _nodeAddress, bool _state, uint256 _time) private {
        nodes[_nodeAddress].spRegistered = _state;
        nodes[_nodeAddress].spChangedTime = _time;
        emit NodeSmoothingPoolStateChanged(_nodeAddress, _state);
    }
}

/// @notice Node fee distributor: receives a node's execution-layer rewards when it is not in the Smoothing Pool.
contract RocketNodeDistributor {
    address private immutable nodeAddress;

    constructor(address _nodeAddress) {
        nodeAddress = _nodeAddress;
    }

    receive() external payable {}

    function getNodeAddress() external view returns (address) { return nodeAddress; }
}

/// @notice Deterministic (CREATE2) fee-distributor addresses per node.
contract RocketNodeDistributorFactory is RocketBase {
    event ProxyCreated(address indexed nodeAddress, address proxy);

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    function getProxyBytecode() public pure returns (bytes memory) {
        return type(RocketNodeDistributor).creationCode;
    }

    function getProxyAddress(address _nodeAddress) public view returns (address) {
        bytes32 initHash = keccak256(abi.encodePacked(getProxyBytecode(), abi.encode(_nodeAddress)));
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), bytes32(uint256(uint160(_nodeAddress))), initHash));
        return address(uint160(uint256(h)));
    }

    /// @notice Deploy the node's distributor; callable by the guardian or the node itself.
    function createProxy(address _nodeAddress) external returns (address proxy) {
        require(isGuardian(msg.sender) || msg.sender == _nodeAddress, "Only the node or the guardian");
        proxy = address(new RocketNodeDistributor{salt: bytes32(uint256(uint160(_nodeAddress)))}(_nodeAddress));
        emit ProxyCreated(_nodeAddress, proxy);
    }
}

/// @notice Node RPL stakes (legacy and megapool) and megapool ETH bonded.
contract RocketNodeStaking is RocketBase {
    event StakeUpdated(address indexed node, uint256 legacyRPL, uint256 megapoolRPL, uint256 megapoolETHBonded);

    mapping(address => uint256) private legacyRPL;
    mapping(address => uint256) private megapoolRPL;
    mapping(address => uint256) private megapoolETHBonded;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    /// @notice Pre-Saturn total stake; on Saturn this equals the legacy stake.
    function getNodeRPLStake(address _nodeAddress) external view returns (uint256) { return legacyRPL[_nodeAddress]; }
    function getNodeLegacyStakedRPL(address _nodeAddress) external view returns (uint256) { return legacyRPL[_nodeAddress]; }
    function getNodeMegapoolStakedRPL(address _nodeAddress) external view returns (uint256) { return megapoolRPL[_nodeAddress]; }
    function getNodeStakedRPL(address _nodeAddress) external view returns (uint256) { return legacyRPL[_nodeAddress] + megapoolRPL[_nodeAddress]; }
    function getNodeMegapoolETHBonded(address _nodeAddress) external view returns (uint256) { return megapoolETHBonded[_nodeAddress]; }

    /// @notice Simnet: set a node's stakes.
    function simSetNodeStake(address _nodeAddress, uint256 _legacyRPL, uint256 _megapoolRPL, uint256 _megapoolETHBonded) external onlyGuardian {
        legacyRPL[_nodeAddress] = _legacyRPL;
        megapoolRPL[_nodeAddress] = _megapoolRPL;
        megapoolETHBonded[_nodeAddress] = _megapoolETHBonded;
        emit StakeUpdated(_nodeAddress, _legacyRPL, _megapoolRPL, _megapoolETHBonded);
    }
}
