// Package config loads the configuration of `watchtower run`: defaults, then a YAML file, then the environment
// (WATCHTOWER_<KEY>: the key's path upper-cased with "." and "-" as "_"), then command-line flags
// (--<key path with "." as "-">). Keys are the YAML paths of Config (see deploy/config/watchtower.example.yaml).
// Secrets are never values: only paths to files.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Config is the daemon's configuration.
type Config struct {
	Network      string    `yaml:"network" desc:"mainnet, testnet or devnet"`
	Ruleset      int       `yaml:"ruleset" desc:"ruleset override (0: by network and index)"`
	DataDir      string    `yaml:"data-dir" desc:"duty state and scan store directory"`
	OutputDir    string    `yaml:"output-dir" desc:"rewards files directory (default <data-dir>/rewards)"`
	Execution    Execution `yaml:"execution"`
	Beacon       Beacon    `yaml:"beacon"`
	Contracts    Contracts `yaml:"contracts"`
	Wallet       Wallet    `yaml:"wallet"`
	GenerateOnly bool      `yaml:"generate-only" desc:"generate trees without voting"`
	CatchUp      bool      `yaml:"catch-up" desc:"generate the previous interval if it was executed before this member generated it"`
	Tx           Tx        `yaml:"tx"`
	IPFS         IPFS      `yaml:"ipfs"`
	Megapool     Megapool  `yaml:"megapool"`
	Defection    Defection `yaml:"defection"`
	Metrics      Metrics   `yaml:"metrics"`
	Log          Log       `yaml:"log"`
	// TickPeriod is how often the rewards duty runs.
	TickPeriod time.Duration `yaml:"tick-period" desc:"how often the rewards duty runs"`
	// ScanAheadEvery: scan the running interval's finalized epochs ahead of its end every N new epochs.
	ScanAheadEvery uint64 `yaml:"scan-ahead-every" desc:"scan the running interval's finalized epochs into the scan store whenever N new epochs are finalized (0: only at the interval's end)"`
}

type Execution struct {
	URL string `yaml:"url" desc:"execution client JSON-RPC URL"`
}

type Beacon struct {
	URLs []string `yaml:"urls" desc:"beacon node URLs (comma-separated)"`
}

type Contracts struct {
	RocketStorage string `yaml:"rocket-storage" desc:"RocketStorage address"`
	Multicall3    string `yaml:"multicall3" desc:"Multicall3 address"`
}

type Wallet struct {
	Keystore     string `yaml:"keystore" desc:"encrypted keystore file (none: dry-run)"`
	PasswordFile string `yaml:"password-file" desc:"file holding the keystore password"`
	From         string `yaml:"from" desc:"member address for dry-run mode"`
}

type Tx struct {
	MaxFeeGwei         float64       `yaml:"max-fee-gwei" desc:"cap of maxFeePerGas (gwei)"`
	MaxPriorityFeeGwei float64       `yaml:"max-priority-fee-gwei" desc:"cap of the priority fee (gwei)"`
	BumpAfterBlocks    uint64        `yaml:"bump-after-blocks" desc:"replace a transaction not mined within N blocks"`
	BumpPercent        uint64        `yaml:"bump-percent" desc:"fee bump of a replacement (>= 10)"`
	Timeout            time.Duration `yaml:"timeout" desc:"give up tracking a transaction after this long"`
	PollInterval       time.Duration `yaml:"poll-interval" desc:"receipt polling interval"`
}

type IPFS struct {
	API      string        `yaml:"api" desc:"kubo RPC API URL (empty: no pinning)"`
	Attempts int           `yaml:"attempts" desc:"pin attempts per artefact"`
	Deadline time.Duration `yaml:"deadline" desc:"give up pinning an artefact after this long"`
}

type Megapool struct {
	Enabled    bool `yaml:"enabled" desc:"challenge megapool validators whose exit was not notified in time (once per epoch)"`
	ReportOnly bool `yaml:"report-only" desc:"select and log overdue megapool validators without sending challenges"`
}

type Defection struct {
	Enabled      bool   `yaml:"enabled" desc:"check protocol validators' proposals for fee-recipient defection (report and metrics)"`
	PenaltyVotes bool   `yaml:"penalty-votes" desc:"vote penalties for detected defections (off by default)"`
	MegapoolWei  string `yaml:"megapool-penalty-wei" desc:"penalty voted for a megapool defection whose builder payment is not identifiable (wei)"`
}

type Metrics struct {
	Listen           string        `yaml:"listen" desc:"/metrics and /healthz listen address"`
	AllowNonLoopback bool          `yaml:"allow-non-loopback" desc:"allow a non-loopback metrics address"`
	DutyMaxAge       time.Duration `yaml:"duty-max-age" desc:"/healthz fails when the rewards duty has not completed a cycle for this long"`
}

type Log struct {
	Level  string `yaml:"level" desc:"trace, debug, info, warn or error"`
	Format string `yaml:"format" desc:"json or console"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Network: "mainnet", CatchUp: true, TickPeriod: time.Minute, ScanAheadEvery: 1,
		Tx:        Tx{MaxFeeGwei: 100, MaxPriorityFeeGwei: 1, BumpAfterBlocks: 3, BumpPercent: 20, Timeout: 30 * time.Minute, PollInterval: 6 * time.Second},
		IPFS:      IPFS{Attempts: 8, Deadline: 30 * time.Minute},
		Megapool:  Megapool{Enabled: true},
		Defection: Defection{Enabled: true},
		Metrics:   Metrics{Listen: "127.0.0.1:9104", DutyMaxAge: 15 * time.Minute},
		Log:       Log{Level: "info", Format: "json"},
		Contracts: Contracts{Multicall3: "0xcA11bde05977b3631167028862bE2a173976CA11"},
	}
}

// field is one configuration key.
type field struct {
	key  string
	desc string
	v    reflect.Value
}

func fields(c *Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("yaml")
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			if f.Type.Kind() == reflect.Struct {
				walk(key, v.Field(i))
				continue
			}
			out = append(out, field{key: key, desc: f.Tag.Get("desc"), v: v.Field(i)})
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

// EnvName is the environment variable of a key.
func EnvName(key string) string {
	return "WATCHTOWER_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(key))
}

// FlagName is the command-line flag of a key.
func FlagName(key string) string { return strings.ReplaceAll(key, ".", "-") }

func set(f field, s string) error {
	v := f.v
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration: %w", f.key, s, err)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean", f.key, s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", f.key, s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a non-negative integer", f.key, s)
		}
		v.SetUint(n)
	case v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", f.key, s)
		}
		v.SetFloat(x)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("%s: unsupported type %s", f.key, v.Type())
	}
	return nil
}

// Keys lists every key, sorted.
func Keys() []string {
	c := Default()
	var out []string
	for _, f := range fields(&c) {
		out = append(out, f.key)
	}
	sort.Strings(out)
	return out
}

// RegisterFlags adds one string flag per key (parsed by Load, so flags take every type as text) plus --config.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file")
	c := Default()
	for _, f := range fields(&c) {
		fs.String(FlagName(f.key), "", f.desc+" (env "+EnvName(f.key)+")")
	}
}

// Load builds the configuration: defaults < file (--config, or env WATCHTOWER_CONFIG) < environment < flags.
// getenv is os.Getenv in production. fs may be nil.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	path := getenv("WATCHTOWER_CONFIG")
	if fs != nil {
		if p, err := fs.GetString("config"); err == nil && fs.Changed("config") {
			path = p
		}
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("parse config file %s: %w", path, err)
		}
	}
	for _, f := range fields(&c) {
		if s, ok := lookup(getenv, EnvName(f.key)); ok {
			if err := set(f, s); err != nil {
				return nil, fmt.Errorf("environment %s: %w", EnvName(f.key), err)
			}
		}
	}
	if fs != nil {
		for _, f := range fields(&c) {
			if fs.Changed(FlagName(f.key)) {
				s, _ := fs.GetString(FlagName(f.key))
				if err := set(f, s); err != nil {
					return nil, fmt.Errorf("flag --%s: %w", FlagName(f.key), err)
				}
			}
		}
	}
	if c.OutputDir == "" && c.DataDir != "" {
		c.OutputDir = c.DataDir + string(os.PathSeparator) + "rewards"
	}
	return &c, c.Validate()
}

func lookup(getenv func(string) string, name string) (string, bool) {
	s := getenv(name)
	return s, s != ""
}

// Validate checks the configuration and names the key that is wrong.
func (c *Config) Validate() error {
	switch c.Network {
	case "mainnet", "testnet", "devnet":
	default:
		return fmt.Errorf("network: %q is not mainnet, testnet or devnet", c.Network)
	}
	if c.DataDir == "" {
		return errors.New("data-dir: required")
	}
	if err := checkURL("execution.url", c.Execution.URL); err != nil {
		return err
	}
	if len(c.Beacon.URLs) == 0 {
		return errors.New("beacon.urls: at least one beacon node URL is required")
	}
	for _, u := range c.Beacon.URLs {
		if err := checkURL("beacon.urls", u); err != nil {
			return err
		}
	}
	if !common.IsHexAddress(c.Contracts.RocketStorage) {
		return fmt.Errorf("contracts.rocket-storage: %q is not an address", c.Contracts.RocketStorage)
	}
	if c.Contracts.Multicall3 != "" && !common.IsHexAddress(c.Contracts.Multicall3) {
		return fmt.Errorf("contracts.multicall3: %q is not an address", c.Contracts.Multicall3)
	}
	if (c.Wallet.Keystore == "") != (c.Wallet.PasswordFile == "") {
		return errors.New("wallet.keystore and wallet.password-file: set both or neither")
	}
	if c.Wallet.From != "" && !common.IsHexAddress(c.Wallet.From) {
		return fmt.Errorf("wallet.from: %q is not an address", c.Wallet.From)
	}
	if c.Tx.MaxFeeGwei <= 0 || c.Tx.MaxPriorityFeeGwei < 0 || c.Tx.MaxPriorityFeeGwei > c.Tx.MaxFeeGwei {
		return errors.New("tx.max-fee-gwei / tx.max-priority-fee-gwei: need 0 <= priority fee <= max fee, max fee > 0")
	}
	if c.Tx.BumpPercent < 10 {
		return errors.New("tx.bump-percent: must be at least 10")
	}
	if c.Tx.BumpAfterBlocks == 0 || c.Tx.Timeout <= 0 || c.Tx.PollInterval <= 0 {
		return errors.New("tx.bump-after-blocks, tx.timeout, tx.poll-interval: must be positive")
	}
	if c.IPFS.API != "" {
		if err := checkURL("ipfs.api", c.IPFS.API); err != nil {
			return err
		}
	}
	if c.TickPeriod <= 0 {
		return errors.New("tick-period: must be positive")
	}
	if c.Defection.MegapoolWei != "" {
		if _, err := c.Defection.MegapoolPenalty(); err != nil {
			return err
		}
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return fmt.Errorf("log.format: %q is not json or console", c.Log.Format)
	}
	return nil
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		return fmt.Errorf("%s: %q is not an http(s) or ws(s) URL", key, s)
	}
	return nil
}

// MegapoolPenalty returns defection.megapool-penalty-wei (nil when unset).
func (d Defection) MegapoolPenalty() (*big.Int, error) {
	if d.MegapoolWei == "" {
		return nil, nil
	}
	x, ok := new(big.Int).SetString(d.MegapoolWei, 10)
	if !ok || x.Sign() <= 0 {
		return nil, fmt.Errorf("defection.megapool-penalty-wei: %q is not a positive decimal wei amount", d.MegapoolWei)
	}
	return x, nil
}

// Gwei converts a gwei amount to wei exactly for amounts with up to 9 decimals (the string form is parsed,
// never float arithmetic on wei).
func Gwei(g float64) *big.Int {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(g, 'f', 9, 64))
	if !ok {
		return new(big.Int)
	}
	r.Mul(r, new(big.Rat).SetInt64(1_000_000_000))
	return new(big.Int).Quo(r.Num(), r.Denom())
}
