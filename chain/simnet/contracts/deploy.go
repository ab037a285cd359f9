package contracts

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/odaowatch/watchtower/chain/simnet/contracts/bindings"
)

// Registry names (RocketStorage "contract.address" + name), as on mainnet.
const (
	NameTokenRPL                      = "rocketTokenRPL"
	NameTokenRETH                     = "rocketTokenRETH"
	NameClaimDAO                      = "rocketClaimDAO"
	NameDAONodeTrusted                = "rocketDAONodeTrusted"
	NameDAONodeTrustedSettingsRewards = "rocketDAONodeTrustedSettingsRewards"
	NameDAOProtocolSettingsNetwork    = "rocketDAOProtocolSettingsNetwork"
	NameDAOProtocolSettingsNode       = "rocketDAOProtocolSettingsNode"
	NameDAOProtocolSettingsMegapool   = "rocketDAOProtocolSettingsMegapool"
	NameNetworkPrices                 = "rocketNetworkPrices"
	NameNetworkRevenues               = "rocketNetworkRevenues"
	NameNetworkPenalties              = "rocketNetworkPenalties"
	NameNodeManager                   = "rocketNodeManager"
	NameNodeStaking                   = "rocketNodeStaking"
	NameNodeDistributorFactory        = "rocketNodeDistributorFactory"
	NameMinipoolManager               = "rocketMinipoolManager"
	NameMinipoolBondReducer           = "rocketMinipoolBondReducer"
	NameSmoothingPool                 = "rocketSmoothingPool"
	NameRewardsPool                   = "rocketRewardsPool"
	NameMerkleDistributorMainnet      = "rocketMerkleDistributorMainnet"
	NameMegapoolFactory               = "rocketMegapoolFactory"
	NameMegapoolManager               = "rocketMegapoolManager"
	NameMegapoolPenalties             = "rocketMegapoolPenalties"
	defaultGasLimitRegistrationTx     = 200_000
)

// ContractAddressKey is the RocketStorage key of a contract's address:
// keccak256(abi.encodePacked("contract.address", name)).
func ContractAddressKey(name string) common.Hash {
	return crypto.Keccak256Hash([]byte("contract.address"), []byte(name))
}

// ContractExistsKey is the RocketStorage key flagging a registered network contract:
// keccak256(abi.encodePacked("contract.exists", address)).
func ContractExistsKey(addr common.Address) common.Hash {
	return crypto.Keccak256Hash([]byte("contract.exists"), addr.Bytes())
}

// PenaltyCountKey is the RocketStorage key of a minipool's penalty count:
// keccak256(abi.encodePacked("network.penalties.penalty", minipool)).
func PenaltyCountKey(minipool common.Address) common.Hash {
	return crypto.Keccak256Hash([]byte("network.penalties.penalty"), minipool.Bytes())
}

// Backend is what Deploy needs from an execution client: contract calls and transactions, plus receipts.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
}

// Params configures a deployment.
type Params struct {
	// IntervalStart is the rewards pool's claimIntervalTimeStart (unix seconds) and the RPL inflation start.
	IntervalStart uint64
	// IntervalTime is the rewards interval length in seconds (mainnet 28 days). Must be > 0.
	IntervalTime uint64
	// Commit mines pending transactions on backends that do not mine by themselves (the simulated backend's
	// Commit). Nil for auto-mining backends such as geth --dev.
	Commit func()
}

// Deployment is a deployed protocol: every address by registry name plus typed bindings.
type Deployment struct {
	StorageAddress common.Address
	// Addresses maps registry names (NameRewardsPool, …) to addresses.
	Addresses map[string]common.Address
	Multicall common.Address

	Storage                      *bindings.RocketStorage
	TokenRPL                     *bindings.RocketTokenRPL
	DAONodeTrusted               *bindings.RocketDAONodeTrusted
	DAONodeTrustedSettingsReward *bindings.RocketDAONodeTrustedSettingsRewards
	SettingsNetwork              *bindings.RocketDAOProtocolSettingsNetwork
	SettingsNode                 *bindings.RocketDAOProtocolSettingsNode
	SettingsMegapool             *bindings.RocketDAOProtocolSettingsMegapool
	NetworkPrices                *bindings.RocketNetworkPrices
	NetworkRevenues              *bindings.RocketNetworkRevenues
	NetworkPenalties             *bindings.RocketNetworkPenalties
	NodeManager                  *bindings.RocketNodeManager
	NodeStaking                  *bindings.RocketNodeStaking
	NodeDistributorFactory       *bindings.RocketNodeDistributorFactory
	MinipoolManager              *bindings.RocketMinipoolManager
	MinipoolBondReducer          *bindings.RocketMinipoolBondReducer
	SmoothingPool                *bindings.RocketSmoothingPool
	RewardsPool                  *bindings.RocketRewardsPool
	MerkleDistributor            *bindings.RocketMerkleDistributorMainnet
	MegapoolFactory              *bindings.RocketMegapoolFactory
	MegapoolManager              *bindings.RocketMegapoolManager
	MegapoolPenalties            *bindings.RocketMegapoolPenalties
	Multicall3                   *bindings.Multicall3
}

// Names returns the registry names in sorted order.
func (d *Deployment) Names() []string {
	out := make([]string, 0, len(d.Addresses))
	for n := range d.Addresses {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Deploy deploys RocketStorage and every protocol contract, registers them in storage
// ("contract.address" + name and "contract.exists" + address) and returns typed bindings.
// The deployer becomes the guardian, which may seed state through the sim* functions.
func Deploy(ctx context.Context, backend Backend, deployer *bind.TransactOpts, params Params) (*Deployment, error) {
	if backend == nil {
		return nil, errors.New("deploy: no backend")
	}
	if deployer == nil {
		return nil, errors.New("deploy: no deployer transactor")
	}
	if params.IntervalTime == 0 {
		return nil, errors.New("deploy: interval time must be > 0")
	}
	s := &sender{ctx: ctx, backend: backend, from: deployer, commit: params.Commit}
	if err := s.init(); err != nil {
		return nil, err
	}

	// Phase 1: RocketStorage.
	storageAddr, err := s.deploy("RocketStorage", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, _, err := bindings.DeployRocketStorage(o, backend)
		return a, tx, err
	})
	if err != nil {
		return nil, err
	}
	if err := s.flush(); err != nil {
		return nil, err
	}

	// Phase 2: every network contract (constructors only touch their own state).
	start := new(big.Int).SetUint64(params.IntervalStart)
	interval := new(big.Int).SetUint64(params.IntervalTime)
	type deployFn func(o *bind.TransactOpts) (common.Address, *types.Transaction, error)
	wrap := func(f func(*bind.TransactOpts, bind.ContractBackend, common.Address) (common.Address, *types.Transaction, error)) deployFn {
		return func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			return f(o, backend, storageAddr)
		}
	}
	deploys := []struct {
		name string
		fn   deployFn
	}{
		{NameTokenRPL, func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketTokenRPL(o, backend, storageAddr, start)
			return a, tx, err
		}},
		{NameTokenRETH, func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketTokenRETH(o, backend)
			return a, tx, err
		}},
		{NameClaimDAO, func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketClaimDAO(o, backend)
			return a, tx, err
		}},
		{NameDAONodeTrusted, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketDAONodeTrusted(o, b, st)
			return a, tx, err
		})},
		{NameDAONodeTrustedSettingsRewards, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketDAONodeTrustedSettingsRewards(o, b, st)
			return a, tx, err
		})},
		{NameDAOProtocolSettingsNetwork, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketDAOProtocolSettingsNetwork(o, b, st)
			return a, tx, err
		})},
		{NameDAOProtocolSettingsNode, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketDAOProtocolSettingsNode(o, b, st)
			return a, tx, err
		})},
		{NameDAOProtocolSettingsMegapool, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketDAOProtocolSettingsMegapool(o, b, st)
			return a, tx, err
		})},
		{NameNetworkPrices, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNetworkPrices(o, b, st)
			return a, tx, err
		})},
		{NameNetworkRevenues, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNetworkRevenues(o, b, st)
			return a, tx, err
		})},
		{NameNetworkPenalties, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNetworkPenalties(o, b, st)
			return a, tx, err
		})},
		{NameNodeManager, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNodeManager(o, b, st)
			return a, tx, err
		})},
		{NameNodeStaking, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNodeStaking(o, b, st)
			return a, tx, err
		})},
		{NameNodeDistributorFactory, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketNodeDistributorFactory(o, b, st)
			return a, tx, err
		})},
		{NameMinipoolManager, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMinipoolManager(o, b, st)
			return a, tx, err
		})},
		{NameMinipoolBondReducer, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMinipoolBondReducer(o, b, st)
			return a, tx, err
		})},
		{NameSmoothingPool, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketSmoothingPool(o, b, st)
			return a, tx, err
		})},
		{NameRewardsPool, func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketRewardsPool(o, backend, storageAddr, start, interval)
			return a, tx, err
		}},
		{NameMerkleDistributorMainnet, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMerkleDistributorMainnet(o, b, st)
			return a, tx, err
		})},
		{NameMegapoolFactory, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMegapoolFactory(o, b, st)
			return a, tx, err
		})},
		{NameMegapoolManager, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMegapoolManager(o, b, st)
			return a, tx, err
		})},
		{NameMegapoolPenalties, wrap(func(o *bind.TransactOpts, b bind.ContractBackend, st common.Address) (common.Address, *types.Transaction, error) {
			a, tx, _, err := bindings.DeployRocketMegapoolPenalties(o, b, st)
			return a, tx, err
		})},
	}
	addrs := make(map[string]common.Address, len(deploys))
	for _, d := range deploys {
		a, err := s.deploy(d.name, d.fn)
		if err != nil {
			return nil, err
		}
		addrs[d.name] = a
	}
	multicallAddr, err := s.deploy("Multicall3", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, _, err := bindings.DeployMulticall3(o, backend)
		return a, tx, err
	})
	if err != nil {
		return nil, err
	}
	if err := s.flush(); err != nil {
		return nil, err
	}

	// Phase 3: registration in storage, in name order.
	storage, err := bindings.NewRocketStorage(storageAddr, backend)
	if err != nil {
		return nil, fmt.Errorf("bind RocketStorage: %w", err)
	}
	d := &Deployment{StorageAddress: storageAddr, Addresses: addrs, Multicall: multicallAddr, Storage: storage}
	for _, name := range d.Names() {
		a := addrs[name]
		if err := s.send("register "+name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return storage.SetAddress(o, ContractAddressKey(name), a)
		}); err != nil {
			return nil, err
		}
		if err := s.send("flag "+name, func(o *bind.TransactOpts) (*types.Transaction, error) {
			return storage.SetBool(o, ContractExistsKey(a), true)
		}); err != nil {
			return nil, err
		}
	}
	if err := s.send("set deployed status", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return storage.SetDeployedStatus(o)
	}); err != nil {
		return nil, err
	}
	if err := s.flush(); err != nil {
		return nil, err
	}
	if err := d.bind(backend); err != nil {
		return nil, err
	}
	return d, nil
}

// Bind attaches typed bindings to an existing deployment whose RocketStorage is at storageAddr, reading every
// address from the registry.
func Bind(ctx context.Context, backend bind.ContractBackend, storageAddr, multicall common.Address) (*Deployment, error) {
	storage, err := bindings.NewRocketStorage(storageAddr, backend)
	if err != nil {
		return nil, fmt.Errorf("bind RocketStorage: %w", err)
	}
	d := &Deployment{StorageAddress: storageAddr, Addresses: map[string]common.Address{}, Multicall: multicall, Storage: storage}
	for _, name := range allNames {
		a, err := storage.GetAddress(&bind.CallOpts{Context: ctx}, ContractAddressKey(name))
		if err != nil {
			return nil, fmt.Errorf("read address of %s: %w", name, err)
		}
		if a == (common.Address{}) {
			return nil, fmt.Errorf("read address of %s: not registered in storage %s", name, storageAddr.Hex())
		}
		d.Addresses[name] = a
	}
	if err := d.bind(backend); err != nil {
		return nil, err
	}
	return d, nil
}

var allNames = []string{
	NameTokenRPL, NameTokenRETH, NameClaimDAO, NameDAONodeTrusted, NameDAONodeTrustedSettingsRewards,
	NameDAOProtocolSettingsNetwork, NameDAOProtocolSettingsNode, NameDAOProtocolSettingsMegapool, NameNetworkPrices,
	NameNetworkRevenues, NameNetworkPenalties, NameNodeManager, NameNodeStaking, NameNodeDistributorFactory,
	NameMinipoolManager, NameMinipoolBondReducer, NameSmoothingPool, NameRewardsPool, NameMerkleDistributorMainnet,
	NameMegapoolFactory, NameMegapoolManager, NameMegapoolPenalties,
}

func (d *Deployment) bind(b bind.ContractBackend) error {
	var err error
	at := func(name string) common.Address { return d.Addresses[name] }
	steps := []struct {
		name string
		fn   func() error
	}{
		{NameTokenRPL, func() (e error) { d.TokenRPL, e = bindings.NewRocketTokenRPL(at(NameTokenRPL), b); return }},
		{NameDAONodeTrusted, func() (e error) {
			d.DAONodeTrusted, e = bindings.NewRocketDAONodeTrusted(at(NameDAONodeTrusted), b)
			return
		}},
		{NameDAONodeTrustedSettingsRewards, func() (e error) {
			d.DAONodeTrustedSettingsReward, e = bindings.NewRocketDAONodeTrustedSettingsRewards(at(NameDAONodeTrustedSettingsRewards), b)
			return
		}},
		{NameDAOProtocolSettingsNetwork, func() (e error) {
			d.SettingsNetwork, e = bindings.NewRocketDAOProtocolSettingsNetwork(at(NameDAOProtocolSettingsNetwork), b)
			return
		}},
		{NameDAOProtocolSettingsNode, func() (e error) {
			d.SettingsNode, e = bindings.NewRocketDAOProtocolSettingsNode(at(NameDAOProtocolSettingsNode), b)
			return
		}},
		{NameDAOProtocolSettingsMegapool, func() (e error) {
			d.SettingsMegapool, e = bindings.NewRocketDAOProtocolSettingsMegapool(at(NameDAOProtocolSettingsMegapool), b)
			return
		}},
		{NameNetworkPrices, func() (e error) {
			d.NetworkPrices, e = bindings.NewRocketNetworkPrices(at(NameNetworkPrices), b)
			return
		}},
		{NameNetworkRevenues, func() (e error) {
			d.NetworkRevenues, e = bindings.NewRocketNetworkRevenues(at(NameNetworkRevenues), b)
			return
		}},
		{NameNetworkPenalties, func() (e error) {
			d.NetworkPenalties, e = bindings.NewRocketNetworkPenalties(at(NameNetworkPenalties), b)
			return
		}},
		{NameNodeManager, func() (e error) { d.NodeManager, e = bindings.NewRocketNodeManager(at(NameNodeManager), b); return }},
		{NameNodeStaking, func() (e error) { d.NodeStaking, e = bindings.NewRocketNodeStaking(at(NameNodeStaking), b); return }},
		{NameNodeDistributorFactory, func() (e error) {
			d.NodeDistributorFactory, e = bindings.NewRocketNodeDistributorFactory(at(NameNodeDistributorFactory), b)
			return
		}},
		{NameMinipoolManager, func() (e error) {
			d.MinipoolManager, e = bindings.NewRocketMinipoolManager(at(NameMinipoolManager), b)
			return
		}},
		{NameMinipoolBondReducer, func() (e error) {
			d.MinipoolBondReducer, e = bindings.NewRocketMinipoolBondReducer(at(NameMinipoolBondReducer), b)
			return
		}},
		{NameSmoothingPool, func() (e error) {
			d.SmoothingPool, e = bindings.NewRocketSmoothingPool(at(NameSmoothingPool), b)
			return
		}},
		{NameRewardsPool, func() (e error) { d.RewardsPool, e = bindings.NewRocketRewardsPool(at(NameRewardsPool), b); return }},
		{NameMerkleDistributorMainnet, func() (e error) {
			d.MerkleDistributor, e = bindings.NewRocketMerkleDistributorMainnet(at(NameMerkleDistributorMainnet), b)
			return
		}},
		{NameMegapoolFactory, func() (e error) {
			d.MegapoolFactory, e = bindings.NewRocketMegapoolFactory(at(NameMegapoolFactory), b)
			return
		}},
		{NameMegapoolManager, func() (e error) {
			d.MegapoolManager, e = bindings.NewRocketMegapoolManager(at(NameMegapoolManager), b)
			return
		}},
		{NameMegapoolPenalties, func() (e error) {
			d.MegapoolPenalties, e = bindings.NewRocketMegapoolPenalties(at(NameMegapoolPenalties), b)
			return
		}},
		{"Multicall3", func() (e error) { d.Multicall3, e = bindings.NewMulticall3(d.Multicall, b); return }},
	}
	for _, st := range steps {
		if err = st.fn(); err != nil {
			return fmt.Errorf("bind %s: %w", st.name, err)
		}
	}
	return nil
}

// sender sends a batch of transactions with consecutive nonces and waits for all of them after a commit.
type sender struct {
	ctx     context.Context
	backend Backend
	from    *bind.TransactOpts
	commit  func()
	nonce   uint64
	pending []pendingTx
}

type pendingTx struct {
	what string
	tx   *types.Transaction
}

func (s *sender) init() error {
	n, err := s.backend.PendingNonceAt(s.ctx, s.from.From)
	if err != nil {
		return fmt.Errorf("deploy: read deployer nonce: %w", err)
	}
	s.nonce = n
	return nil
}

func (s *sender) opts(gasLimit uint64) *bind.TransactOpts {
	o := *s.from
	o.Context = s.ctx
	o.Nonce = new(big.Int).SetUint64(s.nonce)
	o.GasLimit = gasLimit
	return &o
}

func (s *sender) deploy(what string, fn func(*bind.TransactOpts) (common.Address, *types.Transaction, error)) (common.Address, error) {
	// Constructors read nothing from other contracts, so estimation against the latest state is exact.
	a, tx, err := fn(s.opts(0))
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: %w", what, err)
	}
	s.nonce++
	s.pending = append(s.pending, pendingTx{what: "deploy " + what, tx: tx})
	return a, nil
}

func (s *sender) send(what string, fn func(*bind.TransactOpts) (*types.Transaction, error)) error {
	// Registration writes depend on pending deployments, so they carry a fixed gas limit instead of an estimate.
	tx, err := fn(s.opts(defaultGasLimitRegistrationTx))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	s.nonce++
	s.pending = append(s.pending, pendingTx{what: what, tx: tx})
	return nil
}

// maxCommits bounds how many blocks one flush may mine on a commit-driven backend.
const maxCommits = 16

func (s *sender) flush() error {
	defer func() { s.pending = s.pending[:0] }()
	commits := 0
	if s.commit != nil {
		s.commit()
		commits++
	}
	for _, p := range s.pending {
		var r *types.Receipt
		var err error
		if s.commit == nil {
			r, err = bind.WaitMined(s.ctx, s.backend, p.tx)
		} else {
			// The pool may hand a late transaction to the next block: mine again until it is in.
			for {
				r, err = s.backend.TransactionReceipt(s.ctx, p.tx.Hash())
				if !errors.Is(err, ethereum.NotFound) || commits >= maxCommits {
					break
				}
				s.commit()
				commits++
			}
		}
		if err != nil {
			return fmt.Errorf("%s: wait for receipt: %w", p.what, err)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("%s: transaction %s reverted", p.what, p.tx.Hash().Hex())
		}
	}
	return nil
}
