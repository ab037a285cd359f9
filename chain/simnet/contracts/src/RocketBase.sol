// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketStorage.sol";

interface IRocketDAONodeTrustedView {
    function getMemberIsValid(address _nodeAddress) external view returns (bool);
    function getMemberCount() external view returns (uint256);
}

/// @notice Common plumbing: the storage registry, contract lookups and access modifiers.
abstract contract RocketBase {
    RocketStorage internal immutable rocketStorage;

    constructor(RocketStorage _rocketStorageAddress) {
        rocketStorage = _rocketStorageAddress;
    }

    function getContractAddress(string memory _contractName) internal view returns (address) {
        address a = rocketStorage.getAddress(keccak256(abi.encodePacked("contract.address", _contractName)));
        require(a != address(0), "Contract not found");
        return a;
    }

    function isGuardian(address _account) internal view returns (bool) {
        return _account == rocketStorage.getGuardian();
    }

    function isTrustedNode(address _account) internal view returns (bool) {
        return IRocketDAONodeTrustedView(getContractAddress("rocketDAONodeTrusted")).getMemberIsValid(_account);
    }

    function trustedMemberCount() internal view returns (uint256) {
        return IRocketDAONodeTrustedView(getContractAddress("rocketDAONodeTrusted")).getMemberCount();
    }

    modifier onlyGuardian() {
        require(isGuardian(msg.sender), "Account is not a temporary guardian");
        _;
    }

    modifier onlyLatestContract(string memory _contractName) {
        require(msg.sender == getContractAddress(_contractName), "Invalid or outdated contract");
        _;
    }

    modifier onlyTrustedNode() {
        require(isTrustedNode(msg.sender), "Invalid trusted node");
        _;
    }

    /// @dev 1e18 * votes / members >= threshold, with no members meaning no consensus.
    function consensusReached(uint256 _votes, uint256 _threshold) internal view returns (bool) {
        uint256 members = trustedMemberCount();
        if (members == 0) {
            return false;
        }
        return (_votes * 1 ether) / members >= _threshold;
    }
}
