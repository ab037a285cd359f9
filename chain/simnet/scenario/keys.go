package scenario

import (
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
)

// GuardianName is the account name of the deployer/guardian.
const GuardianName = "guardian"

// Account is a derived EL account.
type Account struct {
	Name    string
	Key     *ecdsa.PrivateKey
	Address common.Address
}

// DeriveKey returns the private key of a named account: keccak256("odaowatch simnet account" ‖ seed(8 bytes BE) ‖
// name), re-hashed in the (negligible) case it is not a valid secp256k1 scalar. Test networks only.
func DeriveKey(seed uint64, name string) (*ecdsa.PrivateKey, error) {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seed)
	h := crypto.Keccak256([]byte("odaowatch simnet account"), s[:], []byte(name))
	for i := 0; i < 16; i++ {
		k, err := crypto.ToECDSA(h)
		if err == nil {
			return k, nil
		}
		h = crypto.Keccak256(h)
	}
	return nil, fmt.Errorf("derive key for %q: no valid scalar", name)
}

func (s *Scenario) account(name string) (Account, error) {
	k, err := DeriveKey(s.Seed, name)
	if err != nil {
		return Account{}, err
	}
	return Account{Name: name, Key: k, Address: crypto.PubkeyToAddress(k.PublicKey)}, nil
}

// Guardian returns the deployer account.
func (s *Scenario) Guardian() (Account, error) { return s.account(GuardianName) }

// MemberAccounts returns the oDAO members' accounts in scenario order.
func (s *Scenario) MemberAccounts() ([]Account, error) {
	out := make([]Account, len(s.ODAO))
	for i, m := range s.ODAO {
		a, err := s.account(m.Name)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// NodeAccounts returns the node operators' accounts in scenario order.
func (s *Scenario) NodeAccounts() ([]Account, error) {
	out := make([]Account, len(s.Nodes))
	for i, n := range s.Nodes {
		a, err := s.account(n.Name)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// GenesisAlloc funds the guardian (for seeding and Smoothing Pool income) and every member and node.
func (s *Scenario) GenesisAlloc() (types.GenesisAlloc, error) {
	g, err := s.Guardian()
	if err != nil {
		return nil, err
	}
	members, err := s.MemberAccounts()
	if err != nil {
		return nil, err
	}
	nodes, err := s.NodeAccounts()
	if err != nil {
		return nil, err
	}
	perAccount := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	guardianFunds := new(big.Int).Mul(big.NewInt(10_000_000), big.NewInt(1e18))
	alloc := types.GenesisAlloc{g.Address: {Balance: guardianFunds}}
	for _, a := range append(members, nodes...) {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(perAccount)}
	}
	return alloc, nil
}

// WriteKeystores writes one Web3 Secret Storage (scrypt) keystore file per oDAO member into dir, encrypted with
// password, and returns the file paths in member order. File names are "<member name>.json".
func (s *Scenario) WriteKeystores(dir, password string) ([]string, error) {
	members, err := s.MemberAccounts()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create keystore dir: %w", err)
	}
	paths := make([]string, len(members))
	for i, m := range members {
		if strings.ContainsAny(m.Name, `/\`) {
			return nil, fmt.Errorf("write keystore: member name %q contains a path separator", m.Name)
		}
		key := &keystore.Key{
			Id:         uuid.NewSHA1(uuid.NameSpaceOID, m.Address.Bytes()),
			Address:    m.Address,
			PrivateKey: m.Key,
		}
		data, err := keystore.EncryptKey(key, password, keystore.LightScryptN, keystore.LightScryptP)
		if err != nil {
			return nil, fmt.Errorf("encrypt keystore of %s: %w", m.Name, err)
		}
		p := filepath.Join(dir, m.Name+".json")
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return nil, fmt.Errorf("write keystore of %s: %w", m.Name, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return nil, fmt.Errorf("rename keystore of %s: %w", m.Name, err)
		}
		paths[i] = p
	}
	return paths, nil
}

// parsePubkey decodes a 0x-hex 48-byte BLS pubkey.
func parsePubkey(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return nil, fmt.Errorf("pubkey %q: %w", s, err)
	}
	if len(b) != 48 {
		return nil, fmt.Errorf("pubkey %q has %d bytes, want 48", s, len(b))
	}
	return b, nil
}
