package txmgr

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs transactions for one account. The private key never leaves it.
type Signer interface {
	Address() common.Address
	SignTx(tx *types.Transaction, chainID *big.Int) (*types.Transaction, error)
}

// keySigner signs with an in-memory ECDSA key. Its String/GoString never print the key.
type keySigner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

// NewKeySigner wraps an ECDSA private key (tests, simulated network).
func NewKeySigner(key *ecdsa.PrivateKey) (Signer, error) {
	if key == nil {
		return nil, errors.New("new key signer: no key")
	}
	return &keySigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}, nil
}

func (s *keySigner) Address() common.Address { return s.addr }

func (s *keySigner) SignTx(tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(chainID), s.key)
	if err != nil {
		return nil, fmt.Errorf("sign transaction: %w", err)
	}
	return signed, nil
}

// String hides the key from any formatting of the signer.
func (s *keySigner) String() string   { return "signer(" + s.addr.Hex() + ")" }
func (s *keySigner) GoString() string { return s.String() }

// LoadKeystoreSigner decrypts a go-ethereum encrypted keystore file (V3 JSON) with the password read from
// passwordFile (trailing newline and carriage return removed). Errors name the files, never their contents.
func LoadKeystoreSigner(keystoreFile, passwordFile string) (Signer, error) {
	keyJSON, err := os.ReadFile(keystoreFile)
	if err != nil {
		return nil, fmt.Errorf("read keystore file %s: %w", keystoreFile, err)
	}
	pw, err := os.ReadFile(passwordFile)
	if err != nil {
		return nil, fmt.Errorf("read password file %s: %w", passwordFile, err)
	}
	password := strings.TrimRight(string(pw), "\r\n")
	key, err := keystore.DecryptKey(keyJSON, password)
	if err != nil {
		// DecryptKey's errors never contain the password; keep ours free of it as well.
		return nil, fmt.Errorf("decrypt keystore file %s with password file %s: %w", keystoreFile, passwordFile, err)
	}
	return NewKeySigner(key.PrivateKey)
}
