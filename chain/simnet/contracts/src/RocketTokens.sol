// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./RocketBase.sol";

/// @notice Minimal ERC-20 RPL. Minted by the rewards pool at execution and by the guardian for seeding.
contract RocketTokenRPL is RocketBase {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public constant name = "Rocket Pool Protocol";
    string public constant symbol = "RPL";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 private inflationIntervalStartTime;

    constructor(RocketStorage _rocketStorage, uint256 _inflationStartTime) RocketBase(_rocketStorage) {
        inflationIntervalStartTime = _inflationStartTime;
    }

    function getInflationIntervalStartTime() external view returns (uint256) { return inflationIntervalStartTime; }

    function transfer(address _to, uint256 _value) external returns (bool) {
        _transfer(msg.sender, _to, _value);
        return true;
    }

    function approve(address _spender, uint256 _value) external returns (bool) {
        allowance[msg.sender][_spender] = _value;
        emit Approval(msg.sender, _spender, _value);
        return true;
    }

    function transferFrom(address _from, address _to, uint256 _value) external returns (bool) {
        uint256 a = allowance[_from][msg.sender];
        require(a >= _value, "Insufficient allowance");
        if (a != type(uint256).max) {
            allowance[_from][msg.sender] = a - _value;
        }
        _transfer(_from, _to, _value);
        return true;
    }

    /// @notice Mint; only the rewards pool (inflation) or the guardian (seeding).
    function mint(address _to, uint256 _value) external {
        require(msg.sender == getContractAddress("rocketRewardsPool") || isGuardian(msg.sender), "Only the rewards pool can mint");
        require(_to != address(0), "Invalid recipient");
        totalSupply += _value;
        balanceOf[_to] += _value;
        emit Transfer(address(0), _to, _value);
    }

    function _transfer(address _from, address _to, uint256 _value) private {
        require(_to != address(0), "Invalid recipient");
        require(balanceOf[_from] >= _value, "Insufficient balance");
        balanceOf[_from] -= _value;
        balanceOf[_to] += _value;
        emit Transfer(_from, _to, _value);
    }
}

/// @notice rETH stand-in: receives the pool stakers' share.
contract RocketTokenRETH {
    event EtherDeposited(address indexed from, uint256 amount, uint256 time);

    receive() external payable {
        emit EtherDeposited(msg.sender, msg.value, block.timestamp);
    }

    function depositExcessCollateral() external {}
}

/// @notice pDAO treasury stand-in: receives treasury RPL and ETH.
contract RocketClaimDAO {
    event EtherDeposited(address indexed from, uint256 amount, uint256 time);

    receive() external payable {
        emit EtherDeposited(msg.sender, msg.value, block.timestamp);
    }
}

/// @notice The Smoothing Pool: holds priority fees and MEV until the rewards pool withdraws them at execution.
contract RocketSmoothingPool is RocketBase {
    event EtherWithdrawn(string indexed by, address indexed to, uint256 amount, uint256 time);
    event EtherReceived(address indexed from, uint256 amount, uint256 time);

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {}

    receive() external payable {
        emit EtherReceived(msg.sender, msg.value, block.timestamp);
    }

    function withdrawEther(address _to, uint256 _amount) external onlyLatestContract("rocketRewardsPool") {
        require(_amount <= address(this).balance, "Insufficient smoothing pool balance");
        (bool ok, ) = _to.call{value: _amount}("");
        require(ok, "Failed to withdraw ETH");
        emit EtherWithdrawn("rocketRewardsPool", _to, _amount, block.timestamp);
    }
}

/// @notice Network prices: RPL price in ETH (1e18-scaled).
contract RocketNetworkPrices is RocketBase {
    event PricesUpdated(uint256 block, uint256 rplPrice, uint256 time);

    uint256 private rplPrice;
    uint256 private pricesBlock;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {
        rplPrice = 0.01 ether;
    }

    function getRPLPrice() external view returns (uint256) { return rplPrice; }
    function getPricesBlock() external view returns (uint256) { return pricesBlock; }

    /// @notice Simnet: set the RPL price (stands in for the oDAO price consensus).
    function simSetRPLPrice(uint256 _block, uint256 _rplPrice) external onlyGuardian {
        require(_rplPrice > 0, "Invalid RPL price");
        rplPrice = _rplPrice;
        pricesBlock = _block;
        emit PricesUpdated(_block, _rplPrice, block.timestamp);
    }
}

/// @notice Saturn revenue shares (1e18 = 100 %), stored with 1e-5 granularity on mainnet.
contract RocketNetworkRevenues is RocketBase {
    event RevenueSharesUpdated(uint256 nodeShare, uint256 voterShare, uint256 protocolDAOShare, uint256 time);

    uint256 private nodeShare;
    uint256 private voterShare;
    uint256 private pdaoShare;

    constructor(RocketStorage _rocketStorage) RocketBase(_rocketStorage) {
        nodeShare = 0.05 ether;
        voterShare = 0.09 ether;
        pdaoShare = 0;
    }

    function getCurrentNodeShare() external view returns (uint256) { return nodeShare; }
    function getCurrentVoterShare() external view returns (uint256) { return voterShare; }
    function getCurrentProtocolDAOShare() external view returns (uint256) { return pdaoShare; }

    /// @notice Simnet: set the shares (each a multiple of 1e13, i.e. 1e-5 granularity).
    function simSetShares(uint256 _nodeShare, uint256 _voterShare, uint256 _pdaoShare) external onlyGuardian {
        require(_nodeShare % 1e13 == 0 && _voterShare % 1e13 == 0 && _pdaoShare % 1e13 == 0, "Shares must have 1e-5 granularity");
        require(_nodeShare + _voterShare + _pdaoShare <= 1 ether, "Shares exceed 100%");
        nodeShare = _nodeShare;
        voterShare = _voterShare;
        pdaoShare = _pdaoShare;
        emit RevenueSharesUpdated(_nodeShare, _voterShare, _pdaoShare, block.timestamp);
    }
}

/// @notice Multicall3-compatible batched reads (our implementation).
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function aggregate(Call[] calldata _calls) external returns (uint256 blockNumber, bytes[] memory returnData) {
        blockNumber = block.number;
        returnData = new bytes[](_calls.length);
        for (uint256 i = 0; i < _calls.length; i++) {
            (bool ok, bytes memory ret) = _calls[i].target.call(_calls[i].callData);
            require(ok, "Multicall3: call failed");
            returnData[i] = ret;
        }
    }

    function aggregate3(Call3[] calldata _calls) external returns (Result[] memory returnData) {
        returnData = new Result[](_calls.length);
        for (uint256 i = 0; i < _calls.length; i++) {
            (bool ok, bytes memory ret) = _calls[i].target.call(_calls[i].callData);
            require(ok || _calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    function tryAggregate(bool _requireSuccess, Call[] calldata _calls) external returns (Result[] memory returnData) {
        returnData = new Result[](_calls.length);
        for (uint256 i = 0; i < _calls.length; i++) {
            (bool ok, bytes memory ret) = _calls[i].target.call(_calls[i].callData);
            require(ok || !_requireSuccess, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    function getBlockNumber() external view returns (uint256) { return block.number; }
    function getCurrentBlockTimestamp() external view returns (uint256) { return block.timestamp; }
    function getEthBalance(address _addr) external view returns (uint256) { return _addr.balance; }
    function getBlockHash(uint256 _blockNumber) external view returns (bytes32) { return blockhash(_blockNumber); }
    function getChainId() external view returns (uint256) { return block.chainid; }
}
