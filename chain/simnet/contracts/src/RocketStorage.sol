// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title RocketStorage (simnet)
/// @notice Key/value registry with the mainnet RocketStorage ABI for the functions the watchtower and treegen use.
/// Contract addresses live under keccak256(abi.encodePacked("contract.address", name)); a registered network
/// contract is flagged under keccak256(abi.encodePacked("contract.exists", address)).
/// Writes are allowed to the guardian (the simnet deployer, also used to seed scenarios) and to registered
/// network contracts.
contract RocketStorage {
    event GuardianChanged(address oldGuardian, address newGuardian);
    event NodeWithdrawalAddressSet(address indexed node, address indexed withdrawalAddress, uint256 time);

    address private guardian;
    address private newGuardian;
    bool private deployed;

    mapping(bytes32 => address) private addressStorage;
    mapping(bytes32 => uint256) private uintStorage;
    mapping(bytes32 => int256) private intStorage;
    mapping(bytes32 => bool) private boolStorage;
    mapping(bytes32 => bytes32) private bytes32Storage;
    mapping(bytes32 => string) private stringStorage;
    mapping(bytes32 => bytes) private bytesStorage;
    mapping(address => address) private withdrawalAddresses;
    mapping(address => address) private pendingWithdrawalAddresses;

    constructor() {
        guardian = msg.sender;
    }

    modifier onlyLatestRocketNetworkContract() {
        require(
            msg.sender == guardian || boolStorage[keccak256(abi.encodePacked("contract.exists", msg.sender))],
            "Invalid or outdated network contract"
        );
        _;
    }

    function getGuardian() external view returns (address) {
        return guardian;
    }

    function setGuardian(address _newAddress) external {
        require(msg.sender == guardian, "Is not guardian account");
        newGuardian = _newAddress;
    }

    function confirmGuardian() external {
        require(msg.sender == newGuardian, "Confirmation must come from new guardian address");
        address old = guardian;
        guardian = newGuardian;
        delete newGuardian;
        emit GuardianChanged(old, guardian);
    }

    function getDeployedStatus() external view returns (bool) {
        return deployed;
    }

    function setDeployedStatus() external {
        require(msg.sender == guardian, "Invalid guardian");
        deployed = true;
    }

    // Withdrawal addresses (a node without one withdraws to itself).
    function getNodeWithdrawalAddress(address _nodeAddress) public view returns (address) {
        address w = withdrawalAddresses[_nodeAddress];
        if (w == address(0)) {
            return _nodeAddress;
        }
        return w;
    }

    function getNodePendingWithdrawalAddress(address _nodeAddress) external view returns (address) {
        return pendingWithdrawalAddresses[_nodeAddress];
    }

    function setWithdrawalAddress(address _nodeAddress, address _newWithdrawalAddress, bool _confirm) external {
        require(_newWithdrawalAddress != address(0), "Invalid withdrawal address");
        require(
            msg.sender == getNodeWithdrawalAddress(_nodeAddress) || msg.sender == guardian,
            "Only a tx from a node's withdrawal address can update it"
        );
        if (_confirm) {
            withdrawalAddresses[_nodeAddress] = _newWithdrawalAddress;
            delete pendingWithdrawalAddresses[_nodeAddress];
            emit NodeWithdrawalAddressSet(_nodeAddress, _newWithdrawalAddress, block.timestamp);
        } else {
            pendingWithdrawalAddresses[_nodeAddress] = _newWithdrawalAddress;
        }
    }

    function confirmWithdrawalAddress(address _nodeAddress) external {
        require(msg.sender == pendingWithdrawalAddresses[_nodeAddress], "Confirmation must come from the pending withdrawal address");
        withdrawalAddresses[_nodeAddress] = msg.sender;
        delete pendingWithdrawalAddresses[_nodeAddress];
        emit NodeWithdrawalAddressSet(_nodeAddress, msg.sender, block.timestamp);
    }

    // Getters.
    function getAddress(bytes32 _key) external view returns (address) { return addressStorage[_key]; }
    function getUint(bytes32 _key) external view returns (uint256) { return uintStorage[_key]; }
    function getString(bytes32 _key) external view returns (string memory) { return stringStorage[_key]; }
    function getBytes(bytes32 _key) external view returns (bytes memory) { return bytesStorage[_key]; }
    function getBool(bytes32 _key) external view returns (bool) { return boolStorage[_key]; }
    function getInt(bytes32 _key) external view returns (int256) { return intStorage[_key]; }
    function getBytes32(bytes32 _key) external view returns (bytes32) { return bytes32Storage[_key]; }

    // Setters.
    function setAddress(bytes32 _key, address _value) external onlyLatestRocketNetworkContract { addressStorage[_key] = _value; }
    function setUint(bytes32 _key, uint256 _value) external onlyLatestRocketNetworkContract { uintStorage[_key] = _value; }
    function setString(bytes32 _key, string calldata _value) external onlyLatestRocketNetworkContract { stringStorage[_key] = _value; }
    function setBytes(bytes32 _key, bytes calldata _value) external onlyLatestRocketNetworkContract { bytesStorage[_key] = _value; }
    function setBool(bytes32 _key, bool _value) external onlyLatestRocketNetworkContract { boolStorage[_key] = _value; }
    function setInt(bytes32 _key, int256 _value) external onlyLatestRocketNetworkContract { intStorage[_key] = _value; }
    function setBytes32(bytes32 _key, bytes32 _value) external onlyLatestRocketNetworkContract { bytes32Storage[_key] = _value; }

    // Deleters.
    function deleteAddress(bytes32 _key) external onlyLatestRocketNetworkContract { delete addressStorage[_key]; }
    function deleteUint(bytes32 _key) external onlyLatestRocketNetworkContract { delete uintStorage[_key]; }
    function deleteString(bytes32 _key) external onlyLatestRocketNetworkContract { delete stringStorage[_key]; }
    function deleteBytes(bytes32 _key) external onlyLatestRocketNetworkContract { delete bytesStorage[_key]; }
    function deleteBool(bytes32 _key) external onlyLatestRocketNetworkContract { delete boolStorage[_key]; }
    function deleteInt(bytes32 _key) external onlyLatestRocketNetworkContract { delete intStorage[_key]; }
    function deleteBytes32(bytes32 _key) external onlyLatestRocketNetworkContract { delete bytes32Storage[_key]; }

    // Arithmetic.
    function addUint(bytes32 _key, uint256 _amount) external onlyLatestRocketNetworkContract { uintStorage[_key] += _amount; }
    function subUint(bytes32 _key, uint256 _amount) external onlyLatestRocketNetworkContract { uintStorage[_key] -= _amount; }
}
