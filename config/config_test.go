package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExampleConfigLoads(t *testing.T) {
	// The deploy example documents every key; it must parse with strict known fields.
	p := filepath.Join("..", "deploy", "config", "watchtower.example.yaml")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("example config not present: %v", err)
	}
	c, err := Load(nil, env(map[string]string{"WATCHTOWER_CONFIG": p}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Network != "mainnet" || c.Execution.URL != "http://127.0.0.1:8545" || len(c.Beacon.URLs) != 1 || c.Tx.BumpAfterBlocks != 3 ||
		c.Tx.Timeout != 30*time.Minute || c.Wallet.PasswordFile != "/etc/watchtower/password" || !c.CatchUp {
		t.Fatalf("example config read as %+v", c)
	}
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const base = `
network: devnet
data-dir: /tmp/wt
execution: {url: "http://127.0.0.1:8545"}
beacon: {urls: ["http://127.0.0.1:5052"]}
contracts: {rocket-storage: "0x1d8f8f00cfa6758d7bE78336684788Fb0ee0Fa46"}
tx: {bump-percent: 25}
`

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	p := write(t, base)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", p, "--tx-bump-percent", "30", "--beacon-urls", "http://a:1,http://b:2"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, env(map[string]string{"WATCHTOWER_TX_BUMP_PERCENT": "40", "WATCHTOWER_TX_TIMEOUT": "2m", "WATCHTOWER_METRICS_LISTEN": "127.0.0.1:9999"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tx.BumpPercent != 30 { // flag beats env (40) and file (25)
		t.Fatalf("bump percent %d, want 30", c.Tx.BumpPercent)
	}
	if c.Tx.Timeout != 2*time.Minute || c.Metrics.Listen != "127.0.0.1:9999" { // env beats default
		t.Fatalf("env not applied: %v %s", c.Tx.Timeout, c.Metrics.Listen)
	}
	if len(c.Beacon.URLs) != 2 || c.Beacon.URLs[1] != "http://b:2" {
		t.Fatalf("beacon urls %v", c.Beacon.URLs)
	}
	if c.OutputDir != filepath.Join("/tmp/wt", "rewards") {
		t.Fatalf("output dir %q", c.OutputDir)
	}
	// file beats default
	c, err = Load(nil, env(map[string]string{"WATCHTOWER_CONFIG": p}))
	if err != nil || c.Tx.BumpPercent != 25 {
		t.Fatalf("file: %v %v", c, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	p := write(t, base)
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad duration":  {map[string]string{"WATCHTOWER_TX_TIMEOUT": "soon"}, "tx.timeout"},
		"bad network":   {map[string]string{"WATCHTOWER_NETWORK": "moon"}, "network"},
		"bad address":   {map[string]string{"WATCHTOWER_CONTRACTS_ROCKET_STORAGE": "0x12"}, "contracts.rocket-storage"},
		"half a wallet": {map[string]string{"WATCHTOWER_WALLET_KEYSTORE": "/k.json"}, "wallet.keystore"},
		"low bump":      {map[string]string{"WATCHTOWER_TX_BUMP_PERCENT": "5"}, "tx.bump-percent"},
		"bad url":       {map[string]string{"WATCHTOWER_EXECUTION_URL": "localhost"}, "execution.url"},
	} {
		e := tc.env
		e["WATCHTOWER_CONFIG"] = p
		_, err := Load(nil, env(e))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v does not name %s", name, err, tc.want)
		}
	}
	if _, err := Load(nil, env(map[string]string{"WATCHTOWER_CONFIG": write(t, base+"unknown-key: 1\n")})); err == nil {
		t.Error("unknown YAML key accepted")
	}
}

func TestKeysAndNames(t *testing.T) {
	if EnvName("wallet.password-file") != "WATCHTOWER_WALLET_PASSWORD_FILE" || FlagName("wallet.password-file") != "wallet-password-file" {
		t.Fatal("name mapping")
	}
	keys := strings.Join(Keys(), " ")
	for _, k := range []string{"execution.url", "beacon.urls", "metrics.allow-non-loopback", "ipfs.api", "tx.max-fee-gwei"} {
		if !strings.Contains(keys, k) {
			t.Errorf("key %s missing", k)
		}
	}
}

func TestGwei(t *testing.T) {
	// 1.5 gwei = 1 500 000 000 wei; 0.01 gwei = 10 000 000 wei.
	if Gwei(1.5).String() != "1500000000" || Gwei(0.01).String() != "10000000" || Gwei(100).String() != "100000000000" {
		t.Fatalf("%s %s %s", Gwei(1.5), Gwei(0.01), Gwei(100))
	}
}
