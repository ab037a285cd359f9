//go:build ignore

// gen compiles src/*.sol with solcjs 0.8.37 (standard JSON, optimizer on, via-IR, EVM cancun), writes
// artifacts/<Name>.abi and artifacts/<Name>.bin for every deployable contract, and generates abigen (v1)
// bindings into bindings/bindings.go with the abigen library of the pinned go-ethereum module.
//
// Run with `go generate ./chain/simnet/contracts/` (needs node and npm). The compiler is installed on first use into
// the git-ignored folder .solc/. Building the module never needs this step: artefacts and bindings are committed.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi/abigen"
)

const (
	solcVersion = "0.8.37"
	evmVersion  = "cancun"
	optRuns     = 200
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	solcjs, err := ensureSolc()
	if err != nil {
		return err
	}
	input, err := standardInput()
	if err != nil {
		return err
	}
	// solcjs exits before a pipe is drained on large outputs, so it writes to a file.
	outFile, err := os.CreateTemp("", "solc-out-*.json")
	if err != nil {
		return fmt.Errorf("create solc output file: %w", err)
	}
	defer os.Remove(outFile.Name())
	defer outFile.Close()
	cmd := exec.Command(solcjs, "--standard-json")
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = outFile
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run solcjs: %w: %s", err, stderr.String())
	}
	out, err := os.ReadFile(outFile.Name())
	if err != nil {
		return fmt.Errorf("read solc output: %w", err)
	}
	// solcjs may print notices before the JSON document.
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	var result struct {
		Errors []struct {
			Severity         string `json:"severity"`
			FormattedMessage string `json:"formattedMessage"`
		} `json:"errors"`
		Contracts map[string]map[string]struct {
			ABI json.RawMessage `json:"abi"`
			EVM struct {
				Bytecode struct {
					Object string `json:"object"`
				} `json:"bytecode"`
				MethodIdentifiers map[string]string `json:"methodIdentifiers"`
			} `json:"evm"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(out, &result); err != nil {
		return fmt.Errorf("decode solcjs output: %w", err)
	}
	failed := false
	for _, e := range result.Errors {
		fmt.Fprintln(os.Stderr, e.FormattedMessage)
		if e.Severity == "error" {
			failed = true
		}
	}
	if failed {
		return fmt.Errorf("compilation failed")
	}

	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		return fmt.Errorf("create artifacts dir: %w", err)
	}
	type compiled struct {
		name, abi, bin string
		sigs           map[string]string
	}
	var all []compiled
	for _, contracts := range result.Contracts {
		for name, c := range contracts {
			if c.EVM.Bytecode.Object == "" {
				continue // interfaces and abstract contracts
			}
			var abiBuf bytes.Buffer
			if err := json.Indent(&abiBuf, c.ABI, "", "  "); err != nil {
				return fmt.Errorf("format abi of %s: %w", name, err)
			}
			sigs := make(map[string]string, len(c.EVM.MethodIdentifiers))
			for sig, id := range c.EVM.MethodIdentifiers {
				sigs[id] = sig
			}
			all = append(all, compiled{name: name, abi: abiBuf.String(), bin: c.EVM.Bytecode.Object, sigs: sigs})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	var types, abis, bins []string
	var fsigs []map[string]string
	for _, c := range all {
		if err := writeFile(filepath.Join("artifacts", c.name+".abi"), []byte(c.abi+"\n")); err != nil {
			return err
		}
		if err := writeFile(filepath.Join("artifacts", c.name+".bin"), []byte(c.bin+"\n")); err != nil {
			return err
		}
		types = append(types, c.name)
		abis = append(abis, c.abi)
		bins = append(bins, "0x"+c.bin)
		fsigs = append(fsigs, c.sigs)
	}
	code, err := abigen.Bind(types, abis, bins, fsigs, "bindings", map[string]string{}, map[string]string{})
	if err != nil {
		return fmt.Errorf("generate bindings: %w", err)
	}
	if err := os.MkdirAll("bindings", 0o755); err != nil {
		return fmt.Errorf("create bindings dir: %w", err)
	}
	if err := writeFile(filepath.Join("bindings", "bindings.go"), []byte(code)); err != nil {
		return err
	}
	fmt.Printf("gen: %d contracts compiled with solc %s, bindings written\n", len(all), solcVersion)
	return nil
}

// ensureSolc installs solc from npm into .solc/ when it is missing and returns the solcjs path.
func ensureSolc() (string, error) {
	solcjs := filepath.Join(".solc", "node_modules", ".bin", "solcjs")
	if out, err := exec.Command(solcjs, "--version").Output(); err == nil && strings.HasPrefix(string(out), solcVersion+"+") {
		return solcjs, nil
	}
	if err := os.MkdirAll(".solc", 0o755); err != nil {
		return "", fmt.Errorf("create .solc: %w", err)
	}
	if err := os.WriteFile(filepath.Join(".solc", "package.json"), []byte(`{"name":"simnet-solc","private":true}`+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write .solc/package.json: %w", err)
	}
	cmd := exec.Command("npm", "install", "--prefix", ".solc", "solc@"+solcVersion)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install solc@%s: %w", solcVersion, err)
	}
	out, err := exec.Command(solcjs, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), solcVersion+"+") {
		return "", fmt.Errorf("solcjs %s not usable after install (got %q): %v", solcVersion, out, err)
	}
	return solcjs, nil
}

// standardInput builds the solc standard-JSON input from src/*.sol in name order.
func standardInput() ([]byte, error) {
	files, err := filepath.Glob(filepath.Join("src", "*.sol"))
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Solidity sources in src/")
	}
	sort.Strings(files)
	sources := make(map[string]map[string]string, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		sources[filepath.Base(f)] = map[string]string{"content": string(b)}
	}
	input := map[string]any{
		"language": "Solidity",
		"sources":  sources,
		"settings": map[string]any{
			"optimizer":  map[string]any{"enabled": true, "runs": optRuns},
			"viaIR":      true,
			"evmVersion": evmVersion,
			"metadata":   map[string]any{"bytecodeHash": "none"},
			"outputSelection": map[string]any{
				"*": map[string]any{"*": []string{"abi", "evm.bytecode.object", "evm.methodIdentifiers"}},
			},
		},
	}
	b, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("encode solc input: %w", err)
	}
	return b, nil
}

// writeFile writes through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
