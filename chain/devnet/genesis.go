package devnet

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ChainID of the devnet's execution layer (prysmctl's interop genesis).
const ChainID = 1337

// ConfigTemplate is the chain config template, relative to the repository root.
const ConfigTemplate = "deploy/devnet/chain-config.yaml.tmpl"

// Genesis is what a Setup hook learns before any client starts.
type Genesis struct {
	// Time is the beacon genesis time and the EL genesis timestamp (Unix seconds).
	Time           uint64
	SecondsPerSlot uint64
	ChainID        uint64
	// Pubkeys are the interop validators' keys, by validator index.
	Pubkeys []phase0.BLSPubKey
	// Online validators [0, Online) are run by the validator client; the others never attest or propose.
	Online int
}

// SlotTime is the start of slot (Unix seconds).
func (g *Genesis) SlotTime(slot uint64) uint64 { return g.Time + slot*g.SecondsPerSlot }

// Setup is what the hook decides: extra EL genesis accounts and the fee recipients of the validator client.
type Setup struct {
	// Alloc is added to the EL genesis (e.g. funded keys of ours).
	Alloc types.GenesisAlloc
	// FeeRecipients are per-key fee recipients (Prysm's proposer settings); DefaultFeeRecipient is used for
	// the other keys (zero: a fixed placeholder address).
	FeeRecipients       map[phase0.BLSPubKey]common.Address
	DefaultFeeRecipient common.Address
}

// defaultFeeRecipient pays the blocks of keys without a setting (not zero: Prysm warns about a burn address).
var defaultFeeRecipient = common.HexToAddress("0x00000000000000000000000000000000000d0a01")

type chainParams struct {
	Validators     int
	SecondsPerSlot uint64
	SlotDurationMS uint64
	ChainID        uint64
}

func renderChainConfig(root string, p chainParams) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, ConfigTemplate))
	if err != nil {
		return nil, fmt.Errorf("chain config template: %w", err)
	}
	tmpl, err := template.New("chain-config").Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("chain config template %s: %w", ConfigTemplate, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("chain config template %s: %w", ConfigTemplate, err)
	}
	return b.Bytes(), nil
}

// genesisPubkeys reads the validator keys of an SSZ Deneb genesis state.
func genesisPubkeys(path string) ([]phase0.BLSPubKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read genesis state: %w", err)
	}
	var st deneb.BeaconState
	if err := st.UnmarshalSSZ(raw); err != nil {
		return nil, fmt.Errorf("decode genesis state %s: %w", path, err)
	}
	out := make([]phase0.BLSPubKey, len(st.Validators))
	for i, v := range st.Validators {
		out[i] = v.PublicKey
	}
	return out, nil
}

// mergeAlloc adds alloc to the geth genesis JSON written by prysmctl (kept as generic JSON so that no field
// prysmctl wrote is lost) and sets baseFeePerGas, which prysmctl needs in a --geth-genesis-json-in file.
func mergeAlloc(in, out string, alloc types.GenesisAlloc) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read geth genesis: %w", err)
	}
	var g map[string]json.RawMessage
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("decode geth genesis %s: %w", in, err)
	}
	accounts := map[string]json.RawMessage{}
	if a, ok := g["alloc"]; ok && string(a) != "null" {
		if err := json.Unmarshal(a, &accounts); err != nil {
			return fmt.Errorf("decode geth genesis alloc: %w", err)
		}
	}
	existing := map[common.Address]bool{}
	for k := range accounts {
		existing[common.HexToAddress(k)] = true
	}
	addrs := make([]common.Address, 0, len(alloc))
	for a := range alloc {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return bytes.Compare(addrs[i][:], addrs[j][:]) < 0 })
	for _, a := range addrs {
		if existing[a] {
			return fmt.Errorf("geth genesis: account %s is already allocated by prysmctl", a.Hex())
		}
		enc, err := json.Marshal(alloc[a])
		if err != nil {
			return fmt.Errorf("encode genesis account %s: %w", a.Hex(), err)
		}
		accounts[strings.ToLower(strings.TrimPrefix(a.Hex(), "0x"))] = enc
	}
	if g["alloc"], err = json.Marshal(accounts); err != nil {
		return fmt.Errorf("encode geth genesis alloc: %w", err)
	}
	if bf, ok := g["baseFeePerGas"]; !ok || string(bf) == "null" {
		g["baseFeePerGas"] = json.RawMessage(`"0x3b9aca00"`)
	}
	enc, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode geth genesis: %w", err)
	}
	return os.WriteFile(out, enc, 0o644)
}

// proposerSettings is Prysm's --proposer-settings-file (JSON).
func writeProposerSettings(path string, s *Setup) error {
	type option struct {
		FeeRecipient string `json:"fee_recipient"`
	}
	def := s.DefaultFeeRecipient
	if def == (common.Address{}) {
		def = defaultFeeRecipient
	}
	doc := struct {
		ProposerConfig map[string]option `json:"proposer_config,omitempty"`
		DefaultConfig  option            `json:"default_config"`
	}{ProposerConfig: map[string]option{}, DefaultConfig: option{FeeRecipient: def.Hex()}}
	for k, a := range s.FeeRecipients {
		if a == (common.Address{}) {
			return fmt.Errorf("proposer settings: zero fee recipient for %#x", k[:])
		}
		doc.ProposerConfig["0x"+hex.EncodeToString(k[:])] = option{FeeRecipient: a.Hex()}
	}
	enc, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode proposer settings: %w", err)
	}
	return os.WriteFile(path, enc, 0o644)
}

func writeJWT(path string) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("jwt secret: %w", err)
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b[:])), 0o600)
}

// generateGenesis writes config.yaml, genesis.ssz, genesis.json and the geth data dir under dir, consulting
// setup (may be nil) between prysmctl's two runs: the first gives the interop keys, the second the final
// genesis with setup's accounts in the EL alloc.
func (d *Devnet) generateGenesis() (*Genesis, *Setup, error) {
	p := d.p
	cfg, err := renderChainConfig(p.root, chainParams{Validators: p.validators, SecondsPerSlot: p.secondsPerSlot,
		SlotDurationMS: p.secondsPerSlot * 1000, ChainID: ChainID})
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(d.path("config.yaml"), cfg, 0o644); err != nil {
		return nil, nil, fmt.Errorf("write chain config: %w", err)
	}
	gen := func(gt uint64, suffix string, extra ...string) error {
		args := append([]string{"testnet", "generate-genesis", "--fork=deneb", fmt.Sprintf("--num-validators=%d", p.validators),
			fmt.Sprintf("--genesis-time=%d", gt), "--chain-config-file=" + d.path("config.yaml"),
			"--output-ssz=" + d.path("genesis"+suffix+".ssz"), "--geth-genesis-json-out=" + d.path("genesis"+suffix+".json")}, extra...)
		return runLogged("prysmctl", p.bins.Prysmctl, args, d.path("prysmctl.log"), 2*time.Minute)
	}
	// The keys do not depend on the genesis time: the first run uses the present.
	if err := gen(uint64(time.Now().Unix()), "-base"); err != nil {
		return nil, nil, err
	}
	keys, err := genesisPubkeys(d.path("genesis-base.ssz"))
	if err != nil {
		return nil, nil, err
	}
	if len(keys) != p.validators {
		return nil, nil, fmt.Errorf("genesis has %d validators, want %d", len(keys), p.validators)
	}
	// The genesis delay counts from here: what remains before the clients start takes a few seconds.
	gt := uint64(time.Now().Add(p.genesisDelay).Unix())
	g := &Genesis{Time: gt, SecondsPerSlot: p.secondsPerSlot, ChainID: ChainID, Pubkeys: keys, Online: p.validators - p.offline}
	setup := &Setup{}
	if p.setup != nil {
		if setup, err = p.setup(g); err != nil {
			return nil, nil, fmt.Errorf("devnet setup: %w", err)
		}
		if setup == nil {
			setup = &Setup{}
		}
	}
	if err := mergeAlloc(d.path("genesis-base.json"), d.path("genesis-in.json"), setup.Alloc); err != nil {
		return nil, nil, err
	}
	if err := gen(gt, "", "--geth-genesis-json-in="+d.path("genesis-in.json")); err != nil {
		return nil, nil, err
	}
	final, err := genesisPubkeys(d.path("genesis.ssz"))
	if err != nil {
		return nil, nil, err
	}
	for i := range keys {
		if final[i] != keys[i] {
			return nil, nil, fmt.Errorf("prysmctl's second genesis changed validator %d's key", i)
		}
	}
	if err := writeProposerSettings(d.path("proposer-settings.json"), setup); err != nil {
		return nil, nil, err
	}
	if err := writeJWT(d.path("jwt.hex")); err != nil {
		return nil, nil, err
	}
	if err := runLogged("geth init", p.bins.Geth, []string{"--datadir", d.path("geth"), "--state.scheme", "hash", "init", d.path("genesis.json")},
		d.path("geth-init.log"), 2*time.Minute); err != nil {
		return nil, nil, err
	}
	return g, setup, nil
}
